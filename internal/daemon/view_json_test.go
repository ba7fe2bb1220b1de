package daemon

import (
	"encoding/json"
	"fmt"
	"math"
	"testing"

	"pgregory.net/rapid"

	"github.com/crdtd/crdtd/cart"
)

func TestMarshalCartViewMatchesEncodingJSON(t *testing.T) {
	t.Parallel()
	id := rapid.OneOf(
		rapid.StringMatching(`[A-Za-z0-9._:@-]{1,20}`),
		rapid.String(), // outside the ID alphabet: the fallback
	)
	rapid.Check(t, func(t *rapid.T) {
		cartID := id.Draw(t, "cart")
		v := cart.View{Lines: []cart.Line{}, Overflow: rapid.Bool().Draw(t, "overflow")}
		for range rapid.IntRange(0, 5).Draw(t, "lines") {
			v.Lines = append(v.Lines, cart.Line{
				Item:           id.Draw(t, "item"),
				Quantity:       rapid.Uint64Range(0, math.MaxInt64).Draw(t, "qty"),
				UnitPriceCents: rapid.Int64().Draw(t, "price"),
				SubtotalCents:  rapid.Int64().Draw(t, "subtotal"),
				Priced:         rapid.Bool().Draw(t, "priced"),
			})
		}
		v.TotalCents = rapid.Int64().Draw(t, "total")
		v.Unpriced = rapid.IntRange(0, 10_000).Draw(t, "unpriced")
		want, err := json.Marshal(cartView(cartID, v))
		if err != nil {
			t.Fatal(err)
		}
		got, err := marshalCartView(cartID, v)
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != string(want) {
			t.Fatalf("got  %s\nwant %s", got, want)
		}
	})
}

func BenchmarkMarshalCartView(b *testing.B) {
	v := cart.View{}
	for i := range 20 {
		v.Lines = append(v.Lines, cart.Line{Item: fmt.Sprintf("item-%d", i), Quantity: 3, UnitPriceCents: 125, SubtotalCents: 375, Priced: true})
	}
	b.Run("encoding/json", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			_, _ = json.Marshal(cartView("alice", v))
		}
	})
	b.Run("hand-written", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			_, _ = marshalCartView("alice", v)
		}
	})
}
