package crdt

import (
	"encoding/binary"
	"fmt"
	"math"
	"reflect"
	"slices"
	"sync"
)

// EncodingVersion is the version byte that leads every encoding this package
// produces. Decoders reject any other value with ErrVersion.
const EncodingVersion byte = 1

// MaxEncodedSize bounds the size of one encoded state this package will
// decode. It is checked before anything is allocated.
const MaxEncodedSize = 64 << 20

// Encoder writes the canonical msgpack encoding of CRDT states. It is handed
// to [DotStore] and [Payload] implementations so that types built outside
// this package (the cart's lines, for one) encode in the same format.
//
// Dots are written as (index, seq), where index points into the sorted
// replica table of the enclosing causal context; every dot a store holds is
// in its context, so the table is always complete.
//
// It appends msgpack's shortest forms to a byte slice itself: the same
// bytes as a msgpack.Encoder (a test checks every form against one), at a
// fraction of the cost, since a node encodes every delta it logs and every
// changed object its digest hashes.
//
// An Encoder handed to a method is valid only until the method returns.
// It is not safe for concurrent use.
type Encoder struct {
	b        []byte
	replicas []ReplicaID // the context's replica table, sorted
	// last is the index in replicas of the last dot's replica: a store
	// lists its dots sorted, replica by replica, so the next dot's is
	// most often the same and needs no search.
	last int
	pay  []byte // scratch: the payload of the run being written
}

// encoders recycles Encoders, with their replica tables and scratch, from
// one encoding to the next: a node encodes every delta it logs.
var encoders = sync.Pool{New: func() any { return new(Encoder) }}

// newEncoder returns an Encoder for one encoding; bytes ends it.
func newEncoder() *Encoder {
	e := encoders.Get().(*Encoder)
	e.b = make([]byte, 1, 128) // room for a typical delta
	e.b[0] = EncodingVersion
	return e
}

// maxPooledTable bounds the replica table and scratch a recycled Encoder
// keeps; an encoding that needed more lets them go.
const maxPooledTable = 256

// msgpack type codes of the forms the Encoder writes.
const (
	mpUint8    = 0xcc
	mpUint16   = 0xcd
	mpUint32   = 0xce
	mpUint64   = 0xcf
	mpInt8     = 0xd0
	mpInt16    = 0xd1
	mpInt32    = 0xd2
	mpInt64    = 0xd3
	mpFixStr   = 0xa0
	mpStr8     = 0xd9
	mpStr16    = 0xda
	mpStr32    = 0xdb
	mpFixArray = 0x90
	mpArray16  = 0xdc
	mpArray32  = 0xdd
	mpFalse    = 0xc2
	mpTrue     = 0xc3
)

// ArrayLen writes an array header of n elements.
func (e *Encoder) ArrayLen(n int) {
	switch {
	case n < 16:
		e.b = append(e.b, mpFixArray|byte(n))
	case n <= math.MaxUint16:
		e.b = binary.BigEndian.AppendUint16(append(e.b, mpArray16), uint16(n))
	default:
		e.b = binary.BigEndian.AppendUint32(append(e.b, mpArray32), uint32(n))
	}
}

// Uint writes n in its shortest msgpack form.
func (e *Encoder) Uint(n uint64) { e.b = appendUint(e.b, n) }

// uintLen returns the length of n in its shortest msgpack form.
func uintLen(n uint64) int {
	switch {
	case n <= math.MaxInt8:
		return 1
	case n <= math.MaxUint8:
		return 2
	case n <= math.MaxUint16:
		return 3
	case n <= math.MaxUint32:
		return 5
	default:
		return 9
	}
}

// appendUint appends n to b in its shortest msgpack form.
func appendUint(b []byte, n uint64) []byte {
	switch {
	case n <= math.MaxInt8:
		return append(b, byte(n))
	case n <= math.MaxUint8:
		return append(b, mpUint8, byte(n))
	case n <= math.MaxUint16:
		return binary.BigEndian.AppendUint16(append(b, mpUint16), uint16(n))
	case n <= math.MaxUint32:
		return binary.BigEndian.AppendUint32(append(b, mpUint32), uint32(n))
	default:
		return binary.BigEndian.AppendUint64(append(b, mpUint64), n)
	}
}

