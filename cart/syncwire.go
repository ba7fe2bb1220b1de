package cart

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/vmihailenco/msgpack/v5"

	"github.com/crdtd/crdtd/crdt"
)

// SyncVersion is the version of the device sync wire format.
const SyncVersion = 1

// SyncContentType is the media type of sync requests and answers.
const SyncContentType = "application/vnd.crdtd.sync+msgpack"

// ErrSyncFormat reports bytes that are not a sync message this build reads.
var ErrSyncFormat = errors.New("malformed sync message")

// SyncRequest is what a device sends to a node for one cart: its replica
// ID, the causal context of its replica of the cart (what it has seen), and
// its changes the node has not acknowledged yet (an empty cart when there
// are none). On the wire it is a msgpack array
// [version, device, context, delta], the last two as bin holding the
// encodings of crdt.CausalContext and Cart.
type SyncRequest struct {
	Device  crdt.ReplicaID
	Context crdt.CausalContext
	Delta   *Cart
}

// SyncResponse is a node's answer, made by Cart.DeltaFor for the device's
// context: the node's changes the device lacks, with the node's whole
// causal context so that removals reach the device (Delta), and the changes
// of the node's lines the device has seen (Seen). The device merges them
// with Cart.MergeDeltaFor. On the wire it is a msgpack array
// [version, delta, seen], the last two as bin.
type SyncResponse struct {
	Delta *Cart
	Seen  crdt.CausalContext
}

// MarshalBinary encodes the request.
func (r *SyncRequest) MarshalBinary() ([]byte, error) {
	ctx, err := r.Context.MarshalBinary()
	if err != nil {
		return nil, err
	}
	delta := r.Delta
	if delta == nil {
		delta = New()
	}
	d, err := delta.MarshalBinary()
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	enc := msgpack.NewEncoder(&buf)
	err = errors.Join(enc.EncodeArrayLen(4), enc.EncodeUint(SyncVersion), enc.EncodeString(string(r.Device)),
		enc.EncodeBytes(ctx), enc.EncodeBytes(d))
	return buf.Bytes(), err
}

// UnmarshalBinary decodes a request, bounded and validated like every
// decoder of outside bytes; on error r is unchanged.
func (r *SyncRequest) UnmarshalBinary(b []byte) error {
	w := wireReader{b: b}
	if err := w.header(4); err != nil {
		return err
	}
	dev, err := w.str(crdt.MaxReplicaIDLen)
	if err != nil {
		return err
	}
	id, err := crdt.ParseReplicaID(dev)
	if err != nil {
		return fmt.Errorf("%w: device: %v", ErrSyncFormat, err)
	}
	ctxBytes, err := w.bin()
	if err != nil {
		return err
	}
	deltaBytes, err := w.bin()
	if err != nil {
		return err
	}
	if err := w.done(); err != nil {
		return err
	}
	var ctx crdt.CausalContext
	if err := ctx.UnmarshalBinary(ctxBytes); err != nil {
		return fmt.Errorf("%w: context: %v", ErrSyncFormat, err)
	}
	delta := New()
	if err := delta.UnmarshalBinary(deltaBytes); err != nil {
		return fmt.Errorf("%w: delta: %v", ErrSyncFormat, err)
	}
	*r = SyncRequest{Device: id, Context: ctx, Delta: delta}
	return nil
}

// MarshalBinary encodes the response.
func (r *SyncResponse) MarshalBinary() ([]byte, error) {
	delta := r.Delta
	if delta == nil {
		delta = New()
	}
	d, err := delta.MarshalBinary()
	if err != nil {
		return nil, err
	}
	seen, err := r.Seen.MarshalBinary()
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	enc := msgpack.NewEncoder(&buf)
	err = errors.Join(enc.EncodeArrayLen(3), enc.EncodeUint(SyncVersion), enc.EncodeBytes(d), enc.EncodeBytes(seen))
	return buf.Bytes(), err
}

