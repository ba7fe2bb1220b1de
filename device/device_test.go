package device_test

import (
	"errors"
	"fmt"
	"net"
	"reflect"
	"regexp"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/crdtd/crdtd/api"
	"github.com/crdtd/crdtd/cart"
	"github.com/crdtd/crdtd/client"
	"github.com/crdtd/crdtd/device"
)

// tester is what the helpers need of a *testing.T or a *rapid.T.
type tester interface {
	Helper()
	Fatal(args ...any)
	Fatalf(format string, args ...any)
}

func newTestDevice(tb tester, store device.Storage, clk *fakeClock) *device.Device {
	tb.Helper()
	if clk == nil {
		clk = newFakeClock()
	}
	d, err := device.New(device.Config{Storage: store, Now: clk.Now})
	if err != nil {
		tb.Fatalf("device.New: %v", err)
	}
	return d
}

func must(tb tester, err error) {
	tb.Helper()
	if err != nil {
		tb.Fatal(err)
	}
}

func cents(v int64) *int64 { return &v }

// lines renders a view compactly: "apple=2@125 pear=1@?".
func lines(v cart.View) string {
	s := ""
	for i, l := range v.Lines {
		if i > 0 {
			s += " "
		}
		price := "?"
		if l.Priced {
			price = fmt.Sprint(l.UnitPriceCents)
		}
		s += fmt.Sprintf("%s=%d@%s", l.Item, l.Quantity, price)
	}
	return s
}

var idPattern = regexp.MustCompile(`^d-[0-9a-f]{16}$`)

func TestNewDeviceKeepsItsID(t *testing.T) {
	store := &device.MemoryStorage{}
	d := newTestDevice(t, store, nil)
	if !idPattern.MatchString(string(d.ID())) {
		t.Errorf("got ID %q, want d- and 16 hex digits", d.ID())
	}
	if n := store.Saves(); n != 1 {
		t.Errorf("got %d saves on creation, want 1: the ID must be kept at once", n)
	}
	again := newTestDevice(t, store, nil)
	if again.ID() != d.ID() {
		t.Errorf("reloaded ID %q, want %q", again.ID(), d.ID())
	}
	if other := newTestDevice(t, &device.MemoryStorage{}, nil); other.ID() == d.ID() {
		t.Errorf("two new devices share ID %q", d.ID())
	}
	if _, err := device.New(device.Config{}); err == nil {
		t.Error("New without storage: got nil error, want one")
	}
}

