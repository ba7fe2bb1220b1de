package gossip

import (
	"bytes"
	"encoding/binary"
	"errors"
	"reflect"
	"runtime"
	"testing"
)

func sampleDelta() deltaMsg {
	return deltaMsg{Sent: sentDirect, From: "node-a", Origin: "replica-1", Key: "cart/alice", OriginTime: 1700000000123456789, Parts: [][]byte{[]byte("apple"), []byte("pear")}}
}

func TestDeltaRoundTrip(t *testing.T) {
	want := sampleDelta()
	got, err := decodeDelta(want.encode())
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %+v, want %+v", got, want)
	}
}

func TestRepairRoundTrip(t *testing.T) {
	want := repairMsg{From: "b", Entries: []repairEntry{{"k1", []byte("x")}, {"k2", []byte{}}}}
	got, err := decodeRepair(want.encode())
	if err != nil {
		t.Fatal(err)
	}
	if got.From != want.From || len(got.Entries) != 2 || got.Entries[0].Key != "k1" || !bytes.Equal(got.Entries[0].Data, []byte("x")) || got.Entries[1].Key != "k2" || len(got.Entries[1].Data) != 0 {
		t.Fatalf("got %+v, want %+v", got, want)
	}
}

func TestDigestRoundTrip(t *testing.T) {
	var want digestMsg
	want.From = "c"
	want.Keys = 3
	want.Buckets[0], want.Buckets[7], want.Buckets[255] = 1, 0xdeadbeef, ^uint64(0)
	b := want.encode()
	if len(b) != 2+2+1+32+3*8 {
		t.Errorf("got %d bytes, want %d", len(b), 2+2+1+32+3*8)
	}
	got, err := decodeDigest(b)
	if err != nil {
		t.Fatal(err)
	}
	if got != want {
		t.Fatalf("got %+v, want %+v", got, want)
	}
}

func TestOfferWantRoundTrip(t *testing.T) {
	o := offerMsg{From: "node-a", Nonce: 0xfeedface12345678}
	for _, b := range []uint8{0, 7, 8, 200, 255} {
		o.Buckets.add(b)
		o.Hashes[b] = uint64(b) * 0x9e3779b97f4a7c15
	}
	o.Hashes[0] = 0 // an offered bucket may be empty on our side
	got, err := decodeOffer(o.encode())
	if err != nil {
		t.Fatal(err)
	}
	if got != o {
		t.Fatalf("got %+v, want %+v", got, o)
	}
	if n := len(o.encode()); n != 2+7+8+32+5*8 {
		t.Errorf("offer of 5 buckets: got %d bytes, want %d", n, 2+7+8+32+5*8)
	}
	for _, w := range []wantMsg{{From: "b", Nonce: 1, Buckets: o.Buckets}, {From: "b", Nonce: 2}} {
		got, err := decodeWant(w.encode())
		if err != nil {
			t.Fatal(err)
		}
		if got != w {
			t.Fatalf("got %+v, want %+v", got, w)
		}
	}
}

func TestDecodeOfferWantMalformed(t *testing.T) {
	var o offerMsg
	o.From, o.Nonce = "a", 9
	o.Buckets.add(3)
	o.Hashes[3] = 42
	valid := o.encode()
	w := (&wantMsg{From: "a", Nonce: 9, Buckets: o.Buckets}).encode()
	tests := []struct {
		name   string
		decode func([]byte) error
		buf    []byte
		want   error
	}{
		{"offer missing hash", offerErr, valid[:len(valid)-8], errInvalid},
		{"offer extra hash", offerErr, append(append([]byte(nil), valid...), 1, 2, 3, 4, 5, 6, 7, 8), errInvalid},
		{"offer no buckets", offerErr, (&offerMsg{From: "a"}).encode(), errInvalid},
		{"offer no sender", offerErr, (&offerMsg{Buckets: o.Buckets, Hashes: o.Hashes}).encode(), errInvalid},
		{"offer short bitmap", offerErr, valid[:14], errTruncated},
		{"offer as want", wantErr, valid, errType},
		{"want trailing", wantErr, append(append([]byte(nil), w...), 0), errTrailing},
		{"want short", wantErr, w[:len(w)-1], errTruncated},
		{"want no sender", wantErr, (&wantMsg{}).encode(), errInvalid},
		{"want version 2", wantErr, append([]byte{byte(msgWant), 2}, w[2:]...), errVersion},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.decode(tt.buf); !errors.Is(err, tt.want) {
				t.Fatalf("decode %x: got %v, want %v", tt.buf, err, tt.want)
			}
		})
	}
}

