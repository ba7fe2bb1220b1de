package crdt

import "fmt"

// LWWRegister is a last-writer-wins register ordered by hybrid logical
// clock timestamps.
//
// Specification: its value is the value of the write in the causal history
// with the greatest [Timestamp]. Because HLC timestamps respect causality, a
// write made after seeing another always wins over it, whatever the wall
// clocks say; among concurrent writes the greater timestamp wins, the same
// one on every replica.
//
// The zero value is an unset register. An LWWRegister is not safe for
// concurrent use.
type LWWRegister[T Scalar] struct {
	ts    Timestamp
	value T
}

// Set writes v at ts and returns the delta (the write itself). Take ts from
// the writing replica's [HLC]. A write older than the current one is kept
// out: merging it anywhere changes nothing.
func (r *LWWRegister[T]) Set(ts Timestamp, v T) (delta *LWWRegister[T]) {
	mustValid(ts.Replica)
	delta = &LWWRegister[T]{ts: ts, value: v}
	r.Merge(delta)
	return delta
}

// Value returns the current value and whether the register was ever set.
func (r *LWWRegister[T]) Value() (T, bool) { return r.value, !r.ts.IsZero() }

// Timestamp returns the timestamp of the current value (zero if unset).
func (r *LWWRegister[T]) Timestamp() Timestamp { return r.ts }

// Merge joins o into r, keeping the write with the greater timestamp, and
// reports whether r changed.
func (r *LWWRegister[T]) Merge(o *LWWRegister[T]) (changed bool) {
	if o.ts.After(r.ts) {
		r.ts, r.value = o.ts, o.value
		return true
	}
	return false
}

// Clone returns a copy of r.
func (r *LWWRegister[T]) Clone() *LWWRegister[T] { c := *r; return &c }

// Equal reports whether r and o hold the same write.
func (r *LWWRegister[T]) Equal(o *LWWRegister[T]) bool { return r.ts == o.ts && r.value == o.value }

// MarshalBinary returns the canonical encoding of r.
func (r *LWWRegister[T]) MarshalBinary() ([]byte, error) {
	e := newEncoder()
	if r.ts.IsZero() {
		e.ArrayLen(0)
		return e.bytes()
	}
	e.ArrayLen(2)
	e.Timestamp(r.ts)
	encodeScalar(e, r.value)
	return e.bytes()
}

// UnmarshalBinary replaces r with the state encoded in b, leaving r
// unchanged on error.
func (r *LWWRegister[T]) UnmarshalBinary(b []byte) error {
	rd, err := newReader("lww", b)
	if err != nil {
		return err
	}
	out, err := decodeLWW[T](rd)
	if err == nil {
		err = rd.done()
	}
	if err != nil {
		return fmt.Errorf("decode lww: %w", err)
	}
	*r = out
	return nil
}

func decodeLWW[T Scalar](r *Reader) (LWWRegister[T], error) {
	n, err := r.ArrayLen(1)
	if err != nil {
		return LWWRegister[T]{}, err
	}
	switch n {
	case 0:
		return LWWRegister[T]{}, nil
	case 2:
	default:
		return LWWRegister[T]{}, r.corrupt("register has %d fields, want 0 or 2", n)
	}
	ts, err := r.Timestamp()
	if err != nil {
		return LWWRegister[T]{}, err
	}
	v, err := decodeScalar[T](r)
	if err != nil {
		return LWWRegister[T]{}, err
	}
	return LWWRegister[T]{ts: ts, value: v}, nil
}