func TestEdits(t *testing.T) {
	tests := []struct {
		name        string
		edits       func(d *device.Device) error
		wantErr     error
		wantLines   string
		wantPending int
		wantCarts   []string
	}{
		{
			name:        "add with price is one change",
			edits:       func(d *device.Device) error { return d.Add("c", "apple", 2, cents(125)) },
			wantLines:   "apple=2@125",
			wantPending: 1, wantCarts: []string{"c"},
		},
		{
			name: "every edit counts",
			edits: func(d *device.Device) error {
				return errors.Join(d.Add("c", "apple", 2, nil), d.SetQuantity("c", "apple", 5),
					d.SetPrice("c", "apple", 99), d.Add("c", "pear", 1, nil), d.Remove("c", "pear"))
			},
			wantLines:   "apple=5@99",
			wantPending: 5, wantCarts: []string{"c"},
		},
		{
			name: "set with price is one change",
			edits: func(d *device.Device) error {
				return errors.Join(d.Add("c", "apple", 2, nil), d.Set("c", "apple", 7, cents(30)))
			},
			wantLines:   "apple=7@30",
			wantPending: 2, wantCarts: []string{"c"},
		},
		{
			name:    "set to 0 with a price is refused whole",
			edits:   func(d *device.Device) error { return d.Set("c", "apple", 0, cents(30)) },
			wantErr: cart.ErrInvalidPrice,
		},
		{
			name:    "set with a bad price is refused whole",
			edits:   func(d *device.Device) error { return d.Set("c", "apple", 3, cents(-1)) },
			wantErr: cart.ErrInvalidPrice,
		},
		{
			name: "clear",
			edits: func(d *device.Device) error {
				return errors.Join(d.Add("c", "apple", 2, nil), d.Add("c", "pear", 1, nil), d.Clear("c"))
			},
			wantPending: 3, wantCarts: []string{"c"},
		},
		{
			name:  "removing what is not there changes nothing",
			edits: func(d *device.Device) error { return errors.Join(d.Remove("c", "apple"), d.Clear("c")) },
		},
		{
			name:    "a refused edit changes nothing",
			edits:   func(d *device.Device) error { return d.Add("c", "apple", 0, nil) },
			wantErr: cart.ErrInvalidQuantity,
		},
		{
			name:    "add with a bad price is refused whole",
			edits:   func(d *device.Device) error { return d.Add("c", "apple", 1, cents(-1)) },
			wantErr: cart.ErrInvalidPrice,
		},
		{
			name:    "invalid item",
			edits:   func(d *device.Device) error { return d.SetPrice("c", "a b", 1) },
			wantErr: cart.ErrInvalidItem,
		},
		{
			name:    "invalid cart",
			edits:   func(d *device.Device) error { return d.Add("../c", "apple", 1, nil) },
			wantErr: client.ErrInvalidID,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			store := &device.MemoryStorage{}
			d := newTestDevice(t, store, nil)
			saves := store.Saves()
			err := tt.edits(d)
			if !errors.Is(err, tt.wantErr) || (err == nil) != (tt.wantErr == nil) {
				t.Fatalf("got error %v, want %v", err, tt.wantErr)
			}
			if got := lines(d.View("c")); got != tt.wantLines {
				t.Errorf("got view %q, want %q", got, tt.wantLines)
			}
			if got := d.Pending("c"); got != tt.wantPending {
				t.Errorf("got %d pending, want %d", got, tt.wantPending)
			}
			if got := d.Carts(); !slices.Equal(got, tt.wantCarts) {
				t.Errorf("got carts %q, want %q", got, tt.wantCarts)
			}
			if got := store.Saves() - saves; got != tt.wantPending {
				t.Errorf("got %d saves, want one per change (%d)", got, tt.wantPending)
			}
		})
	}
}

// TestSyncExchangesChanges: two devices edit offline and meet through a
// node; a removal made on one reaches the other.
func TestSyncExchangesChanges(t *testing.T) {
	node := newFakeNode()
	c := node.client(t)
	phone := newTestDevice(t, &device.MemoryStorage{}, nil)
	laptop := newTestDevice(t, &device.MemoryStorage{}, nil)
	must(t, phone.Add("c", "apple", 2, cents(125)))
	must(t, laptop.Add("c", "pear", 1, nil))
	must(t, laptop.Add("c", "kiwi", 3, nil))
	for _, d := range []*device.Device{phone, laptop, phone} {
		must(t, d.Sync(t.Context(), c, "c"))
	}
	const want = "apple=2@125 kiwi=3@? pear=1@?"
	for name, v := range map[string]cart.View{"phone": phone.View("c"), "laptop": laptop.View("c"), "node": node.cart("c").View()} {
		if got := lines(v); got != want {
			t.Errorf("%s: got %q, want %q", name, got, want)
		}
	}
	if p, l := phone.Pending("c"), laptop.Pending("c"); p != 0 || l != 0 {
		t.Errorf("got %d and %d pending, want 0 after syncing", p, l)
	}

	must(t, laptop.Remove("c", "apple"))
	must(t, laptop.Sync(t.Context(), c, "c"))
	must(t, phone.Sync(t.Context(), c, "c"))
	if got, want := lines(phone.View("c")), "kiwi=3@? pear=1@?"; got != want {
		t.Errorf("phone after the laptop's remove: got %q, want %q", got, want)
	}
}

