package store

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"time"
)

// Record is one local change, made durable by appending it to the
// write-ahead log ([Store.Log]) instead of rewriting the object in the data
// file. It carries a delta: a state that, merged into the object, applies
// the change. Because merging is idempotent, replaying a record the data
// file already reflects is harmless, which is what lets checkpoints and
// recovery stay simple.
type Record struct {
	// Key names the object the delta belongs to.
	Key string
	// Delta is the change, in the object's canonical encoding.
	Delta []byte
	// HLC raises the persisted HLC high-water mark, as [Write.HLC] does.
	HLC uint64
	// IdempotencyKey and IdempotencyResult, if set, are remembered as
	// [Write] remembers them, from the moment the record is durable.
	IdempotencyKey    string
	IdempotencyResult []byte
}

func (r *Record) validate() error {
	if err := validateKey(r.Key); err != nil {
		return fmt.Errorf("log record: %w", err)
	}
	if len(r.Delta) > MaxValueLen {
		return fmt.Errorf("log record %q: %w: delta of %d bytes, limit %d", r.Key, ErrTooLarge, len(r.Delta), MaxValueLen)
	}
	w := Write{IdempotencyKey: r.IdempotencyKey, IdempotencyResult: r.IdempotencyResult}
	return w.validate()
}

// On disk a record is framed as
//
//	length   uint32, big endian: bytes of payload
//	checksum uint32, big endian: CRC-32C of payload
//	payload  version byte 1, then uvarint-length-prefixed Key, Delta,
//	         IdempotencyKey and IdempotencyResult, uvarint HLC, and the
//	         varint time (unix ns) the idempotency key was created
//
// A crash can leave the last frame of the newest segment half written;
// recovery recognises it by its length or checksum and cuts it off.
const (
	frameHeaderLen = 8
	recordVersion  = 1
	// maxPayloadLen bounds one frame: the largest fields a valid record
	// has, plus their length prefixes.
	maxPayloadLen = 1 + 2*MaxKeyLen + 2*MaxValueLen + 6*binary.MaxVarintLen64
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// errTorn marks a frame cut short or failing its checksum.
var errTorn = errors.New("torn or damaged log record")

// appendFrame appends r's frame to buf.
func appendFrame(buf []byte, r *Record, created time.Time) []byte {
	start := len(buf)
	buf = append(buf, make([]byte, frameHeaderLen)...)
	buf = append(buf, recordVersion)
	buf = appendBytes(buf, []byte(r.Key))
	buf = appendBytes(buf, r.Delta)
	buf = appendBytes(buf, []byte(r.IdempotencyKey))
	buf = appendBytes(buf, r.IdempotencyResult)
	buf = binary.AppendUvarint(buf, r.HLC)
	buf = binary.AppendVarint(buf, created.UnixNano())
	payload := buf[start+frameHeaderLen:]
	binary.BigEndian.PutUint32(buf[start:], uint32(len(payload)))
	binary.BigEndian.PutUint32(buf[start+4:], crc32.Checksum(payload, castagnoli))
	return buf
}

func appendBytes(buf, b []byte) []byte {
	buf = binary.AppendUvarint(buf, uint64(len(b)))
	return append(buf, b...)
}

// loggedRecord is a record read back from the log.
type loggedRecord struct {
	Record
	created int64 // unix ns
}

// readFrame decodes the frame at the start of b and returns it with its
// length. It fails with errTorn if b holds no whole, intact frame.
func readFrame(b []byte) (rec loggedRecord, n int, err error) {
	if len(b) < frameHeaderLen {
		return rec, 0, fmt.Errorf("%w: %d header bytes", errTorn, len(b))
	}
	size := binary.BigEndian.Uint32(b)
	// Every payload holds at least a version byte: a zero length is
	// zeroed space past the last write, not a record.
	if size == 0 || size > maxPayloadLen || int(size) > len(b)-frameHeaderLen {
		return rec, 0, fmt.Errorf("%w: payload of %d bytes, %d left", errTorn, size, len(b)-frameHeaderLen)
	}
	payload := b[frameHeaderLen : frameHeaderLen+int(size)]
	if crc32.Checksum(payload, castagnoli) != binary.BigEndian.Uint32(b[4:]) {
		return rec, 0, fmt.Errorf("%w: checksum mismatch", errTorn)
	}
	rec, err = decodePayload(payload)
	if err != nil {
		// The checksum matched, so these are the bytes that were written:
		// not a torn write but a record this build cannot read.
		return rec, 0, err
	}
	return rec, frameHeaderLen + int(size), nil
}

func decodePayload(p []byte) (rec loggedRecord, err error) {
	d := payloadDecoder{p: p}
	if v := d.byte(); v != recordVersion {
		return rec, fmt.Errorf("log record version %d (this build reads %d)", v, recordVersion)
	}
	rec.Key = string(d.bytes())
	rec.Delta = d.bytes()
	rec.IdempotencyKey = string(d.bytes())
	rec.IdempotencyResult = d.bytes()
	rec.HLC = d.uvarint()
	rec.created = d.varint()
	if d.err == nil && len(d.p) != 0 {
		d.err = fmt.Errorf("%d trailing bytes", len(d.p))
	}
	if d.err != nil {
		return rec, fmt.Errorf("log record: %v", d.err)
	}
	if err := rec.validate(); err != nil {
		return rec, err
	}
	return rec, nil
}

// payloadDecoder reads a payload's fields, remembering the first error.
type payloadDecoder struct {
	p   []byte
	err error
}

func (d *payloadDecoder) byte() byte {
	if d.err != nil || len(d.p) == 0 {
		d.fail("missing version")
		return 0
	}
	b := d.p[0]
	d.p = d.p[1:]
	return b
}

func (d *payloadDecoder) uvarint() uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.p)
	if n <= 0 {
		d.fail("bad uvarint")
		return 0
	}
	if n != len(binary.AppendUvarint(nil, v)) {
		// appendFrame writes the shortest form: a longer one is not a
		// record this package wrote.
		d.fail("non-canonical uvarint")
		return 0
	}
	d.p = d.p[n:]
	return v
}

func (d *payloadDecoder) varint() int64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Varint(d.p)
	if n <= 0 {
		d.fail("bad varint")
		return 0
	}
	if n != len(binary.AppendVarint(nil, v)) {
		d.fail("non-canonical varint")
		return 0
	}
	d.p = d.p[n:]
	return v
}

// bytes returns a length-prefixed field, copied out of the payload (nil
// when empty) so records do not pin the segment's buffer.
func (d *payloadDecoder) bytes() []byte {
	n := d.uvarint()
	if d.err != nil {
		return nil
	}
	if n > uint64(len(d.p)) {
		d.fail(fmt.Sprintf("field of %d bytes, %d left", n, len(d.p)))
		return nil
	}
	var b []byte
	if n > 0 {
		b = append([]byte(nil), d.p[:n]...)
	}
	d.p = d.p[n:]
	return b
}

func (d *payloadDecoder) fail(msg string) {
	if d.err == nil {
		d.err = errors.New(msg)
	}
}