// Int writes n in its shortest msgpack form.
func (e *Encoder) Int(n int64) {
	switch {
	case n >= 0:
		e.Uint(uint64(n))
	case n >= -32: // negative fixint
		e.b = append(e.b, byte(n))
	case n >= math.MinInt8:
		e.b = append(e.b, mpInt8, byte(n))
	case n >= math.MinInt16:
		e.b = binary.BigEndian.AppendUint16(append(e.b, mpInt16), uint16(n))
	case n >= math.MinInt32:
		e.b = binary.BigEndian.AppendUint32(append(e.b, mpInt32), uint32(n))
	default:
		e.b = binary.BigEndian.AppendUint64(append(e.b, mpInt64), uint64(n))
	}
}

// String writes s.
func (e *Encoder) String(s string) {
	switch n := len(s); {
	case n < 32:
		e.b = append(e.b, mpFixStr|byte(n))
	case n <= math.MaxUint8:
		e.b = append(e.b, mpStr8, byte(n))
	case n <= math.MaxUint16:
		e.b = binary.BigEndian.AppendUint16(append(e.b, mpStr16), uint16(n))
	default:
		e.b = binary.BigEndian.AppendUint32(append(e.b, mpStr32), uint32(n))
	}
	e.b = append(e.b, s...)
}

// Bool writes b.
func (e *Encoder) Bool(b bool) {
	if b {
		e.b = append(e.b, mpTrue)
	} else {
		e.b = append(e.b, mpFalse)
	}
}

// Dot writes d as (replica index, seq). It panics if d's replica is not in
// the context being encoded: a store holding a dot its context lacks is a
// broken invariant.
func (e *Encoder) Dot(d Dot) {
	i := e.last
	if i >= len(e.replicas) || e.replicas[i] != d.Replica {
		var ok bool
		if i, ok = slices.BinarySearch(e.replicas, d.Replica); !ok {
			panic(fmt.Sprintf("crdt: encoding dot %v absent from its causal context", d))
		}
		e.last = i
	}
	e.ArrayLen(2)
	e.Uint(uint64(i))
	e.Uint(d.Seq)
}

// dotRun writes the n dots of a run from first, each followed by payload
// (the encoding of the run's payload; nothing for a DotSet): the same bytes
// as a call of Dot and a write of the payload per dot, at a fraction of
// the cost, since every dot of a run has the same replica index and
// payload.
func (e *Encoder) dotRun(first Dot, n uint64, payload []byte) {
	e.Dot(first)
	b := append(e.b, payload...) // a local slice: no write barrier per append
	i := uint64(e.last)
	// Room for the rest: each dot is at most its array header, the index,
	// the last dot's sequence number and the payload.
	per := 1 + uintLen(i) + uintLen(first.Seq+n-1) + len(payload)
	b = slices.Grow(b, int(min(n-1, 1<<16))*per)
	for k := uint64(1); k < n; k++ {
		b = appendUint(append(b, mpFixArray|2), i)
		b = appendUint(b, first.Seq+k)
		b = append(b, payload...)
	}
	e.b = b
}

// Timestamp writes t as (wall, logical, replica).
func (e *Encoder) Timestamp(t Timestamp) {
	e.ArrayLen(3)
	e.Int(t.Wall)
	e.Uint(uint64(t.Logical))
	e.String(string(t.Replica))
}

// context writes c canonically and installs its replica table for Dot.
func (e *Encoder) context(c *CausalContext) {
	e.replicas, e.last = c.appendReplicas(e.replicas[:0]), 0
	e.ArrayLen(len(c.es))
	for _, ce := range c.es {
		e.ArrayLen(2 + len(ce.cloud))
		e.String(string(ce.r))
		e.Uint(ce.top)
		for _, s := range ce.cloud {
			e.Uint(s)
		}
	}
}

// bytes returns the encoding and recycles e, which must not be used
// again.
func (e *Encoder) bytes() ([]byte, error) {
	b := e.b
	clear(e.replicas) // keeps no replica IDs alive
	if cap(e.replicas) > maxPooledTable || cap(e.pay) > maxPooledTable {
		return b, nil
	}
	*e = Encoder{replicas: e.replicas[:0], pay: e.pay[:0]}
	encoders.Put(e)
	return b, nil
}

