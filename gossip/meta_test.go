package gossip

import (
	"bytes"
	"errors"
	"maps"
	"strings"
	"testing"

	"github.com/hashicorp/memberlist"
	"pgregory.net/rapid"
)

// metaGen draws node meta that checkMeta accepts: up to maxMetaEntries
// entries with keys and values of any bytes within their length bounds,
// drawn until the next one would not fit memberlist's 512 bytes.
func metaGen() *rapid.Generator[map[string]string] {
	return rapid.Custom(func(t *rapid.T) map[string]string {
		m := map[string]string{}
		n := rapid.IntRange(0, maxMetaEntries).Draw(t, "entries")
		for range n {
			k := string(rapid.SliceOfN(rapid.Byte(), 1, maxMetaKeyLen).Draw(t, "key"))
			v := string(rapid.SliceOfN(rapid.Byte(), 0, maxMetaValueLen).Draw(t, "value"))
			old, had := m[k]
			m[k] = v
			if metaSize(m) > memberlist.MetaMaxSize {
				if had {
					m[k] = old
				} else {
					delete(m, k)
				}
				break
			}
		}
		return m
	})
}

// TestMetaRoundTrip checks that every meta Config accepts encodes within
// memberlist's limit, decodes to itself, and that its encoding is canonical:
// the same bytes every time, which decode and encode again to themselves.
func TestMetaRoundTrip(t *testing.T) {
	t.Parallel()
	rapid.Check(t, func(t *rapid.T) {
		m := metaGen().Draw(t, "meta")
		leaving := rapid.Bool().Draw(t, "leaving")
		if err := checkMeta(m); err != nil {
			t.Fatalf("checkMeta(%q): %v", m, err)
		}
		b := encodeMeta(m, leaving)
		if len(b) != metaSize(m) || len(b) > memberlist.MetaMaxSize {
			t.Fatalf("encoded %d bytes, want metaSize %d, at most %d", len(b), metaSize(m), memberlist.MetaMaxSize)
		}
		if again := encodeMeta(maps.Clone(m), leaving); !bytes.Equal(again, b) {
			t.Fatalf("encoding not deterministic: %x then %x", b, again)
		}
		got, err := decodeMeta(b)
		if err != nil {
			t.Fatalf("decodeMeta(%x): %v", b, err)
		}
		if !maps.Equal(got.Entries, m) || got.Leaving != leaving {
			t.Fatalf("got %q leaving=%v, want %q leaving=%v", got.Entries, got.Leaving, m, leaving)
		}
		if len(m) == 0 && got.Entries != nil {
			t.Fatalf("got entries %q for no meta, want nil", got.Entries)
		}
	})
}

