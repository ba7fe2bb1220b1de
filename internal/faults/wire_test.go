package faults

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"syscall"
	"time"

	"github.com/vmihailenco/msgpack/v5"

	"github.com/crdtd/crdtd/internal/testbin/mlwire"
)

// Frames on the wire, rebuilt here from gossip/messages.go (memberlist's
// framing is in mlwire) so that the tests can craft what no real node sends.

// gossip envelope types and version (gossip/messages.go).
const (
	gDelta   = 1
	gRepair  = 2
	gDigest  = 3
	gVersion = 1
)

func uvarint(v uint64) []byte { return binary.AppendUvarint(nil, v) }

func lstr(s string) []byte { return append(uvarint(uint64(len(s))), s...) }

func cat(parts ...[]byte) []byte { return bytes.Join(parts, nil) }

// deltaFrame builds a msgDelta with the given parts.
func deltaFrame(from, key string, parts ...[]byte) []byte {
	b := []byte{gDelta, gVersion, 0}
	b = append(b, lstr(from)...)
	b = append(b, lstr("r-hostile")...)
	b = append(b, lstr(key)...)
	b = binary.BigEndian.AppendUint64(b, uint64(time.Now().UnixNano()))
	b = append(b, uvarint(uint64(len(parts)))...)
	for _, p := range parts {
		b = append(b, lstr(string(p))...)
	}
	return b
}

// repairFrame builds a msgRepair of key/data pairs.
func repairFrame(from string, kv ...[]byte) []byte {
	b := []byte{gRepair, gVersion}
	b = append(b, lstr(from)...)
	b = append(b, uvarint(uint64(len(kv)/2))...)
	for i := 0; i+1 < len(kv); i += 2 {
		b = append(b, lstr(string(kv[i]))...)
		b = append(b, lstr(string(kv[i+1]))...)
	}
	return b
}

// digestFrame builds a msgDigest with the given bucket hashes present.
func digestFrame(from string, buckets map[int]uint64) []byte {
	b := []byte{gDigest, gVersion}
	b = append(b, lstr(from)...)
	b = append(b, uvarint(uint64(len(buckets)))...)
	var bitmap [32]byte
	for i := range buckets {
		bitmap[i/8] |= 1 << (i % 8)
	}
	b = append(b, bitmap[:]...)
	for i := range 256 {
		if h, ok := buckets[i]; ok {
			b = binary.BigEndian.AppendUint64(b, h)
		}
	}
	return b
}

// state encodes a crdt state: the version byte and msgpack of v.
func state(v any) []byte {
	b, err := msgpack.Marshal(v)
	if err != nil {
		panic(err)
	}
	return append([]byte{1}, b...)
}

// cartState builds a cart of one line under item with a context of one
// replica: incs, sets and prices are dot-function arrays.
func cartState(replica, item string, top uint64, incs, sets, prices []any) []byte {
	return state([]any{
		[]any{[]any{replica, top}},
		[]any{item, []any{incs, sets, prices}},
	})
}

// udpPacket wraps a gossip message as memberlist's user message packet.
func udpPacket(label string, key, msg []byte) []byte {
	p := append([]byte{mlwire.TypeUser}, msg...)
	if key != nil {
		p = mlwire.Encrypt(key, p, []byte(label))
	}
	return append(mlwire.LabelHeader(label), p...)
}

// tcpStream wraps a memberlist stream message (type byte first).
func tcpStream(label string, key, msg []byte) []byte {
	if key != nil {
		size := make([]byte, 4)
		binary.BigEndian.PutUint32(size, uint32(1+12+len(msg)+16))
		hdr := append([]byte{mlwire.TypeEncrypt}, size...)
		msg = append(hdr, mlwire.Encrypt(key, msg, append(append([]byte(nil), hdr...), label...))...)
	}
	return append(mlwire.LabelHeader(label), msg...)
}

// userStream is a reliable (TCP) user message carrying a gossip message.
func userStream(label string, key, msg []byte) []byte {
	hdr, _ := msgpack.Marshal(struct{ UserMsgLen int }{len(msg)})
	return tcpStream(label, key, cat([]byte{mlwire.TypeUser}, hdr, msg))
}

// pushPullStream is a push/pull with no nodes and the given user state (our
// digest).
func pushPullStream(label string, key, user []byte) []byte {
	hdr, _ := msgpack.Marshal(struct {
		Nodes        int
		UserStateLen int
		Join         bool
	}{0, len(user), false})
	return tcpStream(label, key, cat([]byte{mlwire.TypePushPull}, hdr, user))
}