// Reader decodes what Encoder wrote, bounded: every length is checked against
// the bytes that remain before anything is allocated, decoding goes into
// concrete types only, and nothing recurses on input-controlled depth. It
// never panics on any input.
//
// A Reader is not safe for concurrent use.
type Reader struct {
	b        []byte
	off      int
	replicas []ReplicaID
}

func newReader(what string, b []byte) (*Reader, error) {
	if len(b) == 0 {
		return nil, fmt.Errorf("decode %s: %w: empty input", what, ErrCorrupt)
	}
	if len(b) > MaxEncodedSize {
		return nil, fmt.Errorf("decode %s: %w: %d bytes exceeds limit %d", what, ErrCorrupt, len(b), MaxEncodedSize)
	}
	if b[0] != EncodingVersion {
		return nil, fmt.Errorf("decode %s: %w %d", what, ErrVersion, b[0])
	}
	return &Reader{b: b, off: 1}, nil
}

// Remaining returns the number of bytes not yet read.
func (r *Reader) Remaining() int { return len(r.b) - r.off }

func (r *Reader) corrupt(format string, args ...any) error {
	return fmt.Errorf("%w: "+format+" at offset %d", append([]any{ErrCorrupt}, append(args, r.off)...)...)
}

func (r *Reader) next() (byte, error) {
	if r.off >= len(r.b) {
		return 0, r.corrupt("unexpected end of input")
	}
	c := r.b[r.off]
	r.off++
	return c, nil
}

func (r *Reader) bigEndian(n int) (uint64, error) {
	if r.Remaining() < n {
		return 0, r.corrupt("truncated %d-byte number", n)
	}
	var v uint64
	for _, c := range r.b[r.off : r.off+n] {
		v = v<<8 | uint64(c)
	}
	r.off += n
	return v, nil
}

// ArrayLen reads an array header and checks that n elements of at least
// minElem bytes each fit in what remains.
func (r *Reader) ArrayLen(minElem int) (int, error) {
	c, err := r.next()
	if err != nil {
		return 0, err
	}
	var n uint64
	switch {
	case c&0xf0 == 0x90:
		n = uint64(c & 0x0f)
	case c == 0xdc:
		n, err = r.bigEndian(2)
	case c == 0xdd:
		n, err = r.bigEndian(4)
	default:
		return 0, r.corrupt("want array, got code 0x%02x", c)
	}
	if err != nil {
		return 0, err
	}
	minElem = max(minElem, 1)
	if n > uint64(r.Remaining()/minElem) {
		return 0, r.corrupt("array of %d elements cannot fit in %d bytes", n, r.Remaining())
	}
	return int(n), nil
}

// Uint reads a non-negative integer in any msgpack integer form.
func (r *Reader) Uint() (uint64, error) {
	c, err := r.next()
	if err != nil {
		return 0, err
	}
	switch {
	case c <= 0x7f:
		return uint64(c), nil
	case c == 0xcc:
		return r.bigEndian(1)
	case c == 0xcd:
		return r.bigEndian(2)
	case c == 0xce:
		return r.bigEndian(4)
	case c == 0xcf:
		return r.bigEndian(8)
	case c >= 0xd0 && c <= 0xd3, c >= 0xe0:
		r.off--
		v, err := r.Int()
		if err != nil {
			return 0, err
		}
		if v < 0 {
			return 0, r.corrupt("negative value %d where unsigned expected", v)
		}
		return uint64(v), nil
	}
	return 0, r.corrupt("want integer, got code 0x%02x", c)
}

// Int reads a signed integer in any msgpack integer form.
func (r *Reader) Int() (int64, error) {
	c, err := r.next()
	if err != nil {
		return 0, err
	}
	switch {
	case c <= 0x7f:
		return int64(c), nil
	case c >= 0xe0:
		return int64(int8(c)), nil
	case c == 0xd0:
		v, err := r.bigEndian(1)
		return int64(int8(v)), err
	case c == 0xd1:
		v, err := r.bigEndian(2)
		return int64(int16(v)), err
	case c == 0xd2:
		v, err := r.bigEndian(4)
		return int64(int32(v)), err
	case c == 0xd3:
		v, err := r.bigEndian(8)
		return int64(v), err
	case c >= 0xcc && c <= 0xcf:
		r.off--
		v, err := r.Uint()
		if err != nil {
			return 0, err
		}
		if v > 1<<63-1 {
			return 0, r.corrupt("value %d overflows int64", v)
		}
		return int64(v), nil
	}
	return 0, r.corrupt("want integer, got code 0x%02x", c)
}

