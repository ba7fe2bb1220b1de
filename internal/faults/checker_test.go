package faults

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/crdtd/crdtd/api"
)

// report is the Jepsen-style result of a run.
type report struct {
	Mode               string    `json:"mode"`
	Seed               uint64    `json:"seed"`
	WallSeconds        float64   `json:"wall_seconds"`
	Operations         int       `json:"operations"`
	Acknowledged       int       `json:"acknowledged"`
	Failed             int       `json:"failed"`
	Unknown            int       `json:"unknown"`
	Lost               int       `json:"lost"`
	Unexpected         int       `json:"unexpected"`
	Resurrected        int       `json:"resurrected"`
	BadAck             int       `json:"bad_ack"`
	LostChecked        int       `json:"lost_checked"`
	ResurrectChecked   int       `json:"resurrect_checked"`
	Replays            int64     `json:"idempotent_replays"`
	ReplayMismatches   int64     `json:"idempotent_replay_mismatches"`
	Kills              int64     `json:"kills"`
	Partitions         int64     `json:"partitions"`
	PartitionShapes    []string  `json:"partition_shapes"`
	PausesShort        int64     `json:"pauses_short"`
	PausesLong         int64     `json:"pauses_long"`
	Rounds             int       `json:"rounds"`
	ConvergeSeconds    []float64 `json:"converge_after_heal_seconds"`
	ConvergeP50        float64   `json:"converge_after_heal_p50_seconds"`
	ConvergeP99        float64   `json:"converge_after_heal_p99_seconds"`
	Converged          bool      `json:"converged"`
	MergeRejected      float64   `json:"merge_rejected_total"`
	DecodeErrors       float64   `json:"decode_errors_total"`
	SuspicionTimeoutMS int64     `json:"suspicion_timeout_ms"`
	// Devices reports the device replicas' adds and syncs (devices_test.go).
	Devices   deviceReport `json:"devices"`
	Anomalies []string     `json:"anomalies,omitempty"`
}

func (r *report) anomaly(format string, args ...any) {
	if len(r.Anomalies) < 50 {
		r.Anomalies = append(r.Anomalies, fmt.Sprintf(format, args...))
	}
}

// forever stands for the completion time of an op whose outcome is unknown:
// it may take effect at any time after its invocation.
var forever = time.Unix(1<<40, 0)

func (o *op) done() time.Time {
	if o.outcome == outcomeUnknown {
		return forever
	}
	return o.complete
}

func lineOf(v api.CartView, item string) (api.Line, bool) {
	for _, l := range v.Items {
		if l.Item == item {
			return l, true
		}
	}
	return api.Line{}, false
}

// check evaluates the final, converged carts against the history.
//
// Set carts: every add is of a fresh item that is never removed, so an
// acknowledged add must be present with exactly its quantity (lost if absent,
// unexpected if the quantity differs: applied twice); an unknown one is
// absent or exact; a failed one is absent.
//
// Register carts: adds, sets, price changes, removes and clears on item
// generations. The checks are sound for a CRDT in which a write on one node
// need not be seen by a concurrent write elsewhere:
//   - resurrected: an acknowledged remove (or clear, or set to 0) R on node N
//     such that every add/set>0 of the item that may have been applied was
//     acknowledged by N before R was invoked: R observed them all, nothing
//     after R adds the item, so it must be absent.
//   - lost: an acknowledged add/set>0 A of the item with no remove, clear or
//     set-to-0 that could have been applied after A was invoked: present.
//   - unexpected: a present item with no add/set>0 that may have been
//     applied, a quantity above the largest set plus every add, or a price
//     nobody set.
//
// Device carts: see checkDeviceAdds.
func check(rep *report, ops []*op, devAdds []*devAdd, final map[string]api.CartView) {
	seen := map[string]bool{} // cart/item of the history
	for _, a := range devAdds {
		seen[a.cart+"/"+a.item] = true
	}
	checkDeviceAdds(rep, devAdds, final)
	byItem := map[string][]*op{}
	clears := map[string][]*op{}
	for _, o := range ops {
		rep.Operations++
		switch o.outcome {
		case outcomeOK:
			rep.Acknowledged++
		case outcomeFail:
			rep.Failed++
		default:
			rep.Unknown++
		}
		if o.kind == "clear" {
			clears[o.cart] = append(clears[o.cart], o)
			continue
		}
		k := o.cart + "/" + o.item
		seen[k] = true
		byItem[k] = append(byItem[k], o)
	}
	for cartID, v := range final {
		for _, l := range v.Items {
			if !seen[cartID+"/"+l.Item] {
				rep.Unexpected++
				rep.anomaly("unexpected: %s/%s (qty %d) was never written", cartID, l.Item, l.Quantity)
			}
		}
	}
	keys := make([]string, 0, len(byItem))
	for k := range byItem {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		cartID, item, _ := strings.Cut(k, "/")
		line, present := lineOf(final[cartID], item)
		if strings.HasPrefix(cartID, setCartPrefix) {
			checkSetItem(rep, byItem[k][0], line, present)
			continue
		}
		checkRegisterItem(rep, k, append(slices.Clone(byItem[k]), clears[cartID]...), line, present)
	}
}