// TestSyncOpensACart: syncing a cart the device never edited pulls it.
func TestSyncOpensACart(t *testing.T) {
	node := newFakeNode()
	c := node.client(t)
	editor := newTestDevice(t, &device.MemoryStorage{}, nil)
	must(t, editor.Add("shared", "apple", 1, nil))
	must(t, editor.Sync(t.Context(), c, "shared"))
	reader := newTestDevice(t, &device.MemoryStorage{}, nil)
	must(t, reader.Sync(t.Context(), c, "shared"))
	if got, want := lines(reader.View("shared")), "apple=1@?"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	if got := reader.Carts(); !slices.Equal(got, []string{"shared"}) {
		t.Errorf("got carts %q, want [shared]", got)
	}
}

// closedAddr returns a loopback address nothing listens on.
func closedAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	must(t, err)
	addr := ln.Addr().String()
	must(t, ln.Close())
	return addr
}

// TestFailedSyncKeepsEveryChange: whatever goes wrong, every pending change
// stays, nothing is saved, and a later sync, to the same node or another,
// counts each change once.
func TestFailedSyncKeepsEveryChange(t *testing.T) {
	tests := []struct {
		name    string
		prepare func(t *testing.T, d *device.Device, a, b *fakeNode) *client.Client
		check   func(error) bool
	}{
		{
			name: "request lost",
			prepare: func(t *testing.T, _ *device.Device, a, _ *fakeNode) *client.Client {
				a.setFate(loseRequest)
				return a.client(t)
			},
			check: func(err error) bool { return errors.Is(err, client.ErrUnreachable) },
		},
		{
			name: "answer lost",
			prepare: func(t *testing.T, _ *device.Device, a, _ *fakeNode) *client.Client {
				a.setFate(loseAnswer)
				return a.client(t)
			},
			check: func(err error) bool { return errors.Is(err, client.ErrUnreachable) },
		},
		{
			name: "node down",
			prepare: func(t *testing.T, _ *device.Device, _, _ *fakeNode) *client.Client {
				c, err := client.New(client.Config{BaseURL: closedAddr(t), Retries: 1, RetryBackoff: time.Millisecond})
				must(t, err)
				return c
			},
			check: func(err error) bool { return errors.Is(err, client.ErrUnreachable) },
		},
		{
			// The device learned node a's change and removed it; node b has
			// not seen that change yet, so it refuses to take the removal
			// on the device's word until gossip brings it.
			name: "push refused",
			prepare: func(t *testing.T, d *device.Device, a, b *fakeNode) *client.Client {
				other := newTestDevice(t, &device.MemoryStorage{}, nil)
				must(t, other.Add("c", "pear", 1, nil))
				must(t, other.Sync(t.Context(), a.client(t), "c"))
				must(t, d.Sync(t.Context(), a.client(t), "c"))
				must(t, d.Remove("c", "pear"))
				return b.client(t)
			},
			check: func(err error) bool {
				var apiErr *client.APIError
				return errors.As(err, &apiErr) && apiErr.StatusCode == 422 && apiErr.Code == api.CodeSyncRefused
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, b := newFakeNode(), newFakeNode()
			store := &device.MemoryStorage{}
			d := newTestDevice(t, store, nil)
			must(t, d.Add("c", "apple", 2, nil))
			must(t, d.Add("c", "apple", 1, cents(50)))
			c := tt.prepare(t, d, a, b)
			pending, state, saved := d.Pending("c"), d.CartState("c"), store.Bytes()

			err := d.Sync(t.Context(), c, "c")
			if err == nil || !tt.check(err) {
				t.Fatalf("got error %v, want the failure", err)
			}
			if got := d.Pending("c"); got != pending {
				t.Errorf("got %d pending after the failure, want %d", got, pending)
			}
			if !d.CartState("c").Equal(state) {
				t.Error("the failed sync changed the cart")
			}
			if !slices.Equal(store.Bytes(), saved) {
				t.Error("the failed sync changed the saved state")
			}

			// Retry on the other node once it has what node a has.
			b.gossip(a)
			must(t, d.Sync(t.Context(), b.client(t), "c"))
			if got := d.Pending("c"); got != 0 {
				t.Errorf("got %d pending after the retry, want 0", got)
			}
			a.gossip(b)
			for name, n := range map[string]*fakeNode{"a": a, "b": b} {
				if got := n.cart("c").Quantity("apple"); got != 3 {
					t.Errorf("node %s has %d apples, want 3: each add once", name, got)
				}
			}
		})
	}
}

