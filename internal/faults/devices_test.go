package faults

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/crdtd/crdtd/api"
	"github.com/crdtd/crdtd/client"
	"github.com/crdtd/crdtd/device"
	"github.com/crdtd/crdtd/internal/cartview"
)

// Device replicas in the workload. A few in-process devices (package device over a
// MemoryStorage) add fresh items to carts that only devices edit, offline, and sync them through
// random nodes while the nodes are killed, paused and partitioned. A sync that fails is tried
// again through another node; a sync that succeeds sometimes has its answer "lost": the device
// goes back to its state from before the sync, still holding the changes as pending, and sends
// the very same changes (the same dots) to another node. The checker then requires every add
// that some node acknowledged to be present exactly once, with its quantity: never lost, never
// counted twice, however often and wherever it was sent.

// devCartPrefix starts the carts only devices edit.
const devCartPrefix = "dv-"

const (
	numPhones   = 4 // devices
	devCarts    = 3 // carts they share
	devOpShare  = 4 // percent of worker iterations that are device ops
	lostAnswers = 4 // one successful sync in lostAnswers has its answer lost
)

// devAdd is one add made on a device: a fresh item, a known quantity, maybe a price.
type devAdd struct {
	phone int
	cart  string
	item  string
	qty   int64
	price *int64
	// acked is set once a sync that carried the add got a 200 from some node: the node made it
	// durable. Set under the phone's lock; read by the checker after the workload stopped.
	acked bool
}

// phone is one device of the workload.
type phone struct {
	idx int
	// mu serializes the device's ops, so that a sync's 200 acknowledges exactly the adds made
	// before it, and a lost answer can put back the state from just before the sync.
	mu      sync.Mutex
	store   *device.MemoryStorage
	dev     *device.Device
	pending map[string][]*devAdd // per cart, the adds no 200 has acknowledged yet
}

func newPhone(idx int) (*phone, error) {
	p := &phone{idx: idx, store: &device.MemoryStorage{}, pending: map[string][]*devAdd{}}
	dev, err := device.New(device.Config{Storage: p.store})
	if err != nil {
		return nil, err
	}
	p.dev = dev
	return p, nil
}

// restore puts the device back to the state saved in b: the answer to the sync made since was
// lost. The device made no edit since b (the caller held p.mu throughout), so the restored
// state mints no dot twice, which restoring an older state in general would (ErrReplicaReused).
// The adds the sync carried stay acknowledged: a node did acknowledge them.
func (p *phone) restore(b []byte) error {
	store := &device.MemoryStorage{}
	if err := store.Save(b); err != nil {
		return err
	}
	dev, err := device.New(device.Config{Storage: store})
	if err != nil {
		return err
	}
	p.store, p.dev = store, dev
	return nil
}

// devStats counts what the devices did. The fields are typed atomics: workers update them
// concurrently.
type devStats struct {
	// mu guards adds.
	mu   sync.Mutex
	adds []*devAdd

	editErrors                                  atomic.Int64
	syncs, syncsOK                              atomic.Int64
	unreachable, unavailable, refused, otherErr atomic.Int64
	replicaReused                               atomic.Int64
	resends, resendsOK                          atomic.Int64
	ackedAtHeal                                 atomic.Int64 // adds first acknowledged by flushDevices
	lastRefusal                                 atomic.Value // string
}

func (s *devStats) record(a *devAdd) {
	s.mu.Lock()
	s.adds = append(s.adds, a)
	s.mu.Unlock()
}

func (s *devStats) snapshot() []*devAdd {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]*devAdd(nil), s.adds...)
}

// deviceOp makes a few adds on a random idle device, offline, and then, usually, syncs them.
func (w *workload) deviceOp(ctx context.Context, rnd *rand.Rand) {
	p := w.phones[rnd.IntN(len(w.phones))]
	if !p.mu.TryLock() {
		return
	}
	defer p.mu.Unlock()
	cartID := fmt.Sprintf("%s%d", devCartPrefix, rnd.IntN(devCarts))
	for range 1 + rnd.IntN(3) {
		a := &devAdd{phone: p.idx, cart: cartID, item: fmt.Sprintf("p%d-%d", p.idx, w.seq.Add(1)), qty: int64(1 + rnd.IntN(3))}
		if rnd.IntN(2) == 0 {
			price := int64(rnd.IntN(1000))
			a.price = &price
		}
		if err := p.dev.Add(a.cart, a.item, uint64(a.qty), a.price); err != nil {
			w.dev.editErrors.Add(1)
			continue
		}
		w.dev.record(a)
		p.pending[cartID] = append(p.pending[cartID], a)
	}
	if rnd.IntN(4) == 0 {
		return // stay offline for now: the next sync carries these too
	}
	w.deviceSync(ctx, p, cartID, rnd)
}

