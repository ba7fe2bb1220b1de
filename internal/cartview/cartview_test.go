package cartview

import (
	"encoding/json"
	"testing"

	"github.com/crdtd/crdtd/cart"
)

func TestOf(t *testing.T) {
	tests := []struct {
		name string
		v    cart.View
		want string
	}{
		{"empty", cart.View{}, `{"cart":"c","items":[],"total_cents":0,"unpriced_items":0}`},
		{"priced and unpriced", cart.View{
			Lines: []cart.Line{
				{Item: "apple", Quantity: 2, UnitPriceCents: 125, SubtotalCents: 250, Priced: true},
				{Item: "fig", Quantity: 3},
			},
			TotalCents: 250, Unpriced: 1,
		}, `{"cart":"c","items":[{"item":"apple","quantity":2,"unit_price_cents":125,"subtotal_cents":250},` +
			`{"item":"fig","quantity":3,"unit_price_cents":null,"subtotal_cents":null}],"total_cents":250,"unpriced_items":1}`},
		{"overflow", cart.View{Overflow: true}, `{"cart":"c","items":[],"total_cents":0,"unpriced_items":0,"overflow":true}`},
	}
	for _, tt := range tests {
		b, err := json.Marshal(Of("c", tt.v))
		if err != nil {
			t.Fatal(err)
		}
		if string(b) != tt.want {
			t.Errorf("%s: got %s, want %s", tt.name, b, tt.want)
		}
	}
}
