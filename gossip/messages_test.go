package gossip

import (
	"bytes"
	"encoding/binary"
	"errors"
	"reflect"
	"runtime"
	"strings"
	"testing"
)

func sampleDelta() deltaMsg {
	return deltaMsg{Sent: sentDirect, From: "node-a", Origin: "replica-1", Key: "cart/alice", OriginTime: 1700000000123456789, Parts: [][]byte{[]byte("apple"), []byte("pear")}}
}

func TestDeltaRoundTrip(t *testing.T) {
	t.Parallel()
	for _, sent := range []uint8{sentBroadcast, sentDirect, sentReliable} {
		want := sampleDelta()
		want.Sent = sent
		got, err := decodeDelta(want.encode())
		if err != nil {
			t.Fatalf("sent %d: %v", sent, err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("got %+v, want %+v", got, want)
		}
	}
}

func TestRepairRoundTrip(t *testing.T) {
	t.Parallel()
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
	t.Parallel()
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

// sampleOffer is an offer of three buckets: one with a single sub-bucket,
// one with sub-buckets at both ends, one full.
func sampleOffer() offerMsg {
	o := offerMsg{From: "node-a", Nonce: 0xfeedface12345678}
	for _, b := range []uint8{0, 7, 255} {
		ob := offerBucket{Bucket: b}
		subs := []uint8{3}
		switch b {
		case 7:
			subs = []uint8{0, 8, 200, 255}
		case 255:
			subs = nil
			for s := range subBuckets {
				subs = append(subs, uint8(s))
			}
		}
		for _, s := range subs {
			ob.Subs.add(s)
			ob.Hashes = append(ob.Hashes, (uint64(b)+1)*(uint64(s)+1)*0x9e3779b97f4a7c15)
		}
		o.Buckets = append(o.Buckets, ob)
	}
	return o
}

func sampleWant() wantMsg {
	w := wantMsg{From: "b", Nonce: 1, Buckets: []subSet{{Bucket: 7}, {Bucket: 255}}}
	w.Buckets[0].Subs.add(8)
	w.Buckets[1].Subs.add(0)
	w.Buckets[1].Subs.add(255)
	return w
}

func TestOfferWantRoundTrip(t *testing.T) {
	t.Parallel()
	o := sampleOffer()
	b := o.encode()
	got, err := decodeOffer(b)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, o) {
		t.Fatalf("got %+v, want %+v", got, o)
	}
	// header, name, nonce, count; per bucket its index, bitmap and hashes
	if want := 2 + 7 + 8 + 1 + 3*(1+32) + 8*(1+4+256); len(b) != want {
		t.Errorf("offer: got %d bytes, want %d", len(b), want)
	}
	if h := got.Buckets[1].hashes(); h[200] != o.Buckets[1].Hashes[2] || h[1] != 0 {
		t.Errorf("hashes of bucket 7: [200]=%x [1]=%x, want %x and 0", h[200], h[1], o.Buckets[1].Hashes[2])
	}
	for _, w := range []wantMsg{sampleWant(), {From: "b", Nonce: 2}} {
		got, err := decodeWant(w.encode())
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, w) {
			t.Fatalf("got %+v, want %+v", got, w)
		}
	}
	if n := len(sampleWant().encode()); n != 2+2+8+1+2*33 {
		t.Errorf("want of 2 buckets: got %d bytes, want %d", n, 2+2+8+1+2*33)
	}
}

// TestOfferSizeBound: an offer of maxOfferBuckets full buckets, the largest
// a node sends, stays under 34 KiB and decodes.
func TestOfferSizeBound(t *testing.T) {
	t.Parallel()
	o := offerMsg{From: strings.Repeat("n", maxNameLen), Nonce: 1}
	for b := range maxOfferBuckets {
		ob := offerBucket{Bucket: uint8(b)}
		for s := range subBuckets {
			ob.Subs.add(uint8(s))
			ob.Hashes = append(ob.Hashes, uint64(s)+1)
		}
		o.Buckets = append(o.Buckets, ob)
	}
	b := o.encode()
	if len(b) > 34<<10 {
		t.Errorf("largest offer: %d bytes, want at most 34 KiB", len(b))
	}
	if _, err := decodeOffer(b); err != nil {
		t.Fatal(err)
	}
	o.Buckets = append(o.Buckets, offerBucket{Bucket: maxOfferBuckets, Hashes: []uint64{1}})
	o.Buckets[maxOfferBuckets].Subs.add(0)
	if _, err := decodeOffer(o.encode()); !errors.Is(err, errTooLarge) {
		t.Errorf("offer of %d buckets: got %v, want %v", maxOfferBuckets+1, err, errTooLarge)
	}
}

