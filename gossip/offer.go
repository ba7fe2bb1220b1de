package gossip

import (
	"encoding/binary"
	"fmt"
	"math/bits"
)

// The repair handshake works on two levels: the digest names the buckets
// that differ; an offer then carries, for some of them, the offerer's hash
// of each sub-bucket, and the want names the sub-buckets that differ, whose
// objects alone are sent. A key's sub-bucket is chosen by other bits of the
// same key hash as its bucket, so it costs no memory per key; the digest
// keeps the sub-bucket hashes (512 KiB in all).
const (
	// subBuckets is the number of sub-buckets of a bucket.
	subBuckets = 256
	// maxOfferBuckets bounds the buckets of one offer (and so of one want),
	// which keeps an offer under 34 KiB; the other differing buckets are
	// offered after the repair of these, or at a later exchange.
	maxOfferBuckets = 16
	// offerVersion is the version byte of offers and wants: version 1 had
	// no sub-buckets.
	offerVersion = 2
)

// bucketSet is a set of buckets, or of one bucket's sub-buckets: a 256-bit
// bitmap, as on the wire.
type bucketSet [digestBuckets / 8]byte

func (s *bucketSet) add(b uint8)      { s[b/8] |= 1 << (b % 8) }
func (s *bucketSet) has(b uint8) bool { return s[b/8]&(1<<(b%8)) != 0 }

// len returns the number of members of s.
func (s *bucketSet) len() int {
	n := 0
	for _, c := range s {
		n += bits.OnesCount8(c)
	}
	return n
}

// list returns the members of s, ascending.
func (s *bucketSet) list() []uint8 {
	out := make([]uint8, 0, s.len())
	for i := range digestBuckets {
		if s.has(uint8(i)) {
			out = append(out, uint8(i))
		}
	}
	return out
}

// subsetOf reports whether every member of s is in o.
func (s *bucketSet) subsetOf(o *bucketSet) bool {
	for i := range s {
		if s[i]&^o[i] != 0 {
			return false
		}
	}
	return true
}

// subSet names some sub-buckets of one bucket.
type subSet struct {
	Bucket uint8
	Subs   bucketSet
}

// offerBucket is one bucket of an offer: the sub-buckets where the sender
// holds objects (at least one) and its hash of each, in ascending order of
// sub-bucket. Sub-buckets where it holds nothing are left out: it has
// nothing to send there.
type offerBucket struct {
	Bucket uint8
	Subs   bucketSet
	Hashes []uint64 // one per member of Subs, none 0
}

// hashes returns the sender's hash of every sub-bucket of b, 0 where it
// holds nothing.
func (b *offerBucket) hashes() *[subBuckets]uint64 {
	var out [subBuckets]uint64
	for i, s := range b.Subs.list() {
		out[s] = b.Hashes[i]
	}
	return &out
}

// offerMsg offers a peer the objects of some buckets where the peer's
// digest differed from ours: 1 to maxOfferBuckets of them, in ascending
// order. The peer answers with a wantMsg echoing Nonce; only then are
// objects sent (see onRemoteDigest).
type offerMsg struct {
	From    string
	Nonce   uint64
	Buckets []offerBucket
}

// wantMsg answers an offer: of each offered bucket, the offered
// sub-buckets whose hash differs from the sender's own, so it wants their
// objects. Buckets are in ascending order, each with at least one
// sub-bucket; there may be none.
type wantMsg struct {
	From    string
	Nonce   uint64
	Buckets []subSet
}

// subBucketCount returns the number of sub-buckets in parts.
func subBucketCount(parts []subSet) int {
	n := 0
	for i := range parts {
		n += parts[i].Subs.len()
	}
	return n
}

func (m offerMsg) encode() []byte {
	n := 2 + binary.MaxVarintLen16 + len(m.From) + 8 + 1
	for _, b := range m.Buckets {
		n += 1 + len(b.Subs) + 8*len(b.Hashes)
	}
	b := make([]byte, 0, n)
	b = append(b, byte(msgOffer), offerVersion)
	b = appendString(b, m.From)
	b = binary.BigEndian.AppendUint64(b, m.Nonce)
	b = append(b, byte(len(m.Buckets)))
	for _, ob := range m.Buckets {
		b = append(b, ob.Bucket)
		b = append(b, ob.Subs[:]...)
		for _, h := range ob.Hashes {
			b = binary.BigEndian.AppendUint64(b, h)
		}
	}
	return b
}

func (m wantMsg) encode() []byte {
	b := make([]byte, 0, 2+binary.MaxVarintLen16+len(m.From)+8+1+len(m.Buckets)*(1+len(bucketSet{})))
	b = append(b, byte(msgWant), offerVersion)
	b = appendString(b, m.From)
	b = binary.BigEndian.AppendUint64(b, m.Nonce)
	b = append(b, byte(len(m.Buckets)))
	for _, w := range m.Buckets {
		b = append(b, w.Bucket)
		b = append(b, w.Subs[:]...)
	}
	return b
}

