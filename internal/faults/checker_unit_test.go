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
			check(&got, tc.ops, nil, tc.final)
			if got.Lost != tc.want.Lost || got.Unexpected != tc.want.Unexpected || got.Resurrected != tc.want.Resurrected {
				t.Errorf("got lost=%d unexpected=%d resurrected=%d, want %d %d %d; anomalies %v",
					got.Lost, got.Unexpected, got.Resurrected, tc.want.Lost, tc.want.Unexpected, tc.want.Resurrected, got.Anomalies)
			}
		})
	}
}

// TestCheckerDetectsDeviceAnomalies feeds the device checker one device add at a time with a
// final cart, and requires it to report an acknowledged add that is absent, any add counted
// twice, and a wrong price, and to accept an unacknowledged add that never arrived.
func TestCheckerDetectsDeviceAnomalies(t *testing.T) {
	price := int64(125)
	add := func(acked bool, p *int64) *devAdd {
		return &devAdd{phone: 1, cart: "dv-0", item: "p1-7", qty: 2, price: p, acked: acked}
	}
	view := func(lines ...api.Line) map[string]api.CartView {
		return map[string]api.CartView{"dv-0": {Cart: "dv-0", Items: lines}}
	}
	tests := []struct {
		name  string
		add   *devAdd
		final map[string]api.CartView
		want  deviceReport // Lost, Doubled, WrongPrice, UnackedAbsent, UnackedPresent compared
	}{
		{"acknowledged and present", add(true, nil), view(api.Line{Item: "p1-7", Quantity: 2}), deviceReport{}},
		{"acknowledged and absent", add(true, nil), view(), deviceReport{Lost: 1}},
		{"acknowledged and doubled", add(true, nil), view(api.Line{Item: "p1-7", Quantity: 4}), deviceReport{Doubled: 1}},
		{"unacknowledged and doubled", add(false, nil), view(api.Line{Item: "p1-7", Quantity: 4}), deviceReport{Doubled: 1}},
		{"unacknowledged and absent", add(false, nil), view(), deviceReport{UnackedAbsent: 1}},
		{"unacknowledged and present", add(false, nil), view(api.Line{Item: "p1-7", Quantity: 2}), deviceReport{UnackedPresent: 1}},
		{"price kept", add(true, &price), view(api.Line{Item: "p1-7", Quantity: 2, UnitPriceCents: &price}), deviceReport{}},
		{"price lost", add(true, &price), view(api.Line{Item: "p1-7", Quantity: 2}), deviceReport{WrongPrice: 1}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var got report
			check(&got, nil, []*devAdd{tc.add}, tc.final)
			d := got.Devices
			if d.Lost != tc.want.Lost || d.Doubled != tc.want.Doubled || d.WrongPrice != tc.want.WrongPrice ||
				d.UnackedAbsent != tc.want.UnackedAbsent || d.UnackedPresent != tc.want.UnackedPresent {
				t.Errorf("got lost=%d doubled=%d wrong_price=%d unacked_absent=%d unacked_present=%d, want %d %d %d %d %d; anomalies %v",
					d.Lost, d.Doubled, d.WrongPrice, d.UnackedAbsent, d.UnackedPresent,
					tc.want.Lost, tc.want.Doubled, tc.want.WrongPrice, tc.want.UnackedAbsent, tc.want.UnackedPresent, got.Anomalies)
			}
			if got.Unexpected != 0 {
				t.Errorf("a device item counted as never written: %v", got.Anomalies)
			}
		})
	}
}