// patch returns a copy of b with b[i] set to v.
func patch(b []byte, i int, v byte) []byte {
	c := append([]byte(nil), b...)
	c[i] = v
	return c
}

func TestDecodeOfferWantMalformed(t *testing.T) {
	t.Parallel()
	var o offerMsg
	o.From, o.Nonce = "a", 9
	o.Buckets = []offerBucket{{Bucket: 3, Hashes: []uint64{42}}, {Bucket: 5, Hashes: []uint64{43}}}
	o.Buckets[0].Subs.add(1)
	o.Buckets[1].Subs.add(2)
	valid := o.encode()
	const count = 2 + 2 + 8 // offset of the bucket count (name "a")
	second := count + 1 + 33 + 8
	w := sampleWant().encode()
	wCount := 2 + 2 + 8
	tooMany := wantMsg{From: "a"}
	for b := range maxOfferBuckets + 1 {
		tooMany.Buckets = append(tooMany.Buckets, subSet{Bucket: uint8(b)})
		tooMany.Buckets[b].Subs.add(0)
	}
	v1 := append([]byte{byte(msgOffer), 1, 1, 'a'}, make([]byte, 8+32+8)...) // a version-1 offer
	v1[len(v1)-9-32] = 1
	tests := []struct {
		name   string
		decode func([]byte) error
		buf    []byte
		want   error
	}{
		{"offer missing hash", offerErr, valid[:len(valid)-8], errTruncated},
		{"offer extra bytes", offerErr, append(append([]byte(nil), valid...), 1, 2, 3, 4, 5, 6, 7, 8), errTrailing},
		{"offer no buckets", offerErr, (&offerMsg{From: "a"}).encode(), errInvalid},
		{"offer no sender", offerErr, (&offerMsg{Buckets: o.Buckets}).encode(), errInvalid},
		{"offer short bitmap", offerErr, valid[:count+10], errTruncated},
		{"offer count beyond bytes", offerErr, patch(valid, count, 3), errTruncated},
		{"offer count over cap", offerErr, patch(valid, count, maxOfferBuckets+1), errTooLarge},
		{"offer buckets out of order", offerErr, patch(valid, second, 2), errInvalid},
		{"offer bucket twice", offerErr, patch(valid, second, 3), errInvalid},
		{"offer empty bucket", offerErr, (&offerMsg{From: "a", Buckets: []offerBucket{{Bucket: 1}}}).encode(), errInvalid},
		{"offer zero hash", offerErr, (&offerMsg{From: "a", Buckets: []offerBucket{{Bucket: 1, Subs: bucketSet{1}, Hashes: []uint64{0}}}}).encode(), errInvalid},
		{"offer version 1", offerErr, v1, errVersion},
		{"offer as want", wantErr, valid, errType},
		{"want trailing", wantErr, append(append([]byte(nil), w...), 0), errTrailing},
		{"want short", wantErr, w[:len(w)-1], errTruncated},
		{"want no sender", wantErr, (&wantMsg{}).encode(), errInvalid},
		{"want version 1", wantErr, append([]byte{byte(msgWant), 1}, w[2:]...), errVersion},
		{"want empty bucket", wantErr, (&wantMsg{From: "a", Buckets: []subSet{{Bucket: 4}}}).encode(), errInvalid},
		{"want buckets out of order", wantErr, patch(w, wCount+1+33, 6), errInvalid},
		{"want count over cap", wantErr, tooMany.encode(), errTooLarge},
		{"want count beyond bytes", wantErr, patch(w, wCount, 3), errTruncated},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.decode(tt.buf); !errors.Is(err, tt.want) {
				t.Fatalf("decode %x: got %v, want %v", tt.buf, err, tt.want)
			}
		})
	}
}