// Bool reads a boolean.
func (r *Reader) Bool() (bool, error) {
	c, err := r.next()
	if err != nil {
		return false, err
	}
	switch c {
	case 0xc2:
		return false, nil
	case 0xc3:
		return true, nil
	}
	return false, r.corrupt("want bool, got code 0x%02x", c)
}

// String reads a string of at most maxLen bytes.
func (r *Reader) String(maxLen int) (string, error) {
	c, err := r.next()
	if err != nil {
		return "", err
	}
	var n uint64
	switch {
	case c&0xe0 == 0xa0:
		n = uint64(c & 0x1f)
	case c == 0xd9:
		n, err = r.bigEndian(1)
	case c == 0xda:
		n, err = r.bigEndian(2)
	case c == 0xdb:
		n, err = r.bigEndian(4)
	default:
		return "", r.corrupt("want string, got code 0x%02x", c)
	}
	if err != nil {
		return "", err
	}
	if n > uint64(maxLen) {
		return "", r.corrupt("string of %d bytes exceeds limit %d", n, maxLen)
	}
	if n > uint64(r.Remaining()) {
		return "", r.corrupt("string of %d bytes cannot fit in %d bytes", n, r.Remaining())
	}
	s := string(r.b[r.off : r.off+int(n)])
	r.off += int(n)
	return s, nil
}

// ReplicaID reads and validates a replica ID.
func (r *Reader) ReplicaID() (ReplicaID, error) {
	s, err := r.String(MaxReplicaIDLen)
	if err != nil {
		return "", err
	}
	if err := validReplicaID(s); err != nil {
		return "", r.corrupt("%v", err)
	}
	return ReplicaID(s), nil
}

// Dot reads a dot written by [Encoder.Dot] and checks it against the
// enclosing context's replica table.
func (r *Reader) Dot() (Dot, error) {
	n, err := r.ArrayLen(1)
	if err != nil {
		return Dot{}, err
	}
	if n != 2 {
		return Dot{}, r.corrupt("dot has %d fields, want 2", n)
	}
	i, err := r.Uint()
	if err != nil {
		return Dot{}, err
	}
	if i >= uint64(len(r.replicas)) {
		return Dot{}, r.corrupt("dot replica index %d out of range %d", i, len(r.replicas))
	}
	s, err := r.Uint()
	if err != nil {
		return Dot{}, err
	}
	if s == 0 || s > MaxSeq {
		return Dot{}, r.corrupt("dot sequence %d not in 1..%d", s, MaxSeq)
	}
	return Dot{Replica: r.replicas[i], Seq: s}, nil
}

// Timestamp reads a timestamp written by [Encoder.Timestamp].
func (r *Reader) Timestamp() (Timestamp, error) {
	n, err := r.ArrayLen(1)
	if err != nil {
		return Timestamp{}, err
	}
	if n != 3 {
		return Timestamp{}, r.corrupt("timestamp has %d fields, want 3", n)
	}
	var t Timestamp
	if t.Wall, err = r.Int(); err != nil {
		return Timestamp{}, err
	}
	l, err := r.Uint()
	if err != nil {
		return Timestamp{}, err
	}
	if l > 1<<32-1 {
		return Timestamp{}, r.corrupt("logical clock %d overflows uint32", l)
	}
	t.Logical = uint32(l)
	if t.Replica, err = r.ReplicaID(); err != nil {
		return Timestamp{}, err
	}
	return t, nil
}

