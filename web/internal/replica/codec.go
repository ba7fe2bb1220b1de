package replica

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/crdtd/crdtd/api"
	"github.com/crdtd/crdtd/cart"
	"github.com/crdtd/crdtd/crdt"
)

// The saved state, version 1, is
//
//	"crdtd-web" 0x01 id wall logical n (cartID state m (edits delta)*m)*n
//
// where id, cartID, state and delta are a uvarint length and the bytes
// (state and delta are cart.MarshalBinary encodings), wall is a varint,
// and logical, n, m and edits are uvarints. Carts are sorted by ID, so
// equal states encode to equal bytes.
const (
	stateMagic   = "crdtd-web"
	stateVersion = 1
	// maxStateBytes bounds a state Decode reads: browser storage holds a
	// few MiB per site, so anything larger is not one this code saved.
	maxStateBytes = 64 << 20
)

// ErrCorrupt is wrapped by the error of decoding bytes that are not a
// saved state.
var ErrCorrupt = errors.New("corrupt saved state")

// Encode returns the device's state, to keep in browser storage. The
// pending batches keep their edits and deltas; the sealing of batches in
// flight is not saved.
func (d *Device) Encode() ([]byte, error) {
	b := append([]byte(stateMagic), stateVersion)
	b = appendString(b, string(d.id))
	last := d.clock.Last()
	b = binary.AppendVarint(b, last.Wall)
	b = binary.AppendUvarint(b, uint64(last.Logical))
	ids := d.Carts()
	b = binary.AppendUvarint(b, uint64(len(ids)))
	for _, id := range ids {
		e := d.carts[id]
		state, err := e.cart.MarshalBinary()
		if err != nil {
			return nil, fmt.Errorf("encode cart %s: %v", id, err)
		}
		b = appendString(b, id)
		b = appendString(b, string(state))
		b = binary.AppendUvarint(b, uint64(len(e.pending)))
		for _, p := range e.pending {
			delta, err := p.delta.MarshalBinary()
			if err != nil {
				return nil, fmt.Errorf("encode cart %s: %v", id, err)
			}
			b = binary.AppendUvarint(b, uint64(p.edits))
			b = appendString(b, string(delta))
		}
	}
	return b, nil
}

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

// Decode returns the device whose state Encode returned. Every length is
// checked against the bytes left before use, and then what the values
// mean: the ID's form, valid sorted cart IDs, carts that decode, and
// pending deltas the cart holds. It never panics.
func Decode(b []byte) (*Device, error) {
	if len(b) > maxStateBytes {
		return nil, fmt.Errorf("%w: %d bytes, limit %d", ErrCorrupt, len(b), maxStateBytes)
	}
	r := reader{b: b}
	if magic := r.bytes(len(stateMagic)); string(magic) != stateMagic {
		return nil, fmt.Errorf("%w: it does not start with %q", ErrCorrupt, stateMagic)
	}
	if v := r.bytes(1); r.err == nil && v[0] != stateVersion {
		return nil, fmt.Errorf("%w: version %d, this build reads %d", ErrCorrupt, v[0], stateVersion)
	}
	id := r.string()
	wall := r.varint()
	logical := r.uvarint()
	if r.err != nil {
		return nil, r.err
	}
	d, err := New(crdt.ReplicaID(id))
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrCorrupt, err)
	}
	if logical > 1<<32-1 {
		return nil, fmt.Errorf("%w: clock counter %d", ErrCorrupt, logical)
	}
	d.clock.Restore(crdt.Timestamp{Wall: wall, Logical: uint32(logical), Replica: d.id})
	n := r.count()
	prev := ""
	for i := 0; i < n && r.err == nil; i++ {
		cartID := r.string()
		state := r.string()
		m := r.count()
		if r.err != nil {
			break
		}
		if err := api.ValidID(cartID); err != nil || (i > 0 && cartID <= prev) {
			return nil, fmt.Errorf("%w: cart %d: ID %q invalid or out of order", ErrCorrupt, i, cartID)
		}
		prev = cartID
		e := &entry{cart: cart.New()}
		if err := e.cart.UnmarshalBinary([]byte(state)); err != nil {
			return nil, fmt.Errorf("%w: cart %s: %v", ErrCorrupt, cartID, err)
		}
		for j := 0; j < m && r.err == nil; j++ {
			edits := r.uvarint()
			delta := r.string()
			if r.err != nil {
				break
			}
			p := batch{id: d.nextBatch, delta: cart.New()}
			if edits < 1 || edits > 1<<31 {
				return nil, fmt.Errorf("%w: cart %s: batch of %d edits", ErrCorrupt, cartID, edits)
			}
			p.edits = int(edits)
			if err := p.delta.UnmarshalBinary([]byte(delta)); err != nil {
				return nil, fmt.Errorf("%w: cart %s: pending change: %v", ErrCorrupt, cartID, err)
			}
			if e.cart.Changes(p.delta) {
				return nil, fmt.Errorf("%w: cart %s: a pending change the cart lacks", ErrCorrupt, cartID)
			}
			d.nextBatch++
			e.pending = append(e.pending, p)
		}
		// The clock reads past every timestamp the device holds, even if
		// the saved high-water mark were behind.
		if latest := e.cart.Latest(); !latest.IsZero() {
			d.clock.Observe(latest)
		}
		d.carts[cartID] = e
	}
	if r.err == nil && r.off != len(b) {
		r.err = fmt.Errorf("%w: %d trailing bytes", ErrCorrupt, len(b)-r.off)
	}
	if r.err != nil {
		return nil, r.err
	}
	return d, nil
}

// reader reads the saved state, checking every length against the bytes
// left. After the first error every read returns zero values and err
// keeps that error.
type reader struct {
	b   []byte
	off int
	err error
}

func (r *reader) fail(what string) {
	if r.err == nil {
		r.err = fmt.Errorf("%w: %s at offset %d", ErrCorrupt, what, r.off)
	}
}

func (r *reader) bytes(n int) []byte {
	if r.err != nil {
		return nil
	}
	if n < 0 || n > len(r.b)-r.off {
		r.fail("truncated")
		return nil
	}
	s := r.b[r.off : r.off+n : r.off+n]
	r.off += n
	return s
}

func (r *reader) uvarint() uint64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Uvarint(r.b[r.off:])
	if n <= 0 {
		r.fail("bad number")
		return 0
	}
	r.off += n
	return v
}

func (r *reader) varint() int64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Varint(r.b[r.off:])
	if n <= 0 {
		r.fail("bad number")
		return 0
	}
	r.off += n
	return v
}

// count reads a count of items that each take at least one byte.
func (r *reader) count() int {
	v := r.uvarint()
	if v > uint64(len(r.b)-r.off) {
		r.fail("count beyond the bytes left")
		return 0
	}
	return int(v)
}

func (r *reader) string() string {
	n := r.count()
	return string(r.bytes(n))
}
