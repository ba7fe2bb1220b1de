package faults

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/vmihailenco/msgpack/v5"

	"github.com/crdtd/crdtd/internal/testbin"
	"github.com/crdtd/crdtd/internal/testbin/mlwire"
)

// The rogue peer: a process on the network that speaks memberlist and
// gossip frames (wire_test.go) but is no crdtd node, first without the
// cluster key, then with it. The nodes log JSON, so that the tests can
// read and bound what the attacks make them log.

// pushPullJoinStream is what a node joining the cluster sends: a join
// push/pull announcing itself, name at 127.0.0.1:port, alive, with a digest
// as user state.
func pushPullJoinStream(label string, key []byte, name string, port int, user []byte) []byte {
	hdr, _ := msgpack.Marshal(struct {
		Nodes        int
		UserStateLen int
		Join         bool
	}{1, len(user), true})
	node, _ := msgpack.Marshal(struct {
		Name        string
		Addr        []byte
		Port        uint16
		Meta        []byte
		Incarnation uint32
		State       int
		Vsn         []uint8
	}{name, net.IPv4(127, 0, 0, 1).To4(), uint16(port), nil, 1, 0, []uint8{1, 5, 2, 0, 0, 0}})
	return tcpStream(label, key, cat([]byte{mlwire.TypePushPull}, hdr, node, user))
}

// exchangeTCP writes b, half-closes and returns what the node answered.
func exchangeTCP(addr string, b []byte) ([]byte, error) {
	conn, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(3 * time.Second))
	if _, err := conn.Write(b); err != nil {
		return nil, err
	}
	if tc, ok := conn.(*net.TCPConn); ok {
		_ = tc.CloseWrite()
	}
	return io.ReadAll(conn)
}

// pushPullUntilAnswered sends user state by push/pull until the node
// answers (see pushPull), and returns how many times it did not.
func pushPullUntilAnswered(addr, label string, key, user []byte) (unanswered int, err error) {
	for {
		ok, err := pushPull(addr, label, key, user)
		if err != nil || ok {
			return unanswered, err
		}
		if unanswered++; unanswered == 10 {
			return unanswered, fmt.Errorf("the node answered none of %d push/pulls", unanswered)
		}
	}
}

// logLines returns the JSON log lines n wrote from offset on, and the new
// end offset.
func logLines(t *testing.T, n *node, offset int) ([]map[string]any, int) {
	t.Helper()
	b, err := os.ReadFile(n.logPath)
	if err != nil {
		t.Fatal(err)
	}
	var out []map[string]any
	for line := range strings.Lines(string(b[offset:])) {
		if !strings.HasPrefix(line, "{") {
			continue // the harness's own "=== start" markers
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Errorf("%s log: %v: %s", n.name, err, line)
			continue
		}
		out = append(out, m)
	}
	return out, len(b)
}

func logOffset(n *node) int {
	fi, err := os.Stat(n.logPath)
	if err != nil {
		return 0
	}
	return int(fi.Size())
}

// maxLogLines bounds the Warn and Error lines an attack lasting elapsed
// may cause, given how many kinds of line it can cause: gossip and
// memberlist log each kind at most once a second. Without the limit every
// input is a line.
func maxLogLines(kinds int, elapsed time.Duration) int {
	return kinds * (2 + int(elapsed/time.Second))
}

func warnLines(lines []map[string]any) int {
	n := 0
	for _, l := range lines {
		if l["level"] == "WARN" || l["level"] == "ERROR" {
			n++
		}
	}
	return n
}

// waitMetric polls node i's metrics until cond holds.
func waitMetric(t *testing.T, c *cluster, i int, what string, cond func(m metrics) bool) metrics {
	t.Helper()
	var last metrics
	testbin.WaitFor(t, 15*time.Second, what, func() bool {
		m, err := c.scrape(i)
		if err != nil {
			return false
		}
		last = m
		return cond(m)
	})
	return last
}