func sendUDP(addr string, pkt []byte) error {
	conn, err := net.Dial("udp", addr)
	if err != nil {
		return err
	}
	defer conn.Close()
	_, err = conn.Write(pkt)
	return err
}

// sendTCP writes b, half-closes, and drains the answer for a moment.
func sendTCP(addr string, b []byte) error {
	conn, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err != nil {
		return err
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(2 * time.Second))
	if _, err := conn.Write(b); err != nil {
		return err
	}
	if tc, ok := conn.(*net.TCPConn); ok {
		_ = tc.CloseWrite()
	}
	_, _ = io.Copy(io.Discard, conn)
	return nil
}

// pushPull sends a push/pull with user as its user state, waits for the
// node to close the stream and reports whether the node answered with its
// own push/pull. memberlist answers once it has read all of ours, then
// merges ours (handing the user state to crdtd) and only then closes the
// stream: after an answer, crdtd has handled the state by the time
// pushPull returns, unless memberlist failed the merge (it logs that).
// No answer means memberlist gave up on the stream before answering (too
// many pending push/pulls, or its deadline passed) and crdtd never saw
// the state. An error means the node did not end the stream in time, or
// answered something unexpected.
func pushPull(addr, label string, key, user []byte) (answered bool, err error) {
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return false, err
	}
	defer conn.Close()
	// Far longer than the node's own deadline for a stream (1 s in the
	// local profile): the node, not this deadline, should end the stream.
	_ = conn.SetDeadline(time.Now().Add(15 * time.Second))
	if _, err := conn.Write(pushPullStream(label, key, user)); err != nil {
		return false, err
	}
	if tc, ok := conn.(*net.TCPConn); ok {
		_ = tc.CloseWrite()
	}
	answer, err := io.ReadAll(conn)
	if errors.Is(err, syscall.ECONNRESET) {
		return false, nil // closed before the node had read the push/pull
	}
	if err != nil {
		return false, fmt.Errorf("push/pull: the node did not end the stream: %w", err)
	}
	if key != nil {
		// [mlwire.TypeEncrypt][length, 4 bytes][sealed message], the first five
		// bytes and the label authenticated.
		if len(answer) < 5 || answer[0] != mlwire.TypeEncrypt {
			return false, nil
		}
		aad := append(answer[:5:5], label...)
		if answer, err = mlwire.Decrypt(key, answer[5:], aad); err != nil {
			return false, fmt.Errorf("push/pull answer: %w", err)
		}
	}
	return len(answer) > 0 && answer[0] == mlwire.TypePushPull, nil
}

// hostileFrame is one crafted gossip message and what should reject it.
type hostileFrame struct {
	name string
	msg  []byte
	tcp  bool // too large for a UDP packet
}

