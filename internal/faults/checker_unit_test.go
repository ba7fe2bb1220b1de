package faults

import (
	"testing"
	"time"

	"github.com/crdtd/crdtd/api"
)

// TestCheckerDetects feeds the checker histories with a known anomaly each.
func TestCheckerDetects(t *testing.T) {
	t0 := time.Now()
	at := func(s int) time.Time { return t0.Add(time.Duration(s) * time.Second) }
	add := func(cart, item string, node int, inv, done int, out outcome) *op {
		o := &op{kind: "add", cart: cart, item: item, qty: 1, node: node, invoke: at(inv), outcome: out}
		if out != outcomeUnknown {
			o.complete = at(done)
		}
		return o
	}
	rm := func(cart, item string, node int, inv, done int) *op {
		return &op{kind: "remove", cart: cart, item: item, node: node, invoke: at(inv), complete: at(done), outcome: outcomeOK}
	}
	view := func(cart string, lines ...api.Line) map[string]api.CartView {
		return map[string]api.CartView{cart: {Cart: cart, Items: lines}}
	}
	tests := []struct {
		name  string
		ops   []*op
		final map[string]api.CartView
		want  report // only Lost, Unexpected, Resurrected compared
	}{
		{"set add present", []*op{add("s-00", "i1", 0, 0, 1, outcomeOK)}, view("s-00", api.Line{Item: "i1", Quantity: 1}), report{}},
		{"set add lost", []*op{add("s-00", "i1", 0, 0, 1, outcomeOK)}, view("s-00"), report{Lost: 1}},
		{"set add applied twice", []*op{add("s-00", "i1", 0, 0, 1, outcomeOK)}, view("s-00", api.Line{Item: "i1", Quantity: 2}), report{Unexpected: 1}},
		{"unknown add absent", []*op{add("s-00", "i1", 0, 0, 1, outcomeUnknown)}, view("s-00"), report{}},
		{"failed add present", []*op{add("s-00", "i1", 0, 0, 1, outcomeFail)}, view("s-00", api.Line{Item: "i1", Quantity: 1}), report{Unexpected: 1}},
		{"never written", nil, view("r-0", api.Line{Item: "ghost", Quantity: 1}), report{Unexpected: 1}},
		{"resurrected", []*op{add("r-0", "x", 1, 0, 1, outcomeOK), rm("r-0", "x", 1, 2, 3)}, view("r-0", api.Line{Item: "x", Quantity: 1}), report{Resurrected: 1}},
		{"remove elsewhere may miss the add", []*op{add("r-0", "x", 1, 0, 1, outcomeOK), rm("r-0", "x", 2, 2, 3)}, view("r-0", api.Line{Item: "x", Quantity: 1}), report{}},
		{"unknown add after remove", []*op{add("r-0", "x", 1, 0, 1, outcomeOK), rm("r-0", "x", 1, 2, 3), add("r-0", "x", 1, 4, 0, outcomeUnknown)}, view("r-0", api.Line{Item: "x", Quantity: 1}), report{}},
		{"register lost", []*op{add("r-0", "x", 1, 5, 6, outcomeOK), rm("r-0", "x", 1, 2, 3)}, view("r-0"), report{Lost: 1}},
		{"quantity above every add", []*op{add("r-0", "x", 1, 0, 1, outcomeOK)}, view("r-0", api.Line{Item: "x", Quantity: 5}), report{Unexpected: 1}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var got report
			check(&got, tc.ops, tc.final)
			if got.Lost != tc.want.Lost || got.Unexpected != tc.want.Unexpected || got.Resurrected != tc.want.Resurrected {
				t.Errorf("got lost=%d unexpected=%d resurrected=%d, want %d %d %d; anomalies %v",
					got.Lost, got.Unexpected, got.Resurrected, tc.want.Lost, tc.want.Unexpected, tc.want.Resurrected, got.Anomalies)
			}
		})
	}
}