// deviceSync syncs cartID of p through a random node, trying other nodes when it fails. After a
// 200 it sometimes loses the answer and resends the same changes to another node. The caller
// holds p.mu.
func (w *workload) deviceSync(ctx context.Context, p *phone, cartID string, rnd *rand.Rand) bool {
	before := p.store.Bytes()
	node := rnd.IntN(w.nodes)
	for attempt := range 3 {
		if attempt > 0 {
			node = (node + 1 + rnd.IntN(w.nodes-1)) % w.nodes
		}
		if !w.syncOnce(ctx, p, cartID, node) {
			if ctx.Err() != nil {
				return false
			}
			continue
		}
		if rnd.IntN(lostAnswers) == 0 {
			w.loseAnswer(ctx, p, cartID, before, node, rnd)
		}
		return true
	}
	return false
}

// loseAnswer puts p back to its state from before a sync through node that succeeded, as if
// the answer never arrived, and sends the same pending changes to another node.
func (w *workload) loseAnswer(ctx context.Context, p *phone, cartID string, before []byte, node int, rnd *rand.Rand) {
	if err := p.restore(before); err != nil {
		w.dev.otherErr.Add(1)
		w.dev.lastRefusal.Store("restore: " + err.Error())
		return
	}
	w.dev.resends.Add(1)
	other := (node + 1 + rnd.IntN(w.nodes-1)) % w.nodes
	if w.syncOnce(ctx, p, cartID, other) {
		w.dev.resendsOK.Add(1)
	}
	// Otherwise the changes stay pending on the device and go with a later sync.
}

// syncOnce syncs cartID of p through node and, on a 200, marks the adds it carried
// acknowledged. The caller holds p.mu.
func (w *workload) syncOnce(ctx context.Context, p *phone, cartID string, node int) bool {
	w.dev.syncs.Add(1)
	err := p.dev.Sync(ctx, w.c.client(node), cartID)
	var apiErr *client.APIError
	switch {
	case err == nil:
		w.dev.syncsOK.Add(1)
		// p.mu kept every edit out while the sync was in flight: the 200 covers all of them.
		for _, a := range p.pending[cartID] {
			a.acked = true
		}
		delete(p.pending, cartID)
		return true
	case errors.Is(err, device.ErrReplicaReused):
		w.dev.replicaReused.Add(1)
		w.dev.lastRefusal.Store(err.Error())
	case errors.Is(err, client.ErrUnreachable):
		w.dev.unreachable.Add(1)
	case errors.As(err, &apiErr) && apiErr.StatusCode == http.StatusServiceUnavailable:
		w.dev.unavailable.Add(1)
	case errors.As(err, &apiErr) && apiErr.StatusCode >= 400 && apiErr.StatusCode < 500:
		// Devices here only add fresh items, with the host's clock: no push of theirs is
		// deferred (409) or refused (422).
		w.dev.refused.Add(1)
		w.dev.lastRefusal.Store(fmt.Sprintf("n%d: %v", node, err))
	default:
		w.dev.otherErr.Add(1)
	}
	return false
}

// flushDevices syncs every device's pending changes once the cluster has healed, trying every
// node in turn, so that the check covers as many device adds as possible. It returns how many
// carts kept changes no node acknowledged.
func (w *workload) flushDevices(rnd *rand.Rand) (unflushed int) {
	for _, p := range w.phones {
		p.mu.Lock()
		for _, cartID := range p.dev.Carts() {
			if p.dev.Pending(cartID) == 0 {
				continue
			}
			ok := false
			waiting := len(p.pending[cartID])
			start := rnd.IntN(w.nodes)
			for i := range 2 * w.nodes {
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				ok = w.syncOnce(ctx, p, cartID, (start+i)%w.nodes)
				cancel()
				if ok {
					w.dev.ackedAtHeal.Add(int64(waiting))
					break
				}
				time.Sleep(100 * time.Millisecond)
			}
			if !ok {
				unflushed++
			}
		}
		p.mu.Unlock()
	}
	return unflushed
}

