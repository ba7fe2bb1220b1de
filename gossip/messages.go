package gossip

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math/bits"
	"time"
)

//go:generate go run golang.org/x/tools/cmd/stringer -type=msgType -trimprefix=msg

// msgType is the first byte of every message gossip puts on the wire. The
// payload that follows starts with a version byte (serf's messages.go shape).
type msgType uint8

const (
	msgInvalid msgType = iota
	// msgDelta carries one object's delta (or several deltas of the same
	// object) from the broadcast queue, a direct push or a reliable send.
	msgDelta
	// msgRepair carries full states of objects in differing digest buckets.
	msgRepair
	// msgDigest is the anti-entropy digest exchanged by LocalState.
	msgDigest
	// msgOffer offers a peer the objects of some buckets where its digest
	// differed from ours, with our hash of each of their sub-buckets.
	msgOffer
	// msgWant answers an offer with the sub-buckets whose objects the peer
	// wants.
	msgWant
)

// wireVersion is the version byte that leads every payload but those of
// offers and wants, which have offerVersion.
const wireVersion = 1

// Bounds applied to every decode. They are checked against the header and
// against the bytes left before anything is allocated.
const (
	maxMessageSize = 32 << 20 // whole message; repair chunks are at most 8 MiB (see Config)
	maxNameLen     = 255      // node names
	maxKeyLen      = 1024     // object keys
	maxParts       = 64       // deltas carried in one delta message
	digestBuckets  = 256
	// maxRepairEntries bounds the entries of one repair message: a default
	// 1 MiB chunk of entries of 16 bytes or more (a short key and a small
	// state) holds no more. Senders start a new chunk when they reach it.
	// Without the bound a 20 MB message of 3-byte entries asked the
	// decoder for 7 million of them (266 MB).
	maxRepairEntries = (1 << 20) / 16
)

// Errors returned by the decoders; always wrapped with context.
var (
	errTruncated = errors.New("truncated")
	errVersion   = errors.New("unsupported version")
	errType      = errors.New("unexpected message type")
	errTooLarge  = errors.New("too large")
	errTrailing  = errors.New("trailing bytes")
	errInvalid   = errors.New("invalid field")
)

// reasonOf names the decode error sentinel err wraps, for grouping log
// lines: the full text varies with what a peer sent.
func reasonOf(err error) string {
	for _, e := range []error{errTruncated, errVersion, errType, errTooLarge, errTrailing, errInvalid} {
		if errors.Is(err, e) {
			return e.Error()
		}
	}
	return "other"
}

// channel byte inside a delta message: how the sender sent it.
const (
	sentBroadcast = 0
	sentDirect    = 1
	sentReliable  = 2
)

// deltaMsg is one object's change. Parts are joined in order by the receiver;
// each is a delta or full state produced by the origin's Delegate.
type deltaMsg struct {
	Sent       uint8  // sentBroadcast, sentDirect or sentReliable
	From       string // memberlist name of the node that sent this copy
	Origin     string // name of the node where the (first) change was made
	Key        string
	OriginTime int64 // unix nanoseconds at the origin; 0 if unknown
	Parts      [][]byte
}

// repairEntry is one object's full state in a repair chunk.
type repairEntry struct {
	Key  string
	Data []byte
}

// repairMsg is a chunk of full states sent by anti-entropy.
type repairMsg struct {
	From    string
	Entries []repairEntry
}

// digestMsg is what LocalState returns: the sender's name, its key count
// and its non-zero bucket hashes (a 256-bit bitmap says which are present).
type digestMsg struct {
	From    string
	Keys    uint64
	Buckets [digestBuckets]uint64
}

// --- encoding ---

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

func appendBytes(b []byte, p []byte) []byte {
	b = binary.AppendUvarint(b, uint64(len(p)))
	return append(b, p...)
}

func (m deltaMsg) size() int {
	n := 2 + 1 + 3*binary.MaxVarintLen16 + len(m.From) + len(m.Origin) + len(m.Key) + 8 + binary.MaxVarintLen16
	for _, p := range m.Parts {
		n += binary.MaxVarintLen32 + len(p)
	}
	return n
}

func (m deltaMsg) encode() []byte {
	b := make([]byte, 0, m.size())
	b = append(b, byte(msgDelta), wireVersion, m.Sent)
	b = appendString(b, m.From)
	b = appendString(b, m.Origin)
	b = appendString(b, m.Key)
	b = binary.BigEndian.AppendUint64(b, uint64(m.OriginTime))
	b = binary.AppendUvarint(b, uint64(len(m.Parts)))
	for _, p := range m.Parts {
		b = appendBytes(b, p)
	}
	return b
}

