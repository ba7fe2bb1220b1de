package crdt

import (
	"fmt"
	"math"
)

// PNCounter is a counter that can go up and down: a pair of [GCounter]s,
// one for increments and one for decrements.
//
// Specification: its value is the sum of increments minus the sum of
// decrements in the causal history, as an int64. A result outside the int64
// range is reported as ErrOverflow, never wrapped.
//
// The zero value is a counter at zero. A PNCounter is not safe for
// concurrent use.
type PNCounter struct {
	p, n GCounter
}

// Inc adds n > 0 on behalf of replica id and returns the delta.
func (c *PNCounter) Inc(id ReplicaID, n uint64) (delta *PNCounter, err error) {
	return c.apply(id, n, true)
}

// Dec subtracts n > 0 on behalf of replica id and returns the delta.
func (c *PNCounter) Dec(id ReplicaID, n uint64) (delta *PNCounter, err error) {
	return c.apply(id, n, false)
}

func (c *PNCounter) apply(id ReplicaID, n uint64, up bool) (*PNCounter, error) {
	mustValid(id)
	if n == 0 {
		return nil, fmt.Errorf("pncounter: %w", ErrInvalidAmount)
	}
	trial := c.Clone()
	side := &trial.n
	if up {
		side = &trial.p
	}
	d, err := side.Inc(id, n)
	if err != nil {
		return nil, fmt.Errorf("pncounter: %w", err)
	}
	if _, err := trial.Value(); err != nil {
		return nil, err
	}
	*c = *trial
	delta := &PNCounter{}
	if up {
		delta.p = *d
	} else {
		delta.n = *d
	}
	return delta, nil
}

// Value returns increments minus decrements, or ErrOverflow when that does
// not fit an int64.
func (c *PNCounter) Value() (int64, error) {
	p, err := c.p.Value()
	if err != nil {
		return 0, fmt.Errorf("pncounter value: %w", err)
	}
	n, err := c.n.Value()
	if err != nil {
		return 0, fmt.Errorf("pncounter value: %w", err)
	}
	if p >= n {
		if p-n > math.MaxInt64 {
			return 0, fmt.Errorf("pncounter value: %w", ErrOverflow)
		}
		return int64(p - n), nil
	}
	if n-p > 1<<63 {
		return 0, fmt.Errorf("pncounter value: %w", ErrOverflow)
	}
	return int64(-(n - p)), nil
}

// Merge joins o into c and reports whether c changed.
func (c *PNCounter) Merge(o *PNCounter) (changed bool) {
	a := c.p.Merge(&o.p)
	b := c.n.Merge(&o.n)
	return a || b
}

// Clone returns a deep copy of c.
func (c *PNCounter) Clone() *PNCounter {
	return &PNCounter{p: *c.p.Clone(), n: *c.n.Clone()}
}

// Equal reports whether c and o hold the same entries.
func (c *PNCounter) Equal(o *PNCounter) bool { return c.p.Equal(&o.p) && c.n.Equal(&o.n) }

// MarshalBinary returns the canonical encoding of c.
func (c *PNCounter) MarshalBinary() ([]byte, error) {
	e := newEncoder()
	e.ArrayLen(2)
	c.p.encode(e)
	c.n.encode(e)
	return e.bytes()
}

// UnmarshalBinary replaces c with the state encoded in b, leaving c
// unchanged on error.
func (c *PNCounter) UnmarshalBinary(b []byte) error {
	r, err := newReader("pncounter", b)
	if err != nil {
		return err
	}
	out, err := decodePNCounter(r)
	if err == nil {
		err = r.done()
	}
	if err != nil {
		return fmt.Errorf("decode pncounter: %w", err)
	}
	*c = *out
	return nil
}

func decodePNCounter(r *Reader) (*PNCounter, error) {
	n, err := r.ArrayLen(1)
	if err != nil {
		return nil, err
	}
	if n != 2 {
		return nil, r.corrupt("pncounter has %d fields, want 2", n)
	}
	p, err := decodeGCounter(r)
	if err != nil {
		return nil, err
	}
	q, err := decodeGCounter(r)
	if err != nil {
		return nil, err
	}
	return &PNCounter{p: *p, n: *q}, nil
}