// TestRogueWithoutKey: a peer without the cluster key tries to join, to
// inject a cart by UDP and TCP, to push a digest and to read the answers.
// The node stays as it was, counts every attempt and logs a bounded number
// of lines; and the same join with the key does add a member, so the
// frames are right.
func TestRogueWithoutKey(t *testing.T) {
	needBinaries(t)
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		t.Fatal(err)
	}
	c := newCluster(t, clusterOptions{nodes: 2, label: hostileLabel, key: key, extra: []string{"--log-format", "json"}})
	target := c.nodes[0]
	addr := target.gossipAddr
	rss0 := rssKiB(target.pid())
	before, err := c.scrape(0)
	if err != nil {
		t.Fatal(err)
	}
	off := logOffset(target)

	wrongKey := bytes.Repeat([]byte{7}, 32)
	digest := digestFrame("rogue", map[int]uint64{1: 1, 2: 2})
	delta := deltaFrame("rogue", "c/rogue", cartState("r-rogue", "apple", 1, []any{[]any{0, 1}, 1}, []any{}, []any{}))
	rogueName := "rogue-" + fmt.Sprint(os.Getpid())
	roguePort := freePort(t)
	attacks := []struct {
		name string
		tcp  []byte // sent by TCP, the answer read
		udp  []byte
	}{
		{name: "join without key", tcp: pushPullJoinStream(hostileLabel, nil, rogueName, roguePort, digest)},
		{name: "join with a wrong key", tcp: pushPullJoinStream(hostileLabel, wrongKey, rogueName, roguePort, digest)},
		{name: "push/pull digest without key", tcp: pushPullStream(hostileLabel, nil, digest)},
		{name: "delta by TCP without key", tcp: userStream(hostileLabel, nil, delta)},
		{name: "delta by TCP with a wrong key", tcp: userStream(hostileLabel, wrongKey, delta)},
		{name: "delta by UDP without key", udp: udpPacket(hostileLabel, nil, delta)},
		{name: "delta by UDP with a wrong key", udp: udpPacket(hostileLabel, wrongKey, delta)},
	}
	const rounds = 60
	start := time.Now()
	sent := 0
	for r := range rounds {
		for _, a := range attacks {
			if a.udp != nil {
				if err := sendUDP(addr, a.udp); err != nil {
					t.Fatalf("%s: %v", a.name, err)
				}
				sent++
				continue
			}
			answer, err := exchangeTCP(addr, a.tcp)
			if err != nil {
				t.Fatalf("%s: %v", a.name, err)
			}
			sent++
			// Whatever comes back is sealed (an answer on a stream carries
			// no label header), never memberlist's or gossip's plaintext.
			if len(answer) > 0 && answer[0] != mlwire.TypeEncrypt {
				t.Fatalf("%s (round %d): the node answered in clear: %q", a.name, r, answer)
			}
		}
		// Let the node count each round before the next: UDP has no
		// back-pressure, and a full socket buffer would lose packets.
		want := float64(sent)
		waitMetric(t, c, 0, "the attempts to be counted", func(m metrics) bool {
			return m.sum("crdtd_gossip_transport_errors_total")-before.sum("crdtd_gossip_transport_errors_total") >= want
		})
	}
	elapsed := time.Since(start)
	after, err := c.scrape(0)
	if err != nil {
		t.Fatal(err)
	}
	lines, _ := logLines(t, target, off)
	counted := after.sum("crdtd_gossip_transport_errors_total") - before.sum("crdtd_gossip_transport_errors_total")
	t.Logf("%d attempts without the key in %v: %v counted by the membership layer, %d lines logged (%d Warn or Error)",
		sent, elapsed.Round(time.Millisecond), counted, len(lines), warnLines(lines))

	// Nothing reached gossip, nothing changed.
	if d := gossipRejections(after) - gossipRejections(before); d != 0 {
		t.Errorf("%v inputs reached the gossip decoders; memberlist should refuse them all", d)
	}
	// The two honest nodes keep exchanging digests with each other; only a
	// digest rejected by a node would be the rogue's.
	for _, name := range []string{"crdtd_antientropy_exchanges_total", "crdtd_antientropy_offers_total"} {
		if d := after.sum(name, "result=rejected") - before.sum(name, "result=rejected"); d != 0 {
			t.Errorf("%s{result=rejected} grew by %v, want 0: a digest got through", name, d)
		}
	}
	ctx := context.Background()
	for i := range c.nodes {
		ms, err := c.client(i).Members(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(ms.Members) != 2 {
			t.Errorf("n%d has %d members after the rogue's joins, want 2: %+v", i, len(ms.Members), ms.Members)
		}
		if v, err := c.client(i).GetCart(ctx, "rogue"); err != nil || len(v.Items) != 0 {
			t.Errorf("cart rogue on n%d: got %v, %v; want empty", i, v.Items, err)
		}
	}
	// Four kinds: a stream or a packet, without a key or with a wrong one.
	if w := warnLines(lines); w > maxLogLines(6, elapsed) {
		t.Errorf("got %d Warn and Error lines for %d attempts in %v, want <= %d", w, sent, elapsed, maxLogLines(6, elapsed))
	}
	assertHealthy(t, c, 0, rss0)

	// The control: with the key, the same join makes the rogue a member.
	if _, err := exchangeTCP(addr, pushPullJoinStream(hostileLabel, key, rogueName, roguePort, digest)); err != nil {
		t.Fatal(err)
	}
	testbin.WaitFor(t, 5*time.Second, "the keyed join to add the rogue as a member", func() bool {
		ms, err := c.client(0).Members(ctx)
		if err != nil {
			return false
		}
		for _, m := range ms.Members {
			if m.Name == rogueName {
				return true
			}
		}
		return false
	})
}