// repairEntrySize is an upper bound of one entry's encoded size.
func repairEntrySize(key string, data []byte) int {
	return 2*binary.MaxVarintLen32 + len(key) + len(data)
}

// repairHeaderSize is an upper bound of the encoded size of a repair
// message from from, without its entries.
func repairHeaderSize(from string) int { return 16 + len(from) }

func (m *repairMsg) encode() []byte {
	n := repairHeaderSize(m.From)
	for _, e := range m.Entries {
		n += repairEntrySize(e.Key, e.Data)
	}
	b := make([]byte, 0, n)
	b = append(b, byte(msgRepair), wireVersion)
	b = appendString(b, m.From)
	b = binary.AppendUvarint(b, uint64(len(m.Entries)))
	for _, e := range m.Entries {
		b = appendString(b, e.Key)
		b = appendBytes(b, e.Data)
	}
	return b
}

func (m *digestMsg) encode() []byte {
	b := make([]byte, 0, 2+1+len(m.From)+binary.MaxVarintLen64+32+8*digestBuckets)
	b = append(b, byte(msgDigest), wireVersion)
	b = appendString(b, m.From)
	b = binary.AppendUvarint(b, m.Keys)
	var bitmap [digestBuckets / 8]byte
	for i, h := range m.Buckets {
		if h != 0 {
			bitmap[i/8] |= 1 << (i % 8)
		}
	}
	b = append(b, bitmap[:]...)
	for _, h := range m.Buckets {
		if h != 0 {
			b = binary.BigEndian.AppendUint64(b, h)
		}
	}
	return b
}

// --- bounded decoding ---

// reader walks a byte slice; every read is checked against what is left.
// Returned byte slices alias the input: callers copy the input first.
type reader struct {
	b   []byte
	err error
}

func (r *reader) fail(err error) {
	if r.err == nil {
		r.err = err
	}
}

func (r *reader) byte() byte {
	if r.err != nil {
		return 0
	}
	if len(r.b) < 1 {
		r.fail(errTruncated)
		return 0
	}
	c := r.b[0]
	r.b = r.b[1:]
	return c
}

func (r *reader) uvarint() uint64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.fail(errTruncated)
		return 0
	}
	if n > 1 && r.b[n-1] == 0 {
		// A padded uvarint (0x81 0x00 for 1) decodes, but encodes again
		// as other bytes: accept only the shortest form, so that every
		// message accepted is canonical.
		r.fail(fmt.Errorf("uvarint of %d bytes for %d: %w", n, v, errInvalid))
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *reader) uint64() uint64 {
	if r.err != nil {
		return 0
	}
	if len(r.b) < 8 {
		r.fail(errTruncated)
		return 0
	}
	v := binary.BigEndian.Uint64(r.b)
	r.b = r.b[8:]
	return v
}

// bytes reads a length-prefixed byte string of at most max bytes.
func (r *reader) bytes(max int) []byte {
	n := r.uvarint()
	if r.err != nil {
		return nil
	}
	if n > uint64(max) {
		r.fail(fmt.Errorf("length %d: %w", n, errTooLarge))
		return nil
	}
	if n > uint64(len(r.b)) {
		r.fail(fmt.Errorf("length %d with %d bytes left: %w", n, len(r.b), errTruncated))
		return nil
	}
	p := r.b[:n:n]
	r.b = r.b[n:]
	return p
}

func (r *reader) string(max int) string { return string(r.bytes(max)) }

// count reads an element count and checks it against the bytes left,
// given that each element takes at least minSize bytes.
func (r *reader) count(max, minSize int) int {
	n := r.uvarint()
	if r.err != nil {
		return 0
	}
	if n > uint64(max) {
		r.fail(fmt.Errorf("count %d: %w", n, errTooLarge))
		return 0
	}
	if n*uint64(minSize) > uint64(len(r.b)) {
		r.fail(fmt.Errorf("count %d with %d bytes left: %w", n, len(r.b), errTruncated))
		return 0
	}
	return int(n)
}

func (r *reader) done() error {
	if r.err == nil && len(r.b) != 0 {
		r.fail(fmt.Errorf("%d bytes: %w", len(r.b), errTrailing))
	}
	return r.err
}

// header checks size, type and version (wireVersion) and returns a reader
// over the rest.
func header(buf []byte, want msgType) (*reader, error) {
	return headerVersion(buf, want, wireVersion)
}