func offerErr(b []byte) error { _, err := decodeOffer(b); return err }
func wantErr(b []byte) error  { _, err := decodeWant(b); return err }

// hugeCount is a uvarint claiming 50,000,000 entries.
func hugeCount() []byte { return binary.AppendUvarint(nil, 50_000_000) }

func TestDecodeMalformed(t *testing.T) {
	valid := sampleDelta().encode()
	tests := []struct {
		name string
		buf  []byte
		want error
	}{
		{"empty", nil, errTruncated},
		{"type only", []byte{byte(msgDelta)}, errTruncated},
		{"wrong type", append([]byte{9}, valid[1:]...), errType},
		{"repair decoded as delta", repairMsgBytes(), errType},
		{"wrong version", append([]byte{byte(msgDelta), 2}, valid[2:]...), errVersion},
		{"truncated", valid[:len(valid)-1], errTruncated},
		{"trailing", append(append([]byte(nil), valid...), 0), errTrailing},
		{"huge part count", append([]byte{byte(msgDelta), wireVersion, 0, 1, 'a', 0, 1, 'k', 0, 0, 0, 0, 0, 0, 0, 0}, hugeCount()...), errTooLarge},
		{"part count beyond bytes", []byte{byte(msgDelta), wireVersion, 0, 1, 'a', 0, 1, 'k', 0, 0, 0, 0, 0, 0, 0, 0, 5}, errTruncated},
		{"huge string", append([]byte{byte(msgDelta), wireVersion, 0}, hugeCount()...), errTooLarge},
		{"string beyond bytes", []byte{byte(msgDelta), wireVersion, 0, 100, 'a'}, errTruncated},
		{"bad sent", append([]byte{byte(msgDelta), wireVersion, 7}, valid[3:]...), errInvalid},
		{"empty key", (&deltaMsg{From: "a", Parts: [][]byte{{1}}}).encode(), errInvalid},
		{"no parts", (&deltaMsg{From: "a", Key: "k"}).encode(), errInvalid},
		{"bad varint", []byte{byte(msgDelta), wireVersion, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, errTruncated},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			_, err := decodeDelta(tt.buf)
			runtime.ReadMemStats(&after)
			if !errors.Is(err, tt.want) {
				t.Fatalf("decodeDelta(%x): got %v, want %v", tt.buf, err, tt.want)
			}
			if got := after.TotalAlloc - before.TotalAlloc; got > 64<<10 {
				t.Errorf("decodeDelta(%x) allocated %d bytes, want < 64 KiB", tt.buf, got)
			}
		})
	}
}

func repairMsgBytes() []byte { return (&repairMsg{From: "a"}).encode() }

func TestDecodeRepairMalformed(t *testing.T) {
	head := []byte{byte(msgRepair), wireVersion, 1, 'a'}
	tests := []struct {
		name string
		buf  []byte
		want error
	}{
		{"huge count", append(append([]byte(nil), head...), hugeCount()...), errTooLarge},
		{"count beyond bytes", append(append([]byte(nil), head...), 3, 1, 'k'), errTruncated},
		{"empty key", append(append([]byte(nil), head...), 1, 0, 1, 'x'), errInvalid},
		{"no sender", []byte{byte(msgRepair), wireVersion, 0, 0}, errInvalid},
		{"too large", append([]byte{byte(msgRepair), wireVersion}, make([]byte, maxMessageSize)...), errTooLarge},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := decodeRepair(tt.buf); !errors.Is(err, tt.want) {
				t.Fatalf("got %v, want %v", err, tt.want)
			}
		})
	}
}

func TestDecodeDigestMalformed(t *testing.T) {
	var d digestMsg
	d.From = "a"
	d.Buckets[3] = 42
	valid := d.encode()
	zeroMarked := append([]byte(nil), valid...)
	for i := len(zeroMarked) - 8; i < len(zeroMarked); i++ {
		zeroMarked[i] = 0
	}
	tests := []struct {
		name string
		buf  []byte
		want error
	}{
		{"missing bucket", valid[:len(valid)-8], errInvalid},
		{"extra bytes", append(append([]byte(nil), valid...), 1, 2, 3, 4, 5, 6, 7, 8), errInvalid},
		{"zero bucket marked", zeroMarked, errInvalid},
		{"short bitmap", valid[:10], errTruncated},
		{"wrong version", append([]byte{byte(msgDigest), 0}, valid[2:]...), errVersion},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := decodeDigest(tt.buf); !errors.Is(err, tt.want) {
				t.Fatalf("got %v, want %v", err, tt.want)
			}
		})
	}
}