// context reads a causal context and installs its replica table.
func (r *Reader) context() (CausalContext, error) {
	n, err := r.ArrayLen(3)
	if err != nil {
		return CausalContext{}, err
	}
	if n > MaxReplicas {
		return CausalContext{}, r.corrupt("context names %d replicas, limit %d", n, MaxReplicas)
	}
	var c CausalContext
	r.replicas = make([]ReplicaID, 0, min(n, 64)) // a hint from the input is capped
	for range n {
		m, err := r.ArrayLen(1)
		if err != nil {
			return CausalContext{}, err
		}
		if m < 2 {
			return CausalContext{}, r.corrupt("context entry has %d fields, want >= 2", m)
		}
		id, err := r.ReplicaID()
		if err != nil {
			return CausalContext{}, err
		}
		if k := len(r.replicas); k > 0 && r.replicas[k-1] >= id {
			return CausalContext{}, r.corrupt("context replicas not strictly sorted")
		}
		r.replicas = append(r.replicas, id)
		top, err := r.Uint()
		if err != nil {
			return CausalContext{}, err
		}
		if top > MaxSeq {
			return CausalContext{}, r.corrupt("context claims %s up to %d, beyond %d", id, top, MaxSeq)
		}
		ce := ctxEntry{r: id, top: top}
		if m > 2 {
			ce.cloud = make([]uint64, 0, m-2) // m-2 cloud values follow: ArrayLen checked they fit in what remains
		}
		prev := top
		for range m - 2 {
			s, err := r.Uint()
			if err != nil {
				return CausalContext{}, err
			}
			// Canonical clouds are sorted, above the vector and not adjacent to
			// it (adjacent dots would have been compacted).
			if s <= prev || (prev == top && s == top+1) {
				return CausalContext{}, r.corrupt("context cloud for %s not canonical", id)
			}
			if s > MaxSeq {
				return CausalContext{}, r.corrupt("context claims %s:%d, beyond %d", id, s, MaxSeq)
			}
			prev = s
			ce.cloud = append(ce.cloud, s)
		}
		if top == 0 && m == 2 {
			return CausalContext{}, r.corrupt("empty context entry for %s", id)
		}
		c.es = append(c.es, ce)
	}
	return c, nil
}

// done checks that every byte was consumed.
func (r *Reader) done() error {
	if r.Remaining() != 0 {
		return r.corrupt("%d trailing bytes", r.Remaining())
	}
	return nil
}

// Key is the constraint on OR-Set elements and OR-Map keys: ordered scalar
// types with a canonical encoding.
type Key interface {
	~string | ~int | ~int64 | ~uint64
}

// Scalar is the constraint on LWW-Register values.
type Scalar interface {
	~string | ~int | ~int64 | ~uint64 | ~bool
}

// MaxReplicas bounds how many replicas one decoded causal context or
// counter may name. Replicas are nodes that ever edited the object (a node
// keeps one replica ID for life, and gets a new one only when its data is
// lost), so real objects name a few; the bound stops a peer from making
// every node store and gossip an object padded with millions of IDs.
const MaxReplicas = 4096

// MaxStringLen bounds the length of any string element, key or value this
// package decodes.
const MaxStringLen = 1 << 20

func encodeScalar[T Scalar](e *Encoder, v T) {
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.String:
		e.String(rv.String())
	case reflect.Int, reflect.Int64:
		e.Int(rv.Int())
	case reflect.Uint64:
		e.Uint(rv.Uint())
	case reflect.Bool:
		e.Bool(rv.Bool())
	default:
		panic("crdt: unsupported scalar kind " + rv.Kind().String())
	}
}

func decodeScalar[T Scalar](r *Reader) (T, error) {
	var v T
	rv := reflect.ValueOf(&v).Elem()
	switch rv.Kind() {
	case reflect.String:
		s, err := r.String(MaxStringLen)
		if err != nil {
			return v, err
		}
		rv.SetString(s)
	case reflect.Int, reflect.Int64:
		n, err := r.Int()
		if err != nil {
			return v, err
		}
		if rv.OverflowInt(n) {
			return v, r.corrupt("value %d overflows %s", n, rv.Type())
		}
		rv.SetInt(n)
	case reflect.Uint64:
		n, err := r.Uint()
		if err != nil {
			return v, err
		}
		rv.SetUint(n)
	case reflect.Bool:
		b, err := r.Bool()
		if err != nil {
			return v, err
		}
		rv.SetBool(b)
	default:
		panic("crdt: unsupported scalar kind " + rv.Kind().String())
	}
	return v, nil
}