// UnmarshalBinary decodes a response; on error r is unchanged.
func (r *SyncResponse) UnmarshalBinary(b []byte) error {
	w := wireReader{b: b}
	if err := w.header(3); err != nil {
		return err
	}
	deltaBytes, err := w.bin()
	if err != nil {
		return err
	}
	seenBytes, err := w.bin()
	if err != nil {
		return err
	}
	if err := w.done(); err != nil {
		return err
	}
	delta := New()
	if err := delta.UnmarshalBinary(deltaBytes); err != nil {
		return fmt.Errorf("%w: delta: %v", ErrSyncFormat, err)
	}
	var seen crdt.CausalContext
	if err := seen.UnmarshalBinary(seenBytes); err != nil {
		return fmt.Errorf("%w: seen: %v", ErrSyncFormat, err)
	}
	*r = SyncResponse{Delta: delta, Seen: seen}
	return nil
}

// wireReader reads the few msgpack forms of a sync envelope, checking every
// length against the bytes left before using it.
type wireReader struct {
	b   []byte
	off int
}

func (w *wireReader) fail(format string, args ...any) error {
	return fmt.Errorf("%w: %s at offset %d", ErrSyncFormat, fmt.Sprintf(format, args...), w.off)
}

func (w *wireReader) byte() (byte, error) {
	if w.off >= len(w.b) {
		return 0, w.fail("truncated")
	}
	c := w.b[w.off]
	w.off++
	return c, nil
}

// length reads an n-byte big-endian length.
func (w *wireReader) length(n int) (int, error) {
	if len(w.b)-w.off < n {
		return 0, w.fail("truncated length")
	}
	var v uint64
	switch n {
	case 1:
		v = uint64(w.b[w.off])
	case 2:
		v = uint64(binary.BigEndian.Uint16(w.b[w.off:]))
	case 4:
		v = uint64(binary.BigEndian.Uint32(w.b[w.off:]))
	}
	w.off += n
	if v > uint64(len(w.b)-w.off) {
		return 0, w.fail("length %d beyond the %d bytes left", v, len(w.b)-w.off)
	}
	return int(v), nil
}

// header reads the array of n fields and the version that leads it.
func (w *wireReader) header(n int) error {
	c, err := w.byte()
	if err != nil {
		return err
	}
	if c != 0x90|byte(n) {
		return w.fail("want an array of %d fields", n)
	}
	v, err := w.byte()
	if err != nil {
		return err
	}
	if v != SyncVersion {
		return w.fail("version %d, want %d", v, SyncVersion)
	}
	return nil
}

func (w *wireReader) str(maxLen int) (string, error) {
	c, err := w.byte()
	if err != nil {
		return "", err
	}
	var n int
	switch {
	case c&0xe0 == 0xa0:
		n = int(c & 0x1f)
		if n > len(w.b)-w.off {
			return "", w.fail("truncated string")
		}
	case c == 0xd9:
		if n, err = w.length(1); err != nil {
			return "", err
		}
	default:
		return "", w.fail("want a short string")
	}
	if n > maxLen {
		return "", w.fail("string of %d bytes, limit %d", n, maxLen)
	}
	s := string(w.b[w.off : w.off+n])
	w.off += n
	return s, nil
}

func (w *wireReader) bin() ([]byte, error) {
	c, err := w.byte()
	if err != nil {
		return nil, err
	}
	var n int
	switch c {
	case 0xc4:
		n, err = w.length(1)
	case 0xc5:
		n, err = w.length(2)
	case 0xc6:
		n, err = w.length(4)
	default:
		return nil, w.fail("want bytes")
	}
	if err != nil {
		return nil, err
	}
	b := w.b[w.off : w.off+n : w.off+n]
	w.off += n
	return b, nil
}

func (w *wireReader) done() error {
	if w.off != len(w.b) {
		return w.fail("%d trailing bytes", len(w.b)-w.off)
	}
	return nil
}