// bucketSet reads a 32-byte bitmap.
func (r *reader) bucketSet() bucketSet {
	var s bucketSet
	if r.err != nil {
		return s
	}
	if len(r.b) < len(s) {
		r.fail(errTruncated)
		return s
	}
	copy(s[:], r.b)
	r.b = r.b[len(s):]
	return s
}

// bucketCount reads the one-byte bucket count of an offer or a want and
// checks it against maxOfferBuckets and the bytes left, given that each
// bucket takes at least 33 bytes (its index and bitmap).
func (r *reader) bucketCount() int {
	n := int(r.byte())
	if r.err != nil {
		return 0
	}
	if n > maxOfferBuckets {
		r.fail(fmt.Errorf("%d buckets: %w", n, errTooLarge))
		return 0
	}
	if n*(1+len(bucketSet{})) > len(r.b) {
		r.fail(fmt.Errorf("%d buckets in %d bytes: %w", n, len(r.b), errTruncated))
		return 0
	}
	return n
}

// nextBucket reads a bucket index, which must be above prev (-1 for the
// first), so each message has one encoding.
func (r *reader) nextBucket(prev int) uint8 {
	b := r.byte()
	if r.err == nil && int(b) <= prev {
		r.fail(fmt.Errorf("bucket %d after %d: %w", b, prev, errInvalid))
	}
	return b
}

// decodeOffer decodes a msgOffer. Its size is bounded by maxOfferBuckets:
// the count is checked against the bytes left before the buckets are
// allocated, and each bucket's hashes against the bytes left before they
// are.
func decodeOffer(buf []byte) (offerMsg, error) {
	var m offerMsg
	r, err := headerVersion(buf, msgOffer, offerVersion)
	if err != nil {
		return m, fmt.Errorf("decode offer: %w", err)
	}
	m.From = r.string(maxNameLen)
	m.Nonce = r.uint64()
	n := r.bucketCount()
	if r.err == nil {
		m.Buckets = make([]offerBucket, n)
	}
	for i := 0; i < n && r.err == nil; i++ {
		ob := &m.Buckets[i]
		prev := -1
		if i > 0 {
			prev = int(m.Buckets[i-1].Bucket)
		}
		ob.Bucket = r.nextBucket(prev)
		ob.Subs = r.bucketSet()
		k := ob.Subs.len()
		switch {
		case r.err != nil:
		case k == 0:
			r.fail(fmt.Errorf("bucket %d with no sub-bucket: %w", ob.Bucket, errInvalid))
		case 8*k > len(r.b):
			r.fail(fmt.Errorf("%d hashes in %d bytes: %w", k, len(r.b), errTruncated))
		default:
			ob.Hashes = make([]uint64, k)
			for j := range ob.Hashes {
				ob.Hashes[j] = r.uint64()
				if ob.Hashes[j] == 0 {
					r.fail(fmt.Errorf("zero hash in bucket %d: %w", ob.Bucket, errInvalid))
				}
			}
		}
	}
	if err := r.done(); err != nil {
		return offerMsg{}, fmt.Errorf("decode offer: %w", err)
	}
	switch {
	case m.From == "":
		err = fmt.Errorf("empty sender: %w", errInvalid)
	case n == 0:
		err = fmt.Errorf("no buckets: %w", errInvalid)
	}
	if err != nil {
		return offerMsg{}, fmt.Errorf("decode offer: %w", err)
	}
	return m, nil
}

// decodeWant decodes a msgWant.
func decodeWant(buf []byte) (wantMsg, error) {
	var m wantMsg
	r, err := headerVersion(buf, msgWant, offerVersion)
	if err != nil {
		return m, fmt.Errorf("decode want: %w", err)
	}
	m.From = r.string(maxNameLen)
	m.Nonce = r.uint64()
	n := r.bucketCount()
	if r.err == nil && n > 0 {
		m.Buckets = make([]subSet, n)
	}
	for i := 0; i < n && r.err == nil; i++ {
		w := &m.Buckets[i]
		prev := -1
		if i > 0 {
			prev = int(m.Buckets[i-1].Bucket)
		}
		w.Bucket = r.nextBucket(prev)
		w.Subs = r.bucketSet()
		if r.err == nil && w.Subs.len() == 0 {
			r.fail(fmt.Errorf("bucket %d with no sub-bucket: %w", w.Bucket, errInvalid))
		}
	}
	if err := r.done(); err != nil {
		return wantMsg{}, fmt.Errorf("decode want: %w", err)
	}
	if m.From == "" {
		return wantMsg{}, fmt.Errorf("decode want: empty sender: %w", errInvalid)
	}
	return m, nil
}
