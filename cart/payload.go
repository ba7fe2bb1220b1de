package cart

import (
	"fmt"
	"math"

	"github.com/crdtd/crdtd/crdt"
)

// increment is the payload of an add: n more of the item.
type increment uint64

// EncodePayload implements crdt.Payload.
func (n increment) EncodePayload(e *crdt.Encoder) { e.Uint(uint64(n)) }

// DecodePayload implements crdt.Payload.
func (increment) DecodePayload(r *crdt.Reader) (increment, error) {
	n, err := r.Uint()
	if err != nil {
		return 0, err
	}
	if n < 1 || n > MaxQuantity {
		return 0, errCorrupt("increment %d not in 1..%d", n, MaxQuantity)
	}
	return increment(n), nil
}

// assignment is the payload of a set: quantity q as of an HLC reading. The
// reading's replica is the dot's replica, so it is not stored twice.
type assignment struct {
	q       uint64
	wall    int64
	logical uint32
}

// EncodePayload implements crdt.Payload.
func (a assignment) EncodePayload(e *crdt.Encoder) {
	e.ArrayLen(3)
	e.Uint(a.q)
	e.Int(a.wall)
	e.Uint(uint64(a.logical))
}

// DecodePayload implements crdt.Payload.
func (assignment) DecodePayload(r *crdt.Reader) (assignment, error) {
	q, wall, logical, err := decodeTimed(r)
	if err != nil {
		return assignment{}, err
	}
	if q < 1 || q > MaxQuantity {
		return assignment{}, errCorrupt("assigned quantity %d not in 1..%d", q, MaxQuantity)
	}
	return assignment{q: uint64(q), wall: wall, logical: logical}, nil
}

// pricing is the payload of a price change: cents as of an HLC reading.
type pricing struct {
	cents   int64
	wall    int64
	logical uint32
}

// EncodePayload implements crdt.Payload.
func (p pricing) EncodePayload(e *crdt.Encoder) {
	e.ArrayLen(3)
	e.Int(p.cents)
	e.Int(p.wall)
	e.Uint(uint64(p.logical))
}

// DecodePayload implements crdt.Payload.
func (pricing) DecodePayload(r *crdt.Reader) (pricing, error) {
	cents, wall, logical, err := decodeTimed(r)
	if err != nil {
		return pricing{}, err
	}
	if cents < 0 || cents > MaxPriceCents {
		return pricing{}, errCorrupt("price %d not in 0..%d", cents, MaxPriceCents)
	}
	return pricing{cents: cents, wall: wall, logical: logical}, nil
}

// decodeTimed reads the (value, wall, logical) triple shared by assignment
// and pricing.
func decodeTimed(r *crdt.Reader) (v, wall int64, logical uint32, err error) {
	n, err := r.ArrayLen(1)
	if err != nil {
		return 0, 0, 0, err
	}
	if n != 3 {
		return 0, 0, 0, errCorrupt("timed value has %d fields, want 3", n)
	}
	if v, err = r.Int(); err != nil {
		return 0, 0, 0, err
	}
	if wall, err = r.Int(); err != nil {
		return 0, 0, 0, err
	}
	l, err := r.Uint()
	if err != nil {
		return 0, 0, 0, err
	}
	if l > math.MaxUint32 {
		return 0, 0, 0, errCorrupt("logical clock %d overflows uint32", l)
	}
	return v, wall, uint32(l), nil
}

func errCorrupt(format string, args ...any) error {
	return fmt.Errorf("%w: cart: "+format, append([]any{crdt.ErrCorrupt}, args...)...)
}