// TestRogueWithKey: a peer holding the cluster key sends garbage, oversized
// messages and a flood of push/pull digests under invented names and under
// the name of a real member. The node keeps serving with bounded memory
// and logs, counts everything, keeps no state for invented names and sends
// no repair objects on a forged digest's word. A clean shutdown afterwards
// logs no error and no repeated JSON key.
func TestRogueWithKey(t *testing.T) {
	needBinaries(t)
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		t.Fatal(err)
	}
	// A lean heap, so that RSS after the attack shows what the node kept
	// rather than garbage the collector has not got to: with the default
	// GOGC the buffers of one 6 MB message held RSS up 70 MB for a while.
	t.Setenv("GOGC", "25")
	c := newCluster(t, clusterOptions{nodes: 2, label: hostileLabel, key: key, extra: []string{"--log-format", "json"}})
	target := c.nodes[0]
	addr := target.gossipAddr
	ctx := context.Background()
	for i := range 20 {
		if _, err := c.client(0).AddItem(ctx, fmt.Sprintf("cart%d", i), addReq("apple", 1)); err != nil {
			t.Fatal(err)
		}
	}
	// Wait until the two nodes agree, so that no genuine repair runs
	// during the attack: a push/pull after the last write found them in sync.
	m0, err := c.scrape(0)
	if err != nil {
		t.Fatal(err)
	}
	waitMetric(t, c, 0, "a digest exchange in sync after the writes", func(m metrics) bool {
		return m.sum("crdtd_antientropy_exchanges_total", "result=in_sync") > m0.sum("crdtd_antientropy_exchanges_total", "result=in_sync")
	})
	rss0 := rssKiB(target.pid())
	before, err := c.scrape(0)
	if err != nil {
		t.Fatal(err)
	}
	peerBefore, err := c.scrape(1)
	if err != nil {
		t.Fatal(err)
	}
	off := logOffset(target)
	start := time.Now()

	// (1) Garbage packets: not sealed (memberlist cannot decrypt them),
	// sealed with a message type memberlist does not know, and sealed
	// random bytes, which memberlist parses as whatever their first byte
	// says (some of those it drops without a word, so only the first two
	// kinds are sure to be counted). The random bytes are never an alive
	// message, nor a compound or compressed one that may hold an alive
	// message: in about one run in 25, the bytes after that type decode
	// as a well-formed alive message, a key holder changing the
	// membership rather than garbage. TestAliveWithoutVersions covers
	// those: before gossip checked every member memberlist hears of, one
	// for a member without protocol versions stopped anti-entropy.
	const packets = 2100
	counted := func(m metrics) float64 {
		return m.sum("crdtd_gossip_transport_errors_total") - before.sum("crdtd_gossip_transport_errors_total") +
			m.sum("crdtd_gossip_decode_errors_total") - before.sum("crdtd_gossip_decode_errors_total")
	}
	sure := 0
	for i := range packets {
		b := make([]byte, 1+i%1200)
		_, _ = rand.Read(b)
		var pkt []byte
		switch i % 3 {
		case 0:
			pkt = append(mlwire.LabelHeader(hostileLabel), b...)
			sure++
		case 1:
			b[0] = byte(200 + i%40) // no memberlist message type
			pkt = append(mlwire.LabelHeader(hostileLabel), mlwire.Encrypt(key, b, []byte(hostileLabel))...)
			sure++
		case 2:
			if b[0] == mlwire.TypeAlive || b[0] == mlwire.TypeCompound || b[0] == mlwire.TypeCompress {
				b[0] = byte(200 + i%40)
			}
			pkt = append(mlwire.LabelHeader(hostileLabel), mlwire.Encrypt(key, b, []byte(hostileLabel))...)
		}
		if err := sendUDP(addr, pkt); err != nil {
			t.Fatal(err)
		}
		if i%300 == 299 {
			want := float64(sure)
			waitMetric(t, c, 0, "the packets to be counted", func(m metrics) bool { return counted(m) >= want })
		}
	}
	// ... and gossip messages that are garbage, and oversized ones: a
	// repair message of 6 MB claiming 2 million entries (decoded, they
	// would take 110 MB, and the Delegate would reject each).
	huge := cat([]byte{gRepair, gVersion}, lstr("rogue"), uvarint(2_000_000), bytes.Repeat([]byte{1, 'k', 0}, 2_000_000))
	gossipGarbage := [][]byte{huge, repairFrame("rogue", bytes.Repeat([]byte("k"), 2000), nil)}
	for i := range 200 {
		b := make([]byte, 64)
		_, _ = rand.Read(b)
		// A delta, repair or digest type and version, garbage after them.
		// (Not an offer or a want: 64 random bytes can be a valid one.)
		b[0], b[1] = byte(gDelta+i%3), gVersion
		gossipGarbage = append(gossipGarbage, b)
	}
	for _, g := range gossipGarbage {
		if err := sendTCP(addr, userStream(hostileLabel, key, g)); err != nil {
			t.Fatal(err)
		}
	}
	waitMetric(t, c, 0, "the garbage gossip messages to be counted", func(m metrics) bool {
		return gossipRejections(m)-gossipRejections(before) >= float64(len(gossipGarbage))
	})

	// (2) Digests under invented names, each naming another sender. Each
	// of the four senders waits until the node has finished with one
	// digest before it sends the next: memberlist refuses a push/pull
	// while 127 others are pending, and drops one whose deadline (1 s)
	// passes on a slow machine, without handing the digest to crdtd, and
	// senders that did not wait would pile push/pulls up on a slow node.
	// A digest the node did not answer is sent again, so that crdtd sees
	// each one exactly once and must reject every one.
	const ghosts = 1000
	var unanswered atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for w := range 4 {
		wg.Go(func() {
			for i := w; i < ghosts; i += 4 {
				d := digestFrame(fmt.Sprintf("ghost-%06d", i), map[int]uint64{i % 256: uint64(i) + 1, 7: 7})
				n, err := pushPullUntilAnswered(addr, hostileLabel, key, d)
				unanswered.Add(int64(n))
				if err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	afterGhosts := waitMetric(t, c, 0, "every invented sender's digest to be rejected", func(m metrics) bool {
		return m.sum("crdtd_antientropy_exchanges_total", "result=rejected")-before.sum("crdtd_antientropy_exchanges_total", "result=rejected") >= ghosts
	})

	// ... and under the name of the real peer, every bucket differing.
	const forged = 100
	all := map[int]uint64{}
	for i := range 256 {
		all[i] = uint64(i)*0x9e3779b97f4a7c15 + 1
	}
	for range forged {
		n, err := pushPullUntilAnswered(addr, hostileLabel, key, digestFrame(c.nodes[1].name, all))
		unanswered.Add(int64(n))
		if err != nil {
			t.Fatal(err)
		}
	}
	// The node offers the peer the buckets; the peer, in sync, wants none.
	// Wait for every offer to be answered, or for a repair to start.
	after := waitMetric(t, c, 0, "the forged digests' offers to be answered", func(m metrics) bool {
		sentOffers := m.sum("crdtd_antientropy_offers_total", "result=sent") - before.sum("crdtd_antientropy_offers_total", "result=sent")
		answered := m.sum("crdtd_antientropy_offers_total", "result=answered") - before.sum("crdtd_antientropy_offers_total", "result=answered")
		exchanges := m.sum("crdtd_antientropy_exchanges_total", "result=diverged") - before.sum("crdtd_antientropy_exchanges_total", "result=diverged")
		rounds := m.sum("crdtd_antientropy_rounds_total") - before.sum("crdtd_antientropy_rounds_total")
		return exchanges >= forged && (rounds > 0 || sentOffers > 0 && answered == sentOffers)
	})
	elapsed := time.Since(start)
	peerAfter, err := c.scrape(1)
	if err != nil {
		t.Fatal(err)
	}
	lines, end := logLines(t, target, off)
	t.Logf("attack of %v: %v membership-layer errors, %v gossip decode errors, %v digests rejected, "+
		"%v offers sent for %d forged digests, %d push/pulls unanswered and sent again, %d Warn and Error lines; RSS %d KiB -> %d KiB",
		elapsed.Round(time.Millisecond),
		after.sum("crdtd_gossip_transport_errors_total")-before.sum("crdtd_gossip_transport_errors_total"),
		after.sum("crdtd_gossip_decode_errors_total")-before.sum("crdtd_gossip_decode_errors_total"),
		afterGhosts.sum("crdtd_antientropy_exchanges_total", "result=rejected")-before.sum("crdtd_antientropy_exchanges_total", "result=rejected"),
		after.sum("crdtd_antientropy_offers_total", "result=sent")-before.sum("crdtd_antientropy_offers_total", "result=sent"),
		forged, unanswered.Load(), warnLines(lines), rss0, rssKiB(target.pid()))

	if d := after.sum("crdtd_antientropy_exchanges_total", "result=rejected") - before.sum("crdtd_antientropy_exchanges_total", "result=rejected"); d != ghosts {
		t.Errorf("digests under invented names: %v rejected, want %d", d, ghosts)
	}
	if d := after.sum("crdtd_antientropy_rounds_total") - before.sum("crdtd_antientropy_rounds_total"); d != 0 {
		t.Errorf("forged digests started %v repair rounds, want 0", d)
	}
	sentRepair := after.sum("crdtd_gossip_messages_total", "channel=repair", "direction=sent") -
		before.sum("crdtd_gossip_messages_total", "channel=repair", "direction=sent")
	recvRepair := peerAfter.sum("crdtd_gossip_messages_total", "channel=repair", "direction=received") -
		peerBefore.sum("crdtd_gossip_messages_total", "channel=repair", "direction=received")
	if sentRepair != 0 || recvRepair != 0 {
		t.Errorf("forged digests sent %v repair objects (the named peer received %v), want none", sentRepair, recvRepair)
	}
	// Random packets make memberlist fail in a dozen ways, gossip's
	// decoders in a dozen more.
	if w := warnLines(lines); w > maxLogLines(30, elapsed) {
		t.Errorf("got %d Warn and Error lines in %v, want <= %d", w, elapsed, maxLogLines(30, elapsed))
	}
	assertHealthy(t, c, 0, rss0)
	if st, err := c.client(1).Status(ctx); err != nil || st.Members.Alive != 2 {
		t.Errorf("n1 after the attack: %+v, %v; want 2 alive members", st.Members, err)
	}

	// A clean shutdown logs no error, and no line of the node's log
	// repeats a key.
	target.signal(syscall.SIGTERM)
	lines, _ = logLines(t, target, end)
	for _, l := range lines {
		if l["level"] == "ERROR" {
			t.Errorf("clean shutdown logged an error: %v", l)
		}
	}
	b, err := os.ReadFile(target.logPath)
	if err != nil {
		t.Fatal(err)
	}
	for line := range strings.Lines(string(b)) {
		if k := repeatedKey(line); k != "" {
			t.Errorf("key %q twice in a log line: %s", k, line)
			break
		}
	}
}

// repeatedKey returns a top-level key that a JSON log line holds twice, or
// "" (also for lines that are not JSON objects).
func repeatedKey(line string) string {
	dec := json.NewDecoder(strings.NewReader(line))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return ""
	}
	seen := map[string]bool{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return ""
		}
		k, _ := tok.(string)
		if seen[k] {
			return k
		}
		seen[k] = true
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return ""
		}
	}
	return ""
}