// hostileFrames returns malformed gossip messages; each must be dropped and
// counted exactly once by the gossip decoders or the daemon's merge.
func hostileFrames(from string) []hostileFrame {
	wall := time.Now().UnixNano()
	y2200 := time.Date(2200, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano()
	good := cartState("r1", "apple", 3,
		[]any{[]any{0, 1}, 2}, []any{[]any{0, 2}, []any{3, wall, 0}}, []any{[]any{0, 3}, []any{100, wall, 0}})
	deep := bytes.Repeat([]byte{0x91}, 100_000)
	var fs []hostileFrame
	add := func(name string, msg []byte) { fs = append(fs, hostileFrame{name: name, msg: msg}) }
	ckey := "c/hostile"

	// Envelope.
	add("empty message", nil)
	add("type byte only", []byte{gDelta})
	add("type 0", []byte{0, gVersion, 0})
	add("type 0x7f", []byte{0x7f, gVersion, 1, 2, 3})
	add("digest type by packet", digestFrame(from, map[int]uint64{1: 1}))
	add("delta version 2", append([]byte{gDelta, 2}, deltaFrame(from, ckey, good)[2:]...))
	add("delta version 0", append([]byte{gDelta, 0}, deltaFrame(from, ckey, good)[2:]...))
	add("delta truncated after sent", []byte{gDelta, gVersion, 0})
	add("delta truncated in key", deltaFrame(from, ckey, good)[:12])
	add("delta truncated in part", func() []byte { f := deltaFrame(from, ckey, good); return f[:len(f)-3] }())
	add("delta sent byte 9", append([]byte{gDelta, gVersion, 9}, deltaFrame(from, ckey, good)[3:]...))
	add("delta sender length 2^62", cat([]byte{gDelta, gVersion, 0}, uvarint(1<<62), []byte("x")))
	add("delta key longer than 1024", deltaFrame(from, "c/"+strings.Repeat("k", 2000), good))
	add("delta part count 2^40", cat([]byte{gDelta, gVersion, 0}, lstr(from), lstr("r"), lstr(ckey), make([]byte, 8), uvarint(1<<40)))
	add("delta 65 parts", deltaFrame(from, ckey, func() [][]byte {
		p := make([][]byte, 65)
		for i := range p {
			p[i] = []byte{1}
		}
		return p
	}()...))
	add("delta part length 2^50", cat([]byte{gDelta, gVersion, 0}, lstr(from), lstr("r"), lstr(ckey), make([]byte, 8), uvarint(1), uvarint(1<<50)))
	add("delta trailing bytes", append(deltaFrame(from, ckey, good), 0, 0, 0))
	add("delta empty key", deltaFrame(from, "", good))
	add("delta empty sender", deltaFrame("", ckey, good))
	add("delta no parts", deltaFrame(from, ckey))
	add("delta uvarint overflow", cat([]byte{gDelta, gVersion, 0}, bytes.Repeat([]byte{0xff}, 11)))
	add("repair version 9", append([]byte{gRepair, 9}, repairFrame(from, []byte(ckey), good)[2:]...))
	add("repair 2^40 entries", cat([]byte{gRepair, gVersion}, lstr(from), uvarint(1<<40)))
	add("repair empty key", repairFrame(from, []byte(""), good))
	add("repair empty sender", repairFrame("", []byte(ckey), good))
	add("repair truncated", func() []byte { f := repairFrame(from, []byte(ckey), good); return f[:len(f)-5] }())

	// Object keys.
	add("unknown key prefix", deltaFrame(from, "z/what", good))
	add("invalid UTF-8 cart id", deltaFrame(from, "c/\xff\xfe", good))
	add("cart id with a space", deltaFrame(from, "c/a b", good))
	add("heartbeat key not a replica", deltaFrame(from, "h/\xff", good))

	// Cart states.
	add("empty state", deltaFrame(from, ckey, []byte{}))
	add("state version 2", deltaFrame(from, ckey, append([]byte{2}, good[1:]...)))
	add("state truncated", deltaFrame(from, ckey, good[:len(good)/2]))
	add("state array header 2^32-1", deltaFrame(from, ckey, []byte{1, 0xdd, 0xff, 0xff, 0xff, 0xff}))
	add("state string header 2^32-1", deltaFrame(from, ckey, []byte{1, 0x92, 0x91, 0x92, 0xdb, 0xff, 0xff, 0xff, 0xff}))
	add("state nested 100k arrays", fsFrame(from, ckey, append([]byte{1}, deep...)))
	add("state nested maps", deltaFrame(from, ckey, append([]byte{1}, bytes.Repeat([]byte{0x81, 0xa1, 'k'}, 1000)...)))
	add("state trailing bytes", deltaFrame(from, ckey, append(append([]byte(nil), good...), 0xc0)))
	add("invalid UTF-8 item id", deltaFrame(from, ckey, cartState("r1", "\xff\xfe", 1, []any{[]any{0, 1}, 1}, []any{}, []any{})))
	add("invalid UTF-8 replica id", deltaFrame(from, ckey, cartState("r\xff", "apple", 1, []any{[]any{0, 1}, 1}, []any{}, []any{})))
	add("replica id of 65 bytes", deltaFrame(from, ckey, cartState(strings.Repeat("r", 65), "apple", 1, []any{[]any{0, 1}, 1}, []any{}, []any{})))
	add("increment 0", deltaFrame(from, ckey, cartState("r1", "apple", 1, []any{[]any{0, 1}, 0}, []any{}, []any{})))
	add("increment 2,000,000", deltaFrame(from, ckey, cartState("r1", "apple", 1, []any{[]any{0, 1}, 2_000_000}, []any{}, []any{})))
	add("increment 2^64-1", deltaFrame(from, ckey, cartState("r1", "apple", 1, []any{[]any{0, 1}, uint64(1<<64 - 1)}, []any{}, []any{})))
	add("set quantity 2^63", deltaFrame(from, ckey, cartState("r1", "apple", 1, []any{}, []any{[]any{0, 1}, []any{uint64(1 << 63), wall, 0}}, []any{})))
	add("negative price", deltaFrame(from, ckey, cartState("r1", "apple", 1, []any{}, []any{}, []any{[]any{0, 1}, []any{-5, wall, 0}})))
	add("price above limit", deltaFrame(from, ckey, cartState("r1", "apple", 1, []any{}, []any{}, []any{[]any{0, 1}, []any{int64(1e13), wall, 0}})))
	add("logical clock 2^33", deltaFrame(from, ckey, cartState("r1", "apple", 1, []any{}, []any{[]any{0, 1}, []any{3, wall, uint64(1 << 33)}}, []any{})))
	add("timed value with 4 fields", deltaFrame(from, ckey, cartState("r1", "apple", 1, []any{}, []any{[]any{0, 1}, []any{3, wall, 0, 0}}, []any{})))
	add("dot sequence 0", deltaFrame(from, ckey, cartState("r1", "apple", 1, []any{[]any{0, 0}, 1}, []any{}, []any{})))
	add("dot replica index 7", deltaFrame(from, ckey, cartState("r1", "apple", 1, []any{[]any{7, 1}, 1}, []any{}, []any{})))
	add("dot missing from context", deltaFrame(from, ckey, cartState("r1", "apple", 1, []any{[]any{0, 5}, 1}, []any{}, []any{})))
	add("dots not sorted", deltaFrame(from, ckey, cartState("r1", "apple", 3, []any{[]any{0, 2}, 1, []any{0, 1}, 1}, []any{}, []any{})))
	add("odd dot function", deltaFrame(from, ckey, cartState("r1", "apple", 1, []any{[]any{0, 1}}, []any{}, []any{})))
	add("line of 2 fields", deltaFrame(from, ckey, state([]any{[]any{[]any{"r1", 1}}, []any{"apple", []any{[]any{}, []any{}}}})))
	add("empty line", deltaFrame(from, ckey, state([]any{[]any{[]any{"r1", 1}}, []any{"apple", []any{[]any{}, []any{}, []any{}}}})))
	add("context replicas unsorted", deltaFrame(from, ckey, state([]any{[]any{[]any{"r2", 1}, []any{"r1", 1}}, []any{}})))
	add("context cloud not canonical", deltaFrame(from, ckey, state([]any{[]any{[]any{"r1", 1, 2}}, []any{}})))
	add("empty context entry", deltaFrame(from, ckey, state([]any{[]any{[]any{"r1", 0}}, []any{}})))
	add("map keys unsorted", deltaFrame(from, ckey, state([]any{[]any{[]any{"r1", 2}},
		[]any{"b", []any{[]any{[]any{0, 1}, 1}, []any{}, []any{}}, "a", []any{[]any{[]any{0, 2}, 1}, []any{}, []any{}}}})))
	add("map entries odd", deltaFrame(from, ckey, state([]any{[]any{[]any{"r1", 1}}, []any{"apple"}})))
	add("set timestamp in year 2200", deltaFrame(from, ckey, cartState("r1", "apple", 1, []any{}, []any{[]any{0, 1}, []any{3, y2200, 0}}, []any{})))
	add("price timestamp in year 2200", deltaFrame(from, ckey, cartState("r1", "apple", 1, []any{}, []any{}, []any{[]any{0, 1}, []any{100, y2200, 0}})))
	add("repair with year-2200 state", repairFrame(from, []byte(ckey), cartState("r1", "apple", 1, []any{}, []any{[]any{0, 1}, []any{3, y2200, 0}}, []any{})))
	add("repair with corrupt state", repairFrame(from, []byte(ckey), good[:10]))
	for i := range fs {
		fs[i].tcp = len(fs[i].msg) > 60_000
	}
	return fs
}

// fsFrame is deltaFrame for a part too large to matter for UDP.
func fsFrame(from, key string, part []byte) []byte { return deltaFrame(from, key, part) }

// hostileDigests returns malformed digests for push/pull user state; each is
// counted by the gossip decoder.
func hostileDigests(from string) []hostileFrame {
	full := digestFrame(from, map[int]uint64{3: 7, 9: 8})
	return []hostileFrame{
		{name: "digest truncated", msg: full[:len(full)-4]},
		{name: "digest version 7", msg: append([]byte{gDigest, 7}, full[2:]...)},
		{name: "digest bitmap claims 8 buckets, has 2", msg: func() []byte {
			f := append([]byte(nil), full...)
			f[2+len(lstr(from))+1] = 0xff
			return f
		}()},
		{name: "digest zero bucket marked present", msg: digestFrame(from, map[int]uint64{5: 0})},
		{name: "digest empty sender", msg: digestFrame("", map[int]uint64{1: 1})},
		{name: "digest wrong type", msg: append([]byte{gDelta}, full[1:]...)},
		{name: "digest trailing bytes", msg: append(append([]byte(nil), full...), 1, 2)},
	}
}

func (f hostileFrame) String() string { return fmt.Sprintf("%s (%d bytes)", f.name, len(f.msg)) }