func checkSetItem(rep *report, o *op, line api.Line, present bool) {
	k := o.cart + "/" + o.item
	if o.outcome == outcomeOK {
		rep.LostChecked++
		if o.view != nil {
			if l, ok := lineOf(*o.view, o.item); !ok || l.Quantity != o.qty {
				rep.BadAck++
				rep.anomaly("bad ack: add %s x%d on n%d acknowledged with a view lacking it", k, o.qty, o.node)
			}
		}
	}
	wantPrice := int64(-1) // unknown: the add carried no price
	if o.price != nil {
		wantPrice = *o.price
	}
	switch {
	case o.outcome == outcomeOK && !present:
		rep.Lost++
		rep.anomaly("lost: acknowledged add %s x%d on n%d (key %s) is absent", k, o.qty, o.node, o.key)
	case o.outcome == outcomeFail && present:
		rep.Unexpected++
		rep.anomaly("unexpected: failed add %s (%s) is present", k, o.err)
	case present && line.Quantity != o.qty:
		rep.Unexpected++
		rep.anomaly("unexpected: %s has quantity %d, added once with %d (%s)", k, line.Quantity, o.qty, o.outcome)
	case present && priceOf(line) != wantPrice:
		rep.Unexpected++
		rep.anomaly("unexpected: %s has price %d, want %d (-1: unknown)", k, priceOf(line), wantPrice)
	}
}

func checkRegisterItem(rep *report, k string, ops []*op, line api.Line, present bool) {
	var positives, removals []*op
	prices := map[int64]bool{-1: true} // -1: no price known
	bound := int64(0)
	maxSet := int64(0)
	for _, o := range ops {
		if o.outcome == outcomeFail {
			continue
		}
		if o.price != nil {
			prices[*o.price] = true
		}
		switch {
		case o.kind == "add":
			positives = append(positives, o)
			bound += o.qty
		case o.kind == "set" && o.qty > 0:
			positives = append(positives, o)
			maxSet = max(maxSet, o.qty)
		case o.kind == "set", o.kind == "remove", o.kind == "clear":
			removals = append(removals, o)
		}
	}
	bound += maxSet

	// Resurrection: an acknowledged removal that observed every write that
	// may have been applied.
	var observer *op
	for _, r := range removals {
		if r.outcome != outcomeOK {
			continue
		}
		all := true
		for _, p := range positives {
			if p.outcome != outcomeOK || p.node != r.node || !p.complete.Before(r.invoke) {
				all = false
				break
			}
		}
		if all {
			observer = r
			break
		}
	}
	if observer != nil && len(positives) > 0 {
		rep.ResurrectChecked++
	}

	if present {
		switch {
		case observer != nil:
			rep.Resurrected++
			rep.anomaly("resurrected: %s (qty %d) present after %s acknowledged on n%d at %s observed all %d writes",
				k, line.Quantity, observer.kind, observer.node, observer.invoke.Format(time.StampMicro), len(positives))
		case len(positives) == 0:
			rep.Unexpected++
			rep.anomaly("unexpected: %s (qty %d) present with no add or set that may have been applied", k, line.Quantity)
		case line.Quantity > bound:
			rep.Unexpected++
			rep.anomaly("unexpected: %s quantity %d exceeds largest set + all adds = %d", k, line.Quantity, bound)
		case !prices[priceOf(line)]:
			rep.Unexpected++
			rep.anomaly("unexpected: %s price %d was never set", k, priceOf(line))
		}
		return
	}
	// Absent: some acknowledged add/set>0 with no removal that could come
	// after it is lost.
	for _, p := range positives {
		if p.outcome != outcomeOK {
			continue
		}
		later := false
		for _, r := range removals {
			if r.done().After(p.invoke) {
				later = true
				break
			}
		}
		if !later {
			rep.LostChecked++
			rep.Lost++
			rep.anomaly("lost: acknowledged %s %s x%d on n%d is absent and no removal could follow it", p.kind, k, p.qty, p.node)
			return
		}
	}
}

// percentile returns the q-quantile of xs (nearest rank).
func percentile(xs []float64, q float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	i := int(q*float64(len(s))+0.999999) - 1
	return s[min(max(i, 0), len(s)-1)]
}

// priceOf returns a line's unit price, or -1 when the price is unknown.
func priceOf(l api.Line) int64 {
	if l.UnitPriceCents == nil {
		return -1
	}
	return *l.UnitPriceCents
}
