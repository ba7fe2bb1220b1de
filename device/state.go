package device

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"maps"
	"math"
	"slices"

	"github.com/vmihailenco/msgpack/v5"

	"github.com/crdtd/crdtd/api"
	"github.com/crdtd/crdtd/cart"
	"github.com/crdtd/crdtd/crdt"
)

// The saved state, version 1, is one msgpack array:
//
//	["crdtd-device", 1, id, [wall, logical], [cart...]]
//	cart = [cart ID, state, [[edits, delta]...]]
//
// id is the device's replica ID; wall and logical are the clock's
// high-water mark; state and each pending delta are bin fields holding
// cart.MarshalBinary encodings; edits counts the edits joined in a delta.
// Carts are sorted by ID and pending deltas oldest first, so equal states
// encode to equal bytes.
const (
	stateMagic   = "crdtd-device"
	stateVersion = 1
)

// MaxStateBytes bounds the saved state a device loads (256 MiB): a few
// hundred full carts. Storage checks it before reading a file into memory.
const MaxStateBytes = 256 << 20

// maxBatchEdits bounds the edit count of one pending batch in a saved
// state, so that a cart's sum fits an int everywhere.
const maxBatchEdits = math.MaxInt32

var (
	// ErrCorrupt is wrapped by the error of loading a saved state that is
	// not one: truncated, altered, or another file. The device refuses to
	// start rather than start over, which would lose its unsynced edits;
	// the message says what is wrong and where.
	ErrCorrupt = errors.New("corrupt device state")
	// ErrVersion is wrapped by the error of loading a saved state written
	// in a format this build does not read (by a newer build).
	ErrVersion = errors.New("unsupported device state version")
)

// encodeLocked encodes the device's state with cartID's replica replaced
// by next (when next is not nil). The caller holds d.mu.
func (d *Device) encodeLocked(cartID string, next *replica) ([]byte, error) {
	ids := slices.Collect(maps.Keys(d.carts))
	if next != nil && d.carts[cartID] == nil {
		ids = append(ids, cartID)
	}
	slices.Sort(ids)
	var buf bytes.Buffer
	enc := msgpack.NewEncoder(&buf)
	last := d.clock.Last()
	err := errors.Join(enc.EncodeArrayLen(5), enc.EncodeString(stateMagic), enc.EncodeUint(stateVersion),
		enc.EncodeString(string(d.id)), enc.EncodeArrayLen(2), enc.EncodeInt(last.Wall),
		enc.EncodeUint(uint64(last.Logical)), enc.EncodeArrayLen(len(ids)))
	if err != nil {
		return nil, fmt.Errorf("encode device state: %v", err)
	}
	for _, id := range ids {
		r := d.carts[id]
		if id == cartID && next != nil {
			r = next
		}
		buf.Write(r.enc)
	}
	return buf.Bytes(), nil
}

// encodeReplica encodes one cart of the state file.
func encodeReplica(cartID string, r *replica) ([]byte, error) {
	state, err := r.cart.MarshalBinary()
	if err != nil {
		return nil, fmt.Errorf("encode cart %s: %v", cartID, err)
	}
	var buf bytes.Buffer
	enc := msgpack.NewEncoder(&buf)
	errs := []error{enc.EncodeArrayLen(3), enc.EncodeString(cartID), enc.EncodeBytes(state),
		enc.EncodeArrayLen(len(r.pending))}
	for _, b := range r.pending {
		errs = append(errs, enc.EncodeArrayLen(2), enc.EncodeUint(uint64(b.edits)), enc.EncodeBytes(b.enc))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("encode cart %s: %v", cartID, err)
	}
	return buf.Bytes(), nil
}