// TestEditDuringSyncStaysPending: an edit made while a sync is in flight
// is not acknowledged by that sync's answer, and goes with the next one.
// The edit does not wait for the sync: the sync holds no lock across the
// network.
func TestEditDuringSyncStaysPending(t *testing.T) {
	node := newFakeNode()
	c := node.client(t)
	d := newTestDevice(t, &device.MemoryStorage{}, nil)
	must(t, d.Add("c", "apple", 2, nil))

	arrived, release := make(chan struct{}), make(chan struct{})
	node.onFlight(func() {
		close(arrived)
		<-release
	})
	done := make(chan error, 1)
	go func() { done <- d.Sync(t.Context(), c, "c") }()
	<-arrived
	must(t, d.Add("c", "apple", 1, nil)) // the same line: would join the batch in flight
	must(t, d.Add("c", "pear", 1, nil))
	if got := d.Pending("c"); got != 3 {
		t.Errorf("got %d pending during the sync, want 3", got)
	}
	close(release)
	must(t, <-done)

	if got := d.Pending("c"); got != 2 {
		t.Errorf("got %d pending after the sync, want the 2 edits made during it", got)
	}
	if got, want := lines(d.View("c")), "apple=3@? pear=1@?"; got != want {
		t.Errorf("device: got %q, want %q", got, want)
	}
	if got, want := lines(node.cart("c").View()), "apple=2@?"; got != want {
		t.Errorf("node after the first sync: got %q, want %q", got, want)
	}
	must(t, d.Sync(t.Context(), c, "c"))
	if got, want := lines(node.cart("c").View()), "apple=3@? pear=1@?"; got != want {
		t.Errorf("node after the second sync: got %q, want %q", got, want)
	}
	if got := d.Pending("c"); got != 0 {
		t.Errorf("got %d pending, want 0", got)
	}
}

// TestConcurrentEditsAndSyncs: goroutines add and sync at once; every add
// counts exactly once on the node in the end.
func TestConcurrentEditsAndSyncs(t *testing.T) {
	node := newFakeNode()
	c := node.client(t)
	d := newTestDevice(t, &device.MemoryStorage{}, nil)
	const workers, adds = 4, 25
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := range adds {
				if err := d.Add("c", "apple", 1, nil); err != nil {
					t.Error(err)
					return
				}
				if i%3 == w%3 {
					if err := d.Sync(t.Context(), c, "c"); err != nil {
						t.Error(err)
						return
					}
				}
			}
		})
	}
	wg.Wait()
	must(t, d.Sync(t.Context(), c, "c"))
	if got := d.Pending("c"); got != 0 {
		t.Errorf("got %d pending, want 0", got)
	}
	if got := node.cart("c").Quantity("apple"); got != workers*adds {
		t.Errorf("node has %d apples, want %d", got, workers*adds)
	}
	if !node.cart("c").Equal(d.CartState("c")) {
		t.Error("the node's cart and the device's differ after a final sync")
	}
}

func TestSyncAll(t *testing.T) {
	node := newFakeNode()
	d := newTestDevice(t, &device.MemoryStorage{}, nil)
	for _, id := range []string{"a", "b", "c"} {
		must(t, d.Add(id, "apple", 1, nil))
	}
	down, err := client.New(client.Config{BaseURL: closedAddr(t), Retries: -1})
	must(t, err)
	err = d.SyncAll(t.Context(), down)
	if !errors.Is(err, client.ErrUnreachable) {
		t.Fatalf("got %v, want ErrUnreachable", err)
	}
	if n := len(err.(interface{ Unwrap() []error }).Unwrap()); n != 1 {
		t.Errorf("got %d errors, want 1: an unreachable node stops SyncAll", n)
	}
	must(t, d.SyncAll(t.Context(), node.client(t)))
	for _, id := range []string{"a", "b", "c"} {
		if got := d.Pending(id); got != 0 {
			t.Errorf("cart %s: got %d pending, want 0", id, got)
		}
		if got := node.cart(id).Quantity("apple"); got != 1 {
			t.Errorf("cart %s: node has %d apples, want 1", id, got)
		}
	}
}