func TestDecodeMeta(t *testing.T) {
	t.Parallel()
	valid := encodeMeta(map[string]string{"a": "1", "b": "2"}, false)
	tests := []struct {
		name    string
		buf     []byte
		want    map[string]string
		leaving bool
		err     error
	}{
		{"none", encodeMeta(nil, false), nil, false, nil},
		{"leaving", encodeMeta(nil, true), nil, true, nil},
		{"two entries", valid, map[string]string{"a": "1", "b": "2"}, false, nil},
		// Version 1 held a replica ID, an API address and a flags byte:
		// only the leaving flag is kept.
		{"version 1", []byte{1, 2, 'r', '1', 3, 'a', ':', '1', metaLeaving}, nil, true, nil},
		{"version 1 without flags", []byte{1, 1, 'r', 0}, nil, false, nil},
		// A newer version that starts with version 2's fields.
		{"version 3", append(append([]byte{3}, valid[1:]...), 9, 9), map[string]string{"a": "1", "b": "2"}, false, nil},
		{"empty", nil, nil, false, errTruncated},
		{"version 0", []byte{0, 0, 0}, nil, false, errVersion},
		{"no flags", []byte{metaVersion}, nil, false, errTruncated},
		{"no count", []byte{metaVersion, 0}, nil, false, errTruncated},
		{"unknown flag", []byte{metaVersion, 0x30, 0}, nil, false, errInvalid},
		{"unknown flag of a newer version", []byte{metaVersion + 1, 0x30 | metaLeaving, 0}, nil, true, nil},
		{"trailing", append(append([]byte(nil), valid...), 0), nil, false, errTrailing},
		{"truncated", valid[:len(valid)-1], nil, false, errTruncated},
		{"count beyond bytes", []byte{metaVersion, 0, 2, 1, 'a', 0}, nil, false, errTruncated},
		{"count beyond bound", append([]byte{metaVersion, 0, maxMetaEntries + 1}, bytes.Repeat([]byte{1, 'a', 0}, maxMetaEntries+1)...), nil, false, errTooLarge},
		{"huge count", append([]byte{metaVersion, 0}, hugeCount()...), nil, false, errTooLarge},
		{"empty key", []byte{metaVersion, 0, 1, 0, 1, 'x'}, nil, false, errInvalid},
		{"keys out of order", []byte{metaVersion, 0, 2, 1, 'b', 0, 1, 'a', 0}, nil, false, errInvalid},
		{"duplicate key", []byte{metaVersion, 0, 2, 1, 'a', 0, 1, 'a', 0}, nil, false, errInvalid},
		{"long key", append(append([]byte{metaVersion, 0, 1, maxMetaKeyLen + 1}, strings.Repeat("k", maxMetaKeyLen+1)...), 0), nil, false, errTooLarge},
		{"version 1 truncated", []byte{1, 5, 'r'}, nil, false, errTruncated},
		{"too large", append(append([]byte(nil), valid...), make([]byte, memberlist.MetaMaxSize)...), nil, false, errTooLarge},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := decodeMeta(tt.buf)
			if tt.err != nil {
				if !errors.Is(err, tt.err) {
					t.Fatalf("decodeMeta(%x): got %v, want %v", tt.buf, err, tt.err)
				}
				return
			}
			if err != nil || !maps.Equal(got.Entries, tt.want) || got.Leaving != tt.leaving {
				t.Fatalf("decodeMeta(%x): got %q leaving=%v err=%v, want %q leaving=%v", tt.buf, got.Entries, got.Leaving, err, tt.want, tt.leaving)
			}
		})
	}
}

// FuzzDecodeMeta checks that decoding meta from a peer never panics, that
// whatever it accepts would pass Config validation, and that accepted
// version-2 meta is canonical: encoding it again gives the same bytes.
func FuzzDecodeMeta(f *testing.F) {
	f.Add(encodeMeta(nil, false))
	f.Add(encodeMeta(map[string]string{"api": "127.0.0.1:7070", "replica": "r-1"}, true))
	f.Add([]byte{1, 2, 'r', '1', 3, 'a', ':', '1', metaLeaving})
	f.Add(append([]byte{metaVersion, 0}, hugeCount()...))
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := decodeMeta(b)
		if err != nil {
			return
		}
		if err := checkMeta(m.Entries); err != nil {
			t.Fatalf("decodeMeta(%x) accepted meta that Config refuses: %v", b, err)
		}
		if b[0] == metaVersion {
			if again := encodeMeta(m.Entries, m.Leaving); !bytes.Equal(again, b) {
				t.Fatalf("decodeMeta(%x) then encodeMeta gives %x", b, again)
			}
		}
	})
}

// TestDecodeMetaVersion1: meta of version 1 (replica ID, API address, an
// optional flags byte) still decodes, keeping only the leaving flag.
func TestDecodeMetaVersion1(t *testing.T) {
	t.Parallel()
	v1 := func(flags ...byte) []byte {
		b := appendString([]byte{1}, "r-1")
		b = appendString(b, "127.0.0.1:7070")
		return append(b, flags...)
	}
	for _, tc := range []struct {
		b       []byte
		leaving bool
	}{{v1(), false}, {v1(0), false}, {v1(metaLeaving), true}, {v1(metaLeaving | 2), true}} {
		m, err := decodeMeta(tc.b)
		if err != nil {
			t.Fatalf("decodeMeta(%x): %v", tc.b, err)
		}
		if m.Leaving != tc.leaving {
			t.Errorf("decodeMeta(%x): leaving %v, want %v", tc.b, m.Leaving, tc.leaving)
		}
	}
	if _, err := decodeMeta([]byte{0, 0}); err == nil {
		t.Error("version 0 decoded")
	}
}