// decode installs the state encoded in b into d, a device being created.
// It checks every length against the bytes left before allocating, and
// then what the values mean: a valid replica ID of the form devices use,
// valid and sorted cart IDs, decodable carts, and pending deltas that the
// cart holds (a pending change the cart lacks would be sent, yet never
// shown). It never panics; on error d is unusable.
func (d *Device) decode(b []byte) error {
	if len(b) > MaxStateBytes {
		return fmt.Errorf("%w: %d bytes, limit %d", ErrCorrupt, len(b), MaxStateBytes)
	}
	// Every version starts with the mark and the version number, so that
	// another file and a newer format get errors that say so.
	r := &stateReader{b: b}
	n, err := r.arrayLen(1)
	if err == nil && n >= 2 {
		var mark string
		if mark, err = r.str(len(stateMagic)); err == nil && mark != stateMagic {
			err = errors.New("wrong mark")
		}
	}
	if err != nil || n < 2 {
		return fmt.Errorf("%w: not a device state (it does not start with the %q mark)", ErrCorrupt, stateMagic)
	}
	v, err := r.uint()
	if err != nil {
		return err
	}
	if v != stateVersion {
		return fmt.Errorf("%w %d: this build reads version %d", ErrVersion, v, stateVersion)
	}
	if n != 5 {
		return r.fail("the state has %d fields, want 5", n)
	}
	id, err := r.str(crdt.MaxReplicaIDLen)
	if err != nil {
		return err
	}
	if !validID(id) {
		return r.fail("replica ID %q is not %s and 16 hex digits", id, IDPrefix)
	}
	d.id = crdt.ReplicaID(id)
	if d.clock, err = crdt.NewHLC(d.id); err != nil {
		return r.fail("%v", err)
	}
	mark, err := r.clockMark()
	if err != nil {
		return err
	}
	mark.Replica = d.id
	d.clock.Restore(mark)
	ncarts, err := r.arrayLen(4)
	if err != nil {
		return err
	}
	prev := ""
	for range ncarts {
		cartID, rep, err := r.replica(d)
		if err != nil {
			return err
		}
		if cartID <= prev {
			return r.fail("cart %q out of order after %q", cartID, prev)
		}
		prev = cartID
		d.carts[cartID] = rep
		// The clock restarts past every timestamp the device issued: the
		// saved mark covers them, and so does every cart's latest
		// assignment, in case the mark was lost to an edit of the file.
		if latest := rep.cart.Latest(); !latest.IsZero() {
			d.clock.Observe(latest)
		}
	}
	if r.off != len(r.b) {
		return r.fail("%d bytes after the state", len(r.b)-r.off)
	}
	return nil
}

func (r *stateReader) clockMark() (crdt.Timestamp, error) {
	n, err := r.arrayLen(1)
	if err != nil {
		return crdt.Timestamp{}, err
	}
	if n != 2 {
		return crdt.Timestamp{}, r.fail("clock mark has %d fields, want 2", n)
	}
	wall, err := r.int()
	if err != nil {
		return crdt.Timestamp{}, err
	}
	logical, err := r.uint()
	if err != nil {
		return crdt.Timestamp{}, err
	}
	if logical > math.MaxUint32 {
		return crdt.Timestamp{}, r.fail("clock mark's logical part %d overflows 32 bits", logical)
	}
	return crdt.Timestamp{Wall: wall, Logical: uint32(logical)}, nil
}

// replica reads one cart of the state and gives its pending batches IDs
// from d.nextBatch.
func (r *stateReader) replica(d *Device) (string, *replica, error) {
	n, err := r.arrayLen(1)
	if err != nil {
		return "", nil, err
	}
	if n != 3 {
		return "", nil, r.fail("cart has %d fields, want 3", n)
	}
	cartID, err := r.str(api.MaxIDLength)
	if err != nil {
		return "", nil, err
	}
	if err := api.ValidID(cartID); err != nil {
		return "", nil, r.fail("cart ID: %v", err)
	}
	state, err := r.bin()
	if err != nil {
		return "", nil, err
	}
	c := cart.New()
	if err := c.UnmarshalBinary(state); err != nil {
		return "", nil, r.fail("cart %s: %v", cartID, err)
	}
	nb, err := r.arrayLen(4)
	if err != nil {
		return "", nil, err
	}
	rep := &replica{cart: c, pending: make([]batch, 0, nb)}
	for range nb {
		if m, err := r.arrayLen(1); err != nil {
			return "", nil, err
		} else if m != 2 {
			return "", nil, r.fail("cart %s: pending change has %d fields, want 2", cartID, m)
		}
		edits, err := r.uint()
		if err != nil {
			return "", nil, err
		}
		if edits < 1 || edits > maxBatchEdits {
			return "", nil, r.fail("cart %s: pending edit count %d not in 1..%d", cartID, edits, maxBatchEdits)
		}
		in, err := r.bin()
		if err != nil {
			return "", nil, err
		}
		delta := cart.New()
		if err := delta.UnmarshalBinary(in); err != nil {
			return "", nil, r.fail("cart %s: pending change: %v", cartID, err)
		}
		if c.Changes(delta) {
			return "", nil, r.fail("cart %s: a pending change is not in the cart", cartID)
		}
		if rep.edits > math.MaxInt-int(edits) {
			return "", nil, r.fail("cart %s: pending edit count overflows", cartID)
		}
		rep.edits += int(edits)
		// Re-encode rather than keep the input's bytes, so that the next
		// save writes the canonical form whatever encoding the file used.
		b, err := newBatch(d.nextBatch, int(edits), delta)
		if err != nil {
			return "", nil, err
		}
		rep.pending = append(rep.pending, b)
		d.nextBatch++
	}
	if rep.enc, err = encodeReplica(cartID, rep); err != nil {
		return "", nil, err
	}
	return cartID, rep, nil
}

// stateReader reads the msgpack forms of a saved state, checking each
// length against the bytes left before it allocates anything.
type stateReader struct {
	b   []byte
	off int
}

func (r *stateReader) fail(format string, args ...any) error {
	return fmt.Errorf("%w: %s (at byte %d)", ErrCorrupt, fmt.Sprintf(format, args...), r.off)
}