// compareDeviceViews pulls every device cart into every device and compares the device's
// view, as cartctl would print it, with the converged view of the nodes. Only carts with
// nothing pending are pulled, so that no push changes the nodes after final was read.
func (w *workload) compareDeviceViews(rep *report, final map[string]api.CartView) {
	for _, p := range w.phones {
		p.mu.Lock()
		for i := range devCarts {
			cartID := fmt.Sprintf("%s%d", devCartPrefix, i)
			if p.dev.Pending(cartID) > 0 {
				continue
			}
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			err := p.dev.Sync(ctx, w.c.client((p.idx+i)%w.nodes), cartID)
			cancel()
			if err != nil {
				rep.anomaly("device view: pull of %s into device %d failed: %v", cartID, p.idx, err)
				rep.Devices.ViewMismatches++
				continue
			}
			want, ok := final[cartID]
			if !ok {
				want = api.CartView{Cart: cartID, Items: []api.Line{}}
			}
			got, _ := json.Marshal(cartview.Of(cartID, p.dev.View(cartID)))
			wantJSON, _ := json.Marshal(want)
			rep.Devices.ViewsChecked++
			if string(got) != string(wantJSON) {
				rep.Devices.ViewMismatches++
				rep.anomaly("device view: device %d shows %s as %s, the nodes %s", p.idx, cartID, got, wantJSON)
			}
		}
		p.mu.Unlock()
	}
}

// deviceReport is the devices' part of the report.
type deviceReport struct {
	Devices        int   `json:"devices"`
	Adds           int   `json:"adds"`
	AddsAcked      int   `json:"adds_acked"`
	AckedAtHeal    int64 `json:"adds_acked_at_heal"` // still offline when the round ended
	UnackedAbsent  int   `json:"adds_unacked_absent"`
	UnackedPresent int   `json:"adds_unacked_present"`
	Lost           int   `json:"lost"`
	Doubled        int   `json:"doubled"`
	WrongPrice     int   `json:"wrong_price"`
	Syncs          int64 `json:"syncs"`
	SyncsOK        int64 `json:"syncs_ok"`
	Unreachable    int64 `json:"syncs_unreachable"`
	Unavailable    int64 `json:"syncs_unavailable"`
	Refused        int64 `json:"syncs_refused"`
	OtherErrors    int64 `json:"sync_other_errors"`
	ReplicaReused  int64 `json:"replica_reused"`
	EditErrors     int64 `json:"edit_errors"`
	LostAnswers    int64 `json:"lost_answer_resends"`
	LostAnswersOK  int64 `json:"lost_answer_resends_ok"`
	Unflushed      int   `json:"carts_unflushed"`
	ViewsChecked   int   `json:"views_checked"`
	ViewMismatches int   `json:"view_mismatches"`
}

// fill copies the counters of s.
func (r *deviceReport) fill(s *devStats, phones int) {
	r.Devices = phones
	r.Syncs, r.SyncsOK = s.syncs.Load(), s.syncsOK.Load()
	r.Unreachable, r.Unavailable, r.Refused, r.OtherErrors = s.unreachable.Load(), s.unavailable.Load(), s.refused.Load(), s.otherErr.Load()
	r.ReplicaReused, r.EditErrors = s.replicaReused.Load(), s.editErrors.Load()
	r.LostAnswers, r.LostAnswersOK = s.resends.Load(), s.resendsOK.Load()
	r.AckedAtHeal = s.ackedAtHeal.Load()
}

// anomalies counts what must never happen.
func (r *deviceReport) anomalies() int {
	return r.Lost + r.Doubled + r.WrongPrice + r.ViewMismatches + int(r.Refused+r.ReplicaReused+r.EditErrors)
}

// checkDeviceAdds checks every device add against the converged carts: one that some node
// acknowledged is present with exactly its quantity and price; one that no node acknowledged
// may be absent (its pushes never got a 200, though one may have been applied) but, if
// present, is exact too. A quantity other than the add's means it was counted twice (or
// partly): a resent change applied again.
func checkDeviceAdds(rep *report, adds []*devAdd, final map[string]api.CartView) {
	d := &rep.Devices
	for _, a := range adds {
		k := a.cart + "/" + a.item
		line, present := lineOf(final[a.cart], a.item)
		d.Adds++
		if a.acked {
			d.AddsAcked++
		}
		wantPrice := int64(-1)
		if a.price != nil {
			wantPrice = *a.price
		}
		switch {
		case a.acked && !present:
			d.Lost++
			rep.anomaly("device lost: %s x%d from device %d, acknowledged by a node, is absent", k, a.qty, a.phone)
		case present && line.Quantity != a.qty:
			d.Doubled++
			rep.anomaly("device doubled: %s from device %d has quantity %d, added once with %d (acknowledged %v)",
				k, a.phone, line.Quantity, a.qty, a.acked)
		case present && priceOf(line) != wantPrice:
			d.WrongPrice++
			rep.anomaly("device price: %s from device %d has price %d, want %d (-1: unknown)", k, a.phone, priceOf(line), wantPrice)
		case !present:
			d.UnackedAbsent++
		case !a.acked:
			d.UnackedPresent++
		}
	}
}
