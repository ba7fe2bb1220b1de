package gossip

import (
	"encoding/binary"
	"errors"
	"fmt"
	"maps"
	"math/bits"
	"slices"
	"strings"

	"github.com/hashicorp/memberlist"
)

// Node meta carries a node's Config.Meta (serf's tags) and its leaving flag
// to every peer. memberlist gossips it with every alive message and refuses
// more than memberlist.MetaMaxSize (512) bytes, so both the entries and the
// whole encoding are bounded.
const (
	// metaVersion is the version byte of the meta gossip writes. Version 1
	// held two fixed strings (a replica ID and an API address); decodeMeta
	// still reads its leaving flag, so a node of the previous release that
	// leaves shows as left, not dead, during a rolling upgrade.
	metaVersion = 2

	maxMetaEntries  = 32  // entries in Config.Meta
	maxMetaKeyLen   = 64  // bytes of a key (at least 1)
	maxMetaValueLen = 255 // bytes of a value (may be 0)

	// metaLeaving is bit 0 of the flags byte: the node announced it is
	// leaving (Node.Leave).
	metaLeaving = 1

	// minMetaEntry is the smallest encoded entry: key length, one key
	// byte, value length.
	minMetaEntry = 3
)

// encodeMeta encodes node meta in the canonical form: version byte, flags
// byte (bit 0: leaving), uvarint entry count, then each entry as key and
// value strings in ascending key order, so equal maps give equal bytes.
// The caller checked m with checkMeta.
func encodeMeta(m map[string]string, leaving bool) []byte {
	var flags byte
	if leaving {
		flags |= metaLeaving
	}
	b := make([]byte, 0, metaSize(m))
	b = append(b, metaVersion, flags)
	b = binary.AppendUvarint(b, uint64(len(m)))
	for _, k := range slices.Sorted(maps.Keys(m)) {
		b = appendString(b, k)
		b = appendString(b, m[k])
	}
	return b
}

// metaSize is the size of encodeMeta's output for m.
func metaSize(m map[string]string) int {
	n := 2 + uvarintLen(uint64(len(m)))
	for k, v := range m {
		n += uvarintLen(uint64(len(k))) + len(k) + uvarintLen(uint64(len(v))) + len(v)
	}
	return n
}

// uvarintLen is the length of x as a uvarint.
func uvarintLen(x uint64) int { return (bits.Len64(x|1) + 6) / 7 }

// checkMeta reports why m cannot be node meta, or nil. The message names
// the offending entry so an operator can find it.
func checkMeta(m map[string]string) error {
	if len(m) > maxMetaEntries {
		return fmt.Errorf("%d entries, more than %d", len(m), maxMetaEntries)
	}
	for _, k := range slices.Sorted(maps.Keys(m)) {
		switch v := m[k]; {
		case k == "":
			return errors.New("empty key")
		case len(k) > maxMetaKeyLen:
			return fmt.Errorf("key %.16q... is %d bytes, more than %d", k, len(k), maxMetaKeyLen)
		case len(v) > maxMetaValueLen:
			return fmt.Errorf("value of key %q is %d bytes, more than %d", k, len(v), maxMetaValueLen)
		}
	}
	if n := metaSize(m); n > memberlist.MetaMaxSize {
		return fmt.Errorf("encodes to %d bytes, more than memberlist's limit of %d", n, memberlist.MetaMaxSize)
	}
	return nil
}

// nodeMeta is the decoded node meta of a member.
type nodeMeta struct {
	Entries map[string]string // nil when there are none
	Leaving bool              // the node announced it is leaving (Node.Leave)
}

// decodeMeta decodes node meta from a peer with bounded reads: the size is
// checked first, every length and count against its bound and the bytes
// left. Version 2 must be canonical (no unknown flags, keys non-empty and
// strictly ascending, no trailing bytes), so that decoding and encoding
// again gives the same bytes. Meta of a newer version is accepted as long
// as it starts with the fields of version 2; unknown flags and whatever
// follows those fields are ignored. Of version 1 only the leaving flag is
// kept.
func decodeMeta(b []byte) (nodeMeta, error) {
	if len(b) > memberlist.MetaMaxSize {
		return nodeMeta{}, fmt.Errorf("decode meta: %d bytes: %w", len(b), errTooLarge)
	}
	r := &reader{b: b}
	v := r.byte()
	if r.err == nil && v < 1 {
		return nodeMeta{}, fmt.Errorf("decode meta: version %d: %w", v, errVersion)
	}
	var m nodeMeta
	if v == 1 {
		// Version 1: replica ID, API address, then an optional flags byte.
		r.bytes(maxNameLen)
		r.bytes(maxNameLen)
		if r.err == nil && len(r.b) > 0 {
			m.Leaving = r.b[0]&metaLeaving != 0
		}
		if r.err != nil {
			return nodeMeta{}, fmt.Errorf("decode meta: %w", r.err)
		}
		return m, nil
	}
	flags := r.byte()
	m.Leaving = flags&metaLeaving != 0
	if v == metaVersion && flags&^metaLeaving != 0 {
		r.fail(fmt.Errorf("flags %#x: %w", flags, errInvalid))
	}
	n := r.count(maxMetaEntries, minMetaEntry)
	if r.err == nil && n > 0 {
		m.Entries = make(map[string]string, n)
	}
	prev := ""
	for i := 0; i < n && r.err == nil; i++ {
		k := r.string(maxMetaKeyLen)
		val := r.string(maxMetaValueLen)
		switch {
		case r.err != nil:
		case k == "":
			r.fail(fmt.Errorf("empty key: %w", errInvalid))
		case i > 0 && strings.Compare(k, prev) <= 0:
			r.fail(fmt.Errorf("key %q after %q: %w", k, prev, errInvalid))
		default:
			m.Entries[k] = val
			prev = k
		}
	}
	if v == metaVersion {
		r.done()
	}
	if r.err != nil {
		return nodeMeta{}, fmt.Errorf("decode meta: %w", r.err)
	}
	return m, nil
}