// headerVersion is header for a message type of its own version.
func headerVersion(buf []byte, want msgType, version byte) (*reader, error) {
	if len(buf) > maxMessageSize {
		return nil, fmt.Errorf("message of %d bytes: %w", len(buf), errTooLarge)
	}
	if len(buf) < 2 {
		return nil, errTruncated
	}
	if msgType(buf[0]) != want {
		return nil, fmt.Errorf("%v: %w", msgType(buf[0]), errType)
	}
	if buf[1] != version {
		return nil, fmt.Errorf("version %d: %w", buf[1], errVersion)
	}
	return &reader{b: buf[2:]}, nil
}

// decodeDelta decodes a msgDelta. The result aliases buf.
func decodeDelta(buf []byte) (deltaMsg, error) {
	var m deltaMsg
	r, err := header(buf, msgDelta)
	if err != nil {
		return m, fmt.Errorf("decode delta: %w", err)
	}
	m.Sent = r.byte()
	m.From = r.string(maxNameLen)
	m.Origin = r.string(maxNameLen)
	m.Key = r.string(maxKeyLen)
	m.OriginTime = int64(r.uint64())
	n := r.count(maxParts, 1)
	if r.err == nil {
		m.Parts = make([][]byte, n)
		for i := range m.Parts {
			m.Parts[i] = r.bytes(maxMessageSize)
		}
	}
	if err := r.done(); err != nil {
		return deltaMsg{}, fmt.Errorf("decode delta: %w", err)
	}
	switch {
	case m.Sent > sentReliable:
		err = fmt.Errorf("sent %d: %w", m.Sent, errInvalid)
	case m.Key == "":
		err = fmt.Errorf("empty key: %w", errInvalid)
	case m.From == "":
		err = fmt.Errorf("empty sender: %w", errInvalid)
	case n == 0:
		err = fmt.Errorf("no parts: %w", errInvalid)
	}
	if err != nil {
		return deltaMsg{}, fmt.Errorf("decode delta: %w", err)
	}
	return m, nil
}

// decodeRepair decodes a msgRepair. The result aliases buf.
func decodeRepair(buf []byte) (repairMsg, error) {
	var m repairMsg
	r, err := header(buf, msgRepair)
	if err != nil {
		return m, fmt.Errorf("decode repair: %w", err)
	}
	m.From = r.string(maxNameLen)
	n := r.count(maxRepairEntries, 3) // key len, key byte, data len at least
	if r.err == nil {
		m.Entries = make([]repairEntry, n)
		for i := range m.Entries {
			m.Entries[i].Key = r.string(maxKeyLen)
			m.Entries[i].Data = r.bytes(maxMessageSize)
			if r.err == nil && m.Entries[i].Key == "" {
				r.fail(fmt.Errorf("empty key: %w", errInvalid))
			}
		}
	}
	if err := r.done(); err != nil {
		return repairMsg{}, fmt.Errorf("decode repair: %w", err)
	}
	if m.From == "" {
		return repairMsg{}, fmt.Errorf("decode repair: empty sender: %w", errInvalid)
	}
	return m, nil
}

// decodeDigest decodes a msgDigest.
func decodeDigest(buf []byte) (digestMsg, error) {
	var m digestMsg
	r, err := header(buf, msgDigest)
	if err != nil {
		return m, fmt.Errorf("decode digest: %w", err)
	}
	m.From = r.string(maxNameLen)
	m.Keys = r.uvarint()
	var bitmap [digestBuckets / 8]byte
	for i := range bitmap {
		bitmap[i] = r.byte()
	}
	set := 0
	for _, c := range bitmap {
		set += bits.OnesCount8(c)
	}
	if r.err == nil && len(r.b) != 8*set {
		r.fail(fmt.Errorf("%d buckets in %d bytes: %w", set, len(r.b), errInvalid))
	}
	for i := range m.Buckets {
		if bitmap[i/8]&(1<<(i%8)) != 0 {
			m.Buckets[i] = r.uint64()
			if r.err == nil && m.Buckets[i] == 0 {
				r.fail(fmt.Errorf("zero bucket %d marked present: %w", i, errInvalid))
			}
		}
	}
	if err := r.done(); err != nil {
		return digestMsg{}, fmt.Errorf("decode digest: %w", err)
	}
	if m.From == "" {
		return digestMsg{}, fmt.Errorf("decode digest: empty sender: %w", errInvalid)
	}
	return m, nil
}

// originTime converts wire nanoseconds to a time; 0 is the zero time.
func originTime(ns int64) time.Time {
	if ns == 0 {
		return time.Time{}
	}
	return time.Unix(0, ns)
}