// TestQuietSyncWritesNothing: a sync that learns nothing and acknowledges
// nothing does not rewrite the state (a phone syncing every few seconds).
func TestQuietSyncWritesNothing(t *testing.T) {
	node := newFakeNode()
	store := &device.MemoryStorage{}
	d := newTestDevice(t, store, nil)
	must(t, d.Add("c", "apple", 1, nil))
	must(t, d.Sync(t.Context(), node.client(t), "c"))
	saves := store.Saves()
	must(t, d.Sync(t.Context(), node.client(t), "c"))
	if got := store.Saves(); got != saves {
		t.Errorf("got %d saves from a quiet sync, want 0", got-saves)
	}
}

// TestReplicaReused: a state copied to a second device (or restored from an
// older copy) mints changes under identities the first already used; a
// sync that can tell says so rather than merging.
func TestReplicaReused(t *testing.T) {
	node := newFakeNode()
	first := &device.MemoryStorage{}
	d := newTestDevice(t, first, nil)
	must(t, d.Add("c", "apple", 1, nil))
	copied := &device.MemoryStorage{}
	must(t, copied.Save(first.Bytes()))
	must(t, d.Add("c", "apple", 1, nil))
	must(t, d.Add("c", "apple", 1, nil))
	must(t, d.Sync(t.Context(), node.client(t), "c"))

	clone := newTestDevice(t, copied, nil)
	must(t, clone.Add("c", "pear", 1, nil)) // reuses the dot of the second apple
	err := clone.Sync(t.Context(), node.client(t), "c")
	if !errors.Is(err, device.ErrReplicaReused) {
		t.Fatalf("got %v, want ErrReplicaReused", err)
	}
	if got := clone.Pending("c"); got != 2 {
		t.Errorf("got %d pending, want 2 kept", got)
	}
}

// failingStorage fails every Save while fail is set.
type failingStorage struct {
	device.MemoryStorage
	fail bool
}

var errDiskFull = errors.New("disk full")

func (s *failingStorage) Save(b []byte) error {
	if s.fail {
		return errDiskFull
	}
	return s.MemoryStorage.Save(b)
}

// TestFailedSaveChangesNothing: an edit that could not be saved is not
// applied, and neither is a sync whose result could not be saved.
func TestFailedSaveChangesNothing(t *testing.T) {
	node := newFakeNode()
	store := &failingStorage{}
	d := newTestDevice(t, store, nil)
	must(t, d.Add("c", "apple", 1, nil))
	store.fail = true
	if err := d.Add("c", "pear", 1, nil); !errors.Is(err, errDiskFull) {
		t.Fatalf("got %v, want the storage's error", err)
	}
	if err := d.Sync(t.Context(), node.client(t), "c"); !errors.Is(err, errDiskFull) {
		t.Fatalf("sync: got %v, want the storage's error", err)
	}
	if got, want := lines(d.View("c")), "apple=1@?"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	if got := d.Pending("c"); got != 1 {
		t.Errorf("got %d pending, want 1: the unsaved sync acknowledged nothing", got)
	}
	store.fail = false
	must(t, d.Add("c", "pear", 1, nil))
	must(t, d.Sync(t.Context(), node.client(t), "c"))
	if got, want := lines(node.cart("c").View()), "apple=1@? pear=1@?"; got != want {
		t.Errorf("node: got %q, want %q", got, want)
	}
	reloaded := newTestDevice(t, store, nil)
	if !reloaded.CartState("c").Equal(d.CartState("c")) || reloaded.Pending("c") != 0 {
		t.Error("the saved state is not the device's")
	}
}

func TestViewOfUnknownCart(t *testing.T) {
	d := newTestDevice(t, &device.MemoryStorage{}, nil)
	if got := d.View("nothing"); !reflect.DeepEqual(got, cart.New().View()) {
		t.Errorf("got %+v, want an empty view", got)
	}
	if got := d.Pending("nothing"); got != 0 {
		t.Errorf("got %d pending, want 0", got)
	}
}