// TestNotifyMsgMalformed feeds bad messages through the memberlist callback:
// each is counted and dropped, none panics or reaches the Delegate.
func TestNotifyMsgMalformed(t *testing.T) {
	c := newTestCluster(t, nil)
	n := c.start(0, newSetDelegate(), 0)
	d := &mlDelegate{n: n}
	bad := [][]byte{nil, {0}, {byte(msgDigest), 1}, {byte(msgDelta), 1, 0}, append([]byte{byte(msgRepair), 1, 1, 'a'}, hugeCount()...), {200, 1}}
	for _, b := range bad {
		d.NotifyMsg(b)
	}
	if got := n.Stats().DecodeErrors; got != uint64(len(bad)) {
		t.Fatalf("got %d decode errors, want %d", got, len(bad))
	}
	d.MergeRemoteState([]byte{byte(msgDigest), 1, 0}, false)
	if got := n.Stats().DecodeErrors; got != uint64(len(bad)+1) {
		t.Fatalf("got %d decode errors, want %d", got, len(bad)+1)
	}
	if got := c.dels[0].merges.Load(); got != 0 {
		t.Fatalf("got %d merges, want 0", got)
	}
}

func FuzzDecode(f *testing.F) {
	f.Add(sampleDelta().encode())
	f.Add((&repairMsg{From: "a", Entries: []repairEntry{{"k", []byte("v")}}}).encode())
	var d digestMsg
	d.From = "x"
	d.Buckets[1] = 9
	f.Add(d.encode())
	f.Add(append([]byte{byte(msgDelta), wireVersion, 0}, hugeCount()...))
	f.Add(encodeMeta(map[string]string{"api": "a:1"}, true))
	o := offerMsg{From: "a", Nonce: 1}
	o.Buckets.add(5)
	o.Hashes[5] = 77
	f.Add(o.encode())
	f.Add((&wantMsg{From: "a", Nonce: 1, Buckets: o.Buckets}).encode())
	f.Fuzz(func(t *testing.T, b []byte) {
		if m, err := decodeDelta(b); err == nil {
			m2, err := decodeDelta(m.encode())
			if err != nil || !reflect.DeepEqual(m, m2) {
				t.Fatalf("delta re-encode: %v", err)
			}
		}
		if m, err := decodeRepair(b); err == nil {
			if _, err := decodeRepair(m.encode()); err != nil {
				t.Fatalf("repair re-encode: %v", err)
			}
		}
		if m, err := decodeDigest(b); err == nil {
			if m2, err := decodeDigest(m.encode()); err != nil || m2 != m {
				t.Fatalf("digest re-encode: %v", err)
			}
		}
		if m, err := decodeOffer(b); err == nil {
			if m2, err := decodeOffer(m.encode()); err != nil || m2 != m {
				t.Fatalf("offer re-encode: %v", err)
			}
		}
		if m, err := decodeWant(b); err == nil {
			if m2, err := decodeWant(m.encode()); err != nil || m2 != m {
				t.Fatalf("want re-encode: %v", err)
			}
		}
		_, _ = decodeMeta(b)
	})
}

func TestMsgTypeString(t *testing.T) {
	for typ, want := range map[msgType]string{msgDelta: "Delta", msgRepair: "Repair", msgDigest: "Digest", msgOffer: "Offer", msgWant: "Want", 77: "msgType(77)"} {
		if got := typ.String(); got != want {
			t.Errorf("msgType(%d).String() = %q, want %q", typ, got, want)
		}
	}
}

// TestDecodePaddedUvarint: a uvarint in a longer form than needed decodes
// to the same number but encodes again as other bytes, so it is refused,
// in messages and in node meta alike.
func TestDecodePaddedUvarint(t *testing.T) {
	w := (&wantMsg{From: "a", Nonce: 1}).encode()
	padded := append([]byte{w[0], w[1], 0x81, 0x00}, w[3:]...) // name length 1 as two bytes
	if _, err := decodeWant(w); err != nil {
		t.Fatalf("valid want: %v", err)
	}
	if _, err := decodeWant(padded); !errors.Is(err, errInvalid) {
		t.Errorf("want with a padded length: got %v, want %v", err, errInvalid)
	}
	meta := encodeMeta(map[string]string{"a": "b"}, false)
	paddedMeta := append([]byte{meta[0], meta[1], 0x81, 0x00}, meta[3:]...) // entry count 1
	if _, err := decodeMeta(meta); err != nil {
		t.Fatalf("valid meta: %v", err)
	}
	if _, err := decodeMeta(paddedMeta); !errors.Is(err, errInvalid) {
		t.Errorf("meta with a padded count: got %v, want %v", err, errInvalid)
	}
}