func (r *stateReader) code() (byte, error) {
	if r.off >= len(r.b) {
		return 0, r.fail("truncated")
	}
	c := r.b[r.off]
	r.off++
	return c, nil
}

// be reads an n-byte big-endian number.
func (r *stateReader) be(n int) (uint64, error) {
	if len(r.b)-r.off < n {
		return 0, r.fail("truncated")
	}
	p := r.b[r.off : r.off+n]
	r.off += n
	switch n {
	case 1:
		return uint64(p[0]), nil
	case 2:
		return uint64(binary.BigEndian.Uint16(p)), nil
	case 4:
		return uint64(binary.BigEndian.Uint32(p)), nil
	default:
		return binary.BigEndian.Uint64(p), nil
	}
}

// arrayLen reads an array header whose elements take at least minBytes
// each, and checks that they can fit in what is left.
func (r *stateReader) arrayLen(minBytes int) (int, error) {
	c, err := r.code()
	if err != nil {
		return 0, err
	}
	var n uint64
	switch {
	case c >= 0x90 && c <= 0x9f:
		n = uint64(c - 0x90)
	case c == 0xdc:
		n, err = r.be(2)
	case c == 0xdd:
		n, err = r.be(4)
	default:
		return 0, r.fail("want an array, got type byte 0x%02x", c)
	}
	if err != nil {
		return 0, err
	}
	if n > uint64((len(r.b)-r.off)/minBytes) {
		return 0, r.fail("array of %d cannot fit in the %d bytes left", n, len(r.b)-r.off)
	}
	return int(n), nil
}

// uint reads a non-negative integer in any msgpack form.
func (r *stateReader) uint() (uint64, error) {
	c, err := r.code()
	if err != nil {
		return 0, err
	}
	switch {
	case c <= 0x7f:
		return uint64(c), nil
	case c >= 0xe0:
		return 0, r.fail("negative number %d", int8(c))
	case c >= 0xcc && c <= 0xcf:
		return r.be(1 << (c - 0xcc))
	case c >= 0xd0 && c <= 0xd3:
		v, err := r.signed(c)
		if err == nil && v < 0 {
			err = r.fail("negative number %d", v)
		}
		return uint64(v), err
	}
	return 0, r.fail("want a number, got type byte 0x%02x", c)
}

// int reads an integer that fits an int64, in any msgpack form.
func (r *stateReader) int() (int64, error) {
	c, err := r.code()
	if err != nil {
		return 0, err
	}
	switch {
	case c <= 0x7f:
		return int64(c), nil
	case c >= 0xe0:
		return int64(int8(c)), nil
	case c >= 0xcc && c <= 0xcf:
		v, err := r.be(1 << (c - 0xcc))
		if err == nil && v > math.MaxInt64 {
			err = r.fail("number %d overflows 64 bits", v)
		}
		return int64(v), err
	case c >= 0xd0 && c <= 0xd3:
		return r.signed(c)
	}
	return 0, r.fail("want a number, got type byte 0x%02x", c)
}

// signed reads the body of the signed form c (0xd0..0xd3).
func (r *stateReader) signed(c byte) (int64, error) {
	n := 1 << (c - 0xd0)
	v, err := r.be(n)
	if err != nil {
		return 0, err
	}
	shift := 64 - 8*n
	return int64(v<<shift) >> shift, nil // sign-extend
}

// str reads a string of at most maxLen bytes.
func (r *stateReader) str(maxLen int) (string, error) {
	c, err := r.code()
	if err != nil {
		return "", err
	}
	var n uint64
	switch {
	case c >= 0xa0 && c <= 0xbf:
		n = uint64(c - 0xa0)
	case c >= 0xd9 && c <= 0xdb:
		n, err = r.be(1 << (c - 0xd9))
	default:
		return "", r.fail("want a string, got type byte 0x%02x", c)
	}
	if err != nil {
		return "", err
	}
	if n > uint64(maxLen) {
		return "", r.fail("string of %d bytes, limit %d", n, maxLen)
	}
	if n > uint64(len(r.b)-r.off) {
		return "", r.fail("string of %d bytes cannot fit in the %d bytes left", n, len(r.b)-r.off)
	}
	s := string(r.b[r.off : r.off+int(n)])
	r.off += int(n)
	return s, nil
}

// bin reads a byte string; the result aliases the input.
func (r *stateReader) bin() ([]byte, error) {
	c, err := r.code()
	if err != nil {
		return nil, err
	}
	if c < 0xc4 || c > 0xc6 {
		return nil, r.fail("want bytes, got type byte 0x%02x", c)
	}
	n, err := r.be(1 << (c - 0xc4))
	if err != nil {
		return nil, err
	}
	if n > uint64(len(r.b)-r.off) {
		return nil, r.fail("%d bytes cannot fit in the %d left", n, len(r.b)-r.off)
	}
	p := r.b[r.off : r.off+int(n) : r.off+int(n)]
	r.off += int(n)
	return p, nil
}