// TestDecodeOfferAllocation: an offer claiming many buckets and hashes is
// refused before anything of the claimed size is allocated.
func TestDecodeOfferAllocation(t *testing.T) {
	// Not parallel: it measures the process's allocations.
	full := bucketSet{}
	for i := range full {
		full[i] = 0xff
	}
	buf := append([]byte{byte(msgOffer), offerVersion, 1, 'a'}, make([]byte, 8)...)
	buf = append(buf, maxOfferBuckets, 0)
	buf = append(buf, full[:]...) // 256 hashes claimed, none present
	buf = append(buf, make([]byte, (maxOfferBuckets-1)*33)...)
	var m0, m1 runtime.MemStats
	runtime.ReadMemStats(&m0)
	for range 10 {
		if _, err := decodeOffer(buf); !errors.Is(err, errTruncated) {
			t.Fatalf("got %v, want %v", err, errTruncated)
		}
	}
	runtime.ReadMemStats(&m1)
	if b := (m1.TotalAlloc - m0.TotalAlloc) / 10; b > 2<<10 {
		t.Fatalf("got %d bytes allocated rejecting a short offer, want < 2 KiB", b)
	}
}

func offerErr(b []byte) error { _, err := decodeOffer(b); return err }
func wantErr(b []byte) error  { _, err := decodeWant(b); return err }

// hugeCount is a uvarint claiming 50,000,000 entries.
func hugeCount() []byte { return binary.AppendUvarint(nil, 50_000_000) }

func TestDecodeMalformed(t *testing.T) {
	// Not parallel: it measures the process's allocations.
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
	t.Parallel()
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
	t.Parallel()
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
	t.Parallel()
	c := newTestCluster(t, nil)
	n := c.start(0, newSetDelegate(), 0)
	d := &mlDelegate{n: n}
	v1Offer := append([]byte{byte(msgOffer), 1, 1, 'a'}, make([]byte, 8+32+8)...) // before sub-buckets
	v1Offer[12] = 1
	bad := [][]byte{nil, {0}, {byte(msgDigest), 1}, {byte(msgDelta), 1, 0}, append([]byte{byte(msgRepair), 1, 1, 'a'}, hugeCount()...), {200, 1},
		v1Offer, {byte(msgWant), offerVersion, 1, 'a', 0, 0, 0, 0, 0, 0, 0, 9, maxOfferBuckets + 1}}
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
	o := sampleOffer()
	f.Add(o.encode())
	w := sampleWant()
	f.Add(w.encode())
	f.Add((&wantMsg{From: "a", Nonce: 1}).encode())
	// Whatever a decoder accepts encodes again to the same bytes: every
	// message has one encoding.
	f.Fuzz(func(t *testing.T, b []byte) {
		if m, err := decodeDelta(b); err == nil {
			if again := m.encode(); !bytes.Equal(again, b) {
				t.Fatalf("delta %x re-encodes as %x", b, again)
			}
		}
		if m, err := decodeRepair(b); err == nil {
			if again := m.encode(); !bytes.Equal(again, b) {
				t.Fatalf("repair %x re-encodes as %x", b, again)
			}
		}
		if m, err := decodeDigest(b); err == nil {
			if again := m.encode(); !bytes.Equal(again, b) {
				t.Fatalf("digest %x re-encodes as %x", b, again)
			}
		}
		if m, err := decodeOffer(b); err == nil {
			if again := m.encode(); !bytes.Equal(again, b) {
				t.Fatalf("offer %x re-encodes as %x", b, again)
			}
		}
		if m, err := decodeWant(b); err == nil {
			if again := m.encode(); !bytes.Equal(again, b) {
				t.Fatalf("want %x re-encodes as %x", b, again)
			}
		}
		_, _ = decodeMeta(b)
	})
}

func TestMsgTypeString(t *testing.T) {
	t.Parallel()
	for typ, want := range map[msgType]string{msgInvalid: "Invalid", msgDelta: "Delta", msgRepair: "Repair", msgDigest: "Digest", msgOffer: "Offer", msgWant: "Want", msgWant + 1: "msgType(6)", 77: "msgType(77)"} {
		if got := typ.String(); got != want {
			t.Errorf("msgType(%d).String() = %q, want %q", typ, got, want)
		}
	}
}

// TestDecodePaddedUvarint: a uvarint in a longer form than needed decodes
// to the same number but encodes again as other bytes, so it is refused,
// in messages and in node meta alike.
func TestDecodePaddedUvarint(t *testing.T) {
	t.Parallel()
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
