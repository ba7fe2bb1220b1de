package crdt_test

import (
	"errors"
	"math"
	"testing"

	"github.com/crdtd/crdtd/crdt"
)

func TestGCounterOverflow(t *testing.T) {
	tests := []struct {
		name    string
		start   []uint64 // increments by replicas a, b, ...
		inc     uint64
		wantErr error
		want    uint64
	}{
		{"zero", nil, 0, crdt.ErrInvalidAmount, 0},
		{"to max", []uint64{math.MaxUint64 - 1}, 1, nil, math.MaxUint64},
		{"past max", []uint64{math.MaxUint64}, 1, crdt.ErrOverflow, math.MaxUint64},
		{"past max across replicas", []uint64{math.MaxUint64 / 2, math.MaxUint64 / 2}, 2, crdt.ErrOverflow, math.MaxUint64 - 1},
		{"huge on empty", nil, math.MaxUint64, nil, math.MaxUint64},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var g crdt.GCounter
			for i, n := range tt.start {
				if _, err := g.Inc(rid(i), n); err != nil {
					t.Fatalf("Inc(%d): %v", n, err)
				}
			}
			before := g.Clone()
			d, err := g.Inc("a", tt.inc)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("Inc(%d): got %v, want %v", tt.inc, err, tt.wantErr)
			}
			if err != nil {
				if d != nil || !g.Equal(before) {
					t.Errorf("Inc(%d) failed but returned a delta or changed the counter", tt.inc)
				}
			}
			if got, err := g.Value(); err != nil || got != tt.want {
				t.Errorf("Value: got %d, %v, want %d", got, err, tt.want)
			}
		})
	}
}

// TestGCounterValueOverflow merges two replicas whose entries sum past
// 2^64-1: neither could refuse its own increment, so Value reports it.
func TestGCounterValueOverflow(t *testing.T) {
	var a, b crdt.GCounter
	if _, err := a.Inc("a", math.MaxUint64); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Inc("b", 1); err != nil {
		t.Fatal(err)
	}
	a.Merge(&b)
	if _, err := a.Value(); !errors.Is(err, crdt.ErrOverflow) {
		t.Errorf("Value: got %v, want ErrOverflow", err)
	}
	if _, err := a.Inc("c", 1); !errors.Is(err, crdt.ErrOverflow) {
		t.Errorf("Inc on an overflowed counter: got %v, want ErrOverflow", err)
	}
}

func TestPNCounterOverflow(t *testing.T) {
	type op struct {
		dec bool
		n   uint64
	}
	tests := []struct {
		name    string
		ops     []op
		last    op
		wantErr error
		want    int64
	}{
		{"inc zero", nil, op{false, 0}, crdt.ErrInvalidAmount, 0},
		{"dec zero", nil, op{true, 0}, crdt.ErrInvalidAmount, 0},
		{"to MaxInt64", nil, op{false, math.MaxInt64}, nil, math.MaxInt64},
		{"past MaxInt64", []op{{false, math.MaxInt64}}, op{false, 1}, crdt.ErrOverflow, math.MaxInt64},
		{"to MinInt64", nil, op{true, 1 << 63}, nil, math.MinInt64},
		{"past MinInt64", []op{{true, 1 << 63}}, op{true, 1}, crdt.ErrOverflow, math.MinInt64},
		{"decrement beyond int64 on its own", nil, op{true, 1<<63 + 1}, crdt.ErrOverflow, 0},
		{"increments past uint64", []op{{false, math.MaxInt64}, {true, math.MaxInt64}}, op{false, 1<<63 + 1}, crdt.ErrOverflow, 0},
		{"back inside", []op{{false, math.MaxInt64}}, op{true, 10}, nil, math.MaxInt64 - 10},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var c crdt.PNCounter
			apply := func(o op) (*crdt.PNCounter, error) {
				if o.dec {
					return c.Dec("a", o.n)
				}
				return c.Inc("a", o.n)
			}
			for _, o := range tt.ops {
				if _, err := apply(o); err != nil {
					t.Fatalf("op %+v: %v", o, err)
				}
			}
			before := c.Clone()
			d, err := apply(tt.last)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("op %+v: got %v, want %v", tt.last, err, tt.wantErr)
			}
			if err != nil && (d != nil || !c.Equal(before)) {
				t.Errorf("op %+v failed but returned a delta or changed the counter", tt.last)
			}
			if got, err := c.Value(); err != nil || got != tt.want {
				t.Errorf("Value: got %d, %v, want %d", got, err, tt.want)
			}
		})
	}
}

// TestPNCounterValueOverflow merges replicas whose sums leave the int64
// range in both directions.
func TestPNCounterValueOverflow(t *testing.T) {
	for _, dec := range []bool{false, true} {
		var a, b crdt.PNCounter
		op := (*crdt.PNCounter).Inc
		if dec {
			op = (*crdt.PNCounter).Dec
		}
		if _, err := op(&a, "a", 1<<62); err != nil {
			t.Fatal(err)
		}
		if _, err := op(&b, "b", 1<<62); err != nil {
			t.Fatal(err)
		}
		if _, err := op(&b, "b", 1<<62-1); err != nil {
			t.Fatal(err)
		}
		a.Merge(&b)
		// 2^63 + 2^62 - 1 of one sign: outside int64 either way.
		if _, err := a.Value(); !errors.Is(err, crdt.ErrOverflow) {
			t.Errorf("dec=%v: Value: got %v, want ErrOverflow", dec, err)
		}
	}
}

func TestCounterDeltas(t *testing.T) {
	var g crdt.GCounter
	if _, err := g.Inc("a", 2); err != nil {
		t.Fatal(err)
	}
	d, err := g.Inc("a", 3)
	if err != nil {
		t.Fatal(err)
	}
	// The delta is the replica's whole entry, so it stands in for the
	// earlier increments a receiver may have missed.
	var r crdt.GCounter
	if !r.Merge(d) {
		t.Error("merging a fresh delta reported no change")
	}
	if got, _ := r.Value(); got != 5 {
		t.Errorf("got %d, want 5", got)
	}
	if r.Merge(d) {
		t.Error("merging the same delta twice reported a change")
	}
	// Deltas share nothing with the counter.
	if _, err := g.Inc("a", 1); err != nil {
		t.Fatal(err)
	}
	if got, _ := d.Value(); got != 5 {
		t.Errorf("delta changed by a later Inc: got %d, want 5", got)
	}
	c := g.Clone()
	if _, err := c.Inc("b", 1); err != nil {
		t.Fatal(err)
	}
	if got, _ := g.Value(); got != 6 {
		t.Errorf("Clone shares state: got %d, want 6", got)
	}
	var empty crdt.GCounter
	if got := empty.Clone(); !got.Equal(&empty) {
		t.Error("Clone of an empty counter not Equal")
	}
}
