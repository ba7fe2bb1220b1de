package faults

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"net"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/crdtd/crdtd/internal/testbin"
	"github.com/crdtd/crdtd/internal/testbin/mlwire"
)

const hostileLabel = "faults-hostile"

// gossipRejections is every counter a dropped gossip input lands in.
func gossipRejections(m metrics) float64 {
	return m.sum("crdtd_gossip_decode_errors_total") + m.sum("crdtd_decode_errors_total", "source=gossip") +
		m.sum("crdtd_merge_rejected_total")
}

func newHostileCluster(t *testing.T, nodes int) (*cluster, []byte) {
	t.Helper()
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		t.Fatal(err)
	}
	return newCluster(t, clusterOptions{nodes: nodes, label: hostileLabel, key: key}), key
}

// assertHealthy checks the node still runs and serves, never logged a panic
// and grew its RSS by less than 64 MiB since rss0.
func assertHealthy(t *testing.T, c *cluster, i int, rss0 int) {
	t.Helper()
	n := c.nodes[i]
	if !pidAlive(n.pid()) || !n.running() {
		t.Fatalf("%s is not running; log tail:\n%s", n.name, n.logTail(3000))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := c.client(i).Health(ctx); err != nil {
		t.Errorf("%s does not serve: %v", n.name, err)
	}
	if b, _ := os.ReadFile(n.logPath); bytes.Contains(b, []byte("panic")) || bytes.Contains(b, []byte("fatal error")) {
		t.Errorf("%s logged a panic", n.name)
	}
	rss1 := rssKiB(n.pid())
	t.Logf("%s RSS %d KiB -> %d KiB", n.name, rss0, rss1)
	if rss1-rss0 > 64<<10 {
		t.Errorf("RSS grew by %d KiB, want < 64 MiB", rss1-rss0)
	}
}

// TestHostileGossip sends malformed gossip messages by UDP and TCP, with and
// without the label and key: each must be dropped and counted, the node keeps
// serving, its carts stay untouched and its memory stays bounded.
func TestHostileGossip(t *testing.T) {
	needBinaries(t)
	c, key := newHostileCluster(t, 2)
	target := c.nodes[0]
	addr := target.gossipAddr
	rss0 := rssKiB(target.pid())
	before, err := c.scrape(0)
	if err != nil {
		t.Fatal(err)
	}
	logBefore, _ := os.ReadFile(target.logPath)

	counted := 0
	var missed []string
	// expectCount sends one input and waits for exactly one more rejection.
	expectCount := func(what string, send func() error) {
		m0, err := c.scrape(0)
		if err != nil {
			t.Fatal(err)
		}
		if err := send(); err != nil {
			t.Errorf("%s: send: %v", what, err)
			return
		}
		deadline := time.Now().Add(3 * time.Second)
		for {
			m1, err := c.scrape(0)
			if err == nil {
				switch d := gossipRejections(m1) - gossipRejections(m0); {
				case d == 1:
					counted++
					return
				case d > 1:
					t.Errorf("%s: counted %v times, want once", what, d)
					return
				}
			}
			if time.Now().After(deadline) {
				missed = append(missed, what)
				return
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	frames := hostileFrames("mallory")
	for _, f := range frames {
		if !f.tcp {
			expectCount("udp "+f.String(), func() error { return sendUDP(addr, udpPacket(hostileLabel, key, f.msg)) })
		}
		if len(f.msg) > 0 { // memberlist does not deliver an empty reliable message
			expectCount("tcp "+f.String(), func() error { return sendTCP(addr, userStream(hostileLabel, key, f.msg)) })
		}
	}
	for _, f := range hostileDigests("mallory") {
		expectCount("push/pull "+f.String(), func() error { return sendTCP(addr, pushPullStream(hostileLabel, key, f.msg)) })
	}

	// Inputs memberlist itself refuses before they reach our decoders: wrong
	// or missing label, missing or wrong key, absurd lengths.
	wrongKey := bytes.Repeat([]byte{7}, 32)
	valid := deltaFrame("mallory", "c/hostile", cartState("r1", "apple", 1, []any{[]any{0, 1}, 1}, []any{}, []any{}))
	huge := func(l string, k []byte) []byte {
		hdr := []byte{mlwire.TypeUser, 0x81, 0xaa}
		hdr = append(hdr, "UserMsgLen"...)
		hdr = append(hdr, 0xcf, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff)
		return tcpStream(l, k, hdr)
	}
	manyNodes := tcpStream(hostileLabel, key, append([]byte{mlwire.TypePushPull, 0x83, 0xa5}, append([]byte("Nodes"),
		0xce, 0x3b, 0x9a, 0xca, 0x00, 0xac, 'U', 's', 'e', 'r', 'S', 't', 'a', 't', 'e', 'L', 'e', 'n', 0, 0xa4, 'J', 'o', 'i', 'n', 0xc2)...))
	refused := []struct {
		name string
		send func() error
	}{
		{"udp without label", func() error { return sendUDP(addr, udpPacket("", key, valid)) }},
		{"udp wrong label", func() error { return sendUDP(addr, udpPacket("other", key, valid)) }},
		{"udp without key", func() error { return sendUDP(addr, udpPacket(hostileLabel, nil, valid)) }},
		{"udp wrong key", func() error { return sendUDP(addr, udpPacket(hostileLabel, wrongKey, valid)) }},
		{"udp truncated label header", func() error { return sendUDP(addr, []byte{mlwire.TypeLabel, 50, 'a'}) }},
		{"udp random bytes", func() error {
			b := make([]byte, 1400)
			_, _ = rand.Read(b)
			return sendUDP(addr, b)
		}},
		{"tcp without label", func() error { return sendTCP(addr, userStream("", key, valid)) }},
		{"tcp without key", func() error { return sendTCP(addr, userStream(hostileLabel, nil, valid)) }},
		{"tcp wrong key", func() error { return sendTCP(addr, userStream(hostileLabel, wrongKey, valid)) }},
		{"tcp encrypted length 2^32-1", func() error {
			return sendTCP(addr, append(mlwire.LabelHeader(hostileLabel), mlwire.TypeEncrypt, 0xff, 0xff, 0xff, 0xff))
		}},
		{"tcp user message length 2^63-1", func() error { return sendTCP(addr, huge(hostileLabel, key)) }},
		{"tcp push/pull with 10^9 nodes", func() error { return sendTCP(addr, manyNodes) }},
		{"tcp label length 0", func() error { return sendTCP(addr, []byte{mlwire.TypeLabel, 0}) }},
	}
	// After each refused input comes a probe the decoders count (a frame
	// counted exactly once above), sent the same way: the node handles UDP
	// packets in arrival order, and a TCP stream before it closes it (which
	// sendTCP waits for), so once the probe is counted, a count of the
	// refused input would be in too. One more rejection means only the
	// probe's; two, that the refused input got through.
	var probe []byte
	for _, f := range frames {
		if !f.tcp && len(f.msg) > 0 && !slices.Contains(missed, "udp "+f.String()) {
			probe = f.msg
			break
		}
	}
	if probe == nil {
		t.Fatal("no hostile frame was counted exactly once; nothing to probe with")
	}
	for _, r := range refused {
		m0, err := c.scrape(0)
		if err != nil {
			t.Fatal(err)
		}
		if err := r.send(); err != nil {
			t.Errorf("%s: send: %v", r.name, err)
		}
		sendProbe := func() error { return sendTCP(addr, userStream(hostileLabel, key, probe)) }
		if strings.HasPrefix(r.name, "udp ") {
			sendProbe = func() error { return sendUDP(addr, udpPacket(hostileLabel, key, probe)) }
		}
		if err := sendProbe(); err != nil {
			t.Errorf("%s: send probe: %v", r.name, err)
			continue
		}
		var d float64
		testbin.WaitFor(t, 5*time.Second, r.name+": the probe after it to be counted", func() bool {
			m1, err := c.scrape(0)
			d = gossipRejections(m1) - gossipRejections(m0)
			return err == nil && d >= 1
		})
		if d != 1 {
			t.Errorf("%s: reached the gossip decoders (%v counted with the probe, want 1); memberlist should refuse it", r.name, d)
		}
	}

	after, err := c.scrape(0)
	if err != nil {
		t.Fatal(err)
	}
	logAfter, _ := os.ReadFile(target.logPath)
	mlErrors := strings.Count(string(logAfter[len(logBefore):]), "memberlist")
	t.Logf("%d inputs reached and were counted by the gossip decoders (decode %v, daemon decode %v, rejected %v); %d more refused by memberlist (%d log lines)",
		counted, after.sum("crdtd_gossip_decode_errors_total")-before.sum("crdtd_gossip_decode_errors_total"),
		after.sum("crdtd_decode_errors_total", "source=gossip")-before.sum("crdtd_decode_errors_total", "source=gossip"),
		after.sum("crdtd_merge_rejected_total")-before.sum("crdtd_merge_rejected_total"), len(refused), mlErrors)
	if len(missed) > 0 {
		t.Errorf("%d inputs were not counted as rejected:\n%s", len(missed), strings.Join(missed, "\n"))
	}
	if counted+len(refused) < 60 {
		t.Errorf("got %d hostile gossip inputs, want at least 60", counted+len(refused))
	}
	if after.sum("crdtd_merge_rejected_total", "reason=clock_drift") < 3 {
		t.Errorf("year-2200 timestamps: got %v clock_drift rejections, want >= 3", after.sum("crdtd_merge_rejected_total", "reason=clock_drift"))
	}
	assertHealthy(t, c, 0, rss0)

	// Nothing of it was stored, and the node still replicates.
	ctx := context.Background()
	for i := range c.nodes {
		v, err := c.client(i).GetCart(ctx, "hostile")
		if err != nil || len(v.Items) != 0 {
			t.Errorf("cart hostile on n%d: got %v, %v; want empty", i, v.Items, err)
		}
	}
	if _, err := c.client(0).SetItem(ctx, "after", "apple", setQty(2)); err != nil {
		t.Fatal(err)
	}
	testbin.WaitFor(t, 10*time.Second, "a write after the attack to replicate", func() bool {
		v, err := c.client(1).GetCart(ctx, "after")
		return err == nil && len(v.Items) == 1 && v.Items[0].Quantity == 2
	})
}

// TestHostileHTTP sends malformed requests to the API: each gets a 4xx, the
// rejections are counted, and the node keeps serving.
func TestHostileHTTP(t *testing.T) {
	needBinaries(t)
	c, _ := newHostileCluster(t, 1)
	rss0 := rssKiB(c.nodes[0].pid())
	before, err := c.scrape(0)
	if err != nil {
		t.Fatal(err)
	}
	big := func(n int) []byte { return bytes.Repeat([]byte(" "), n) }
	deep := strings.Repeat("[", 10_000) + strings.Repeat("]", 10_000)
	cases := []struct {
		name, method, path, body string
		hdr                      map[string]string
		want                     int
	}{
		{"body of 1 MiB", "POST", "/v1/carts/a/items", `{"item":"x","quantity":1}` + string(big(1<<20)), nil, 413},
		{"body of 64 KiB + 1", "POST", "/v1/carts/a/items", `{"item":"x","quantity":1` + string(big(64<<10)) + `}`, nil, 413},
		{"invalid UTF-8 item", "POST", "/v1/carts/a/items", "{\"item\":\"\xff\xfe\",\"quantity\":1}", nil, 400},
		{"invalid UTF-8 body", "POST", "/v1/carts/a/items", "\xff\xfe\xfd", nil, 400},
		{"quantity 1e400", "POST", "/v1/carts/a/items", `{"item":"x","quantity":1e400}`, nil, 400},
		{"quantity 2^63", "POST", "/v1/carts/a/items", `{"item":"x","quantity":9223372036854775808}`, nil, 400},
		{"quantity 2^70", "PUT", "/v1/carts/a/items/x", `{"quantity":1180591620717411303424}`, nil, 400},
		{"quantity -1", "POST", "/v1/carts/a/items", `{"item":"x","quantity":-1}`, nil, 400},
		{"quantity 0", "POST", "/v1/carts/a/items", `{"item":"x","quantity":0}`, nil, 400},
		{"quantity 1,000,001", "POST", "/v1/carts/a/items", `{"item":"x","quantity":1000001}`, nil, 400},
		{"quantity 1.5", "POST", "/v1/carts/a/items", `{"item":"x","quantity":1.5}`, nil, 400},
		{"quantity as string", "POST", "/v1/carts/a/items", `{"item":"x","quantity":"1"}`, nil, 400},
		{"price 10^13", "POST", "/v1/carts/a/items", `{"item":"x","quantity":1,"unit_price_cents":10000000000000}`, nil, 400},
		{"price -5", "PUT", "/v1/carts/a/items/x", `{"unit_price_cents":-5}`, nil, 400},
		{"bad JSON", "POST", "/v1/carts/a/items", `{`, nil, 400},
		{"JSON array", "POST", "/v1/carts/a/items", `[]`, nil, 400},
		{"JSON null", "PUT", "/v1/carts/a/items/x", `null`, nil, 400},
		{"trailing data", "POST", "/v1/carts/a/items", `{"item":"x","quantity":1}{}`, nil, 400},
		{"unknown field", "POST", "/v1/carts/a/items", `{"item":"x","quantity":1,"evil":true}`, nil, 400},
		{"empty body", "POST", "/v1/carts/a/items", ``, nil, 400},
		{"deep nesting", "POST", "/v1/carts/a/items", deep, nil, 400},
		{"item of 60 KB", "POST", "/v1/carts/a/items", `{"item":"` + strings.Repeat("x", 60_000) + `","quantity":1}`, nil, 400},
		{"item of 129 bytes", "POST", "/v1/carts/a/items", `{"item":"` + strings.Repeat("x", 129) + `","quantity":1}`, nil, 400},
		{"empty item", "POST", "/v1/carts/a/items", `{"item":"","quantity":1}`, nil, 400},
		{"set without fields", "PUT", "/v1/carts/a/items/x", `{}`, nil, 400},
		{"set 0 with a price", "PUT", "/v1/carts/a/items/x", `{"quantity":0,"unit_price_cents":5}`, nil, 400},
		{"PATCH a cart", "PATCH", "/v1/carts/a", ``, nil, 405},
		{"GET items", "GET", "/v1/carts/a/items", ``, nil, 405},
		{"POST status", "POST", "/v1/status", `{}`, nil, 405},
		{"DELETE metrics", "DELETE", "/metrics", ``, nil, 405},
		{"unknown path", "GET", "/v1/nope", ``, nil, 404},
		{"cart id %FF", "GET", "/v1/carts/%FF", ``, nil, 400},
		{"cart id with space", "DELETE", "/v1/carts/a%20b", ``, nil, 400},
		{"cart id of 129 bytes", "GET", "/v1/carts/" + strings.Repeat("c", 129), ``, nil, 400},
		{"item id with slash", "DELETE", "/v1/carts/a/items/x%2Fy", ``, nil, 400},
		{"item id with NUL", "PUT", "/v1/carts/a/items/x%00", `{"quantity":1}`, nil, 400},
		{"bad idempotency key", "POST", "/v1/carts/a/items", `{"item":"x","quantity":1}`, map[string]string{"Idempotency-Key": "bad key!"}, 400},
		{"idempotency key of 200 bytes", "DELETE", "/v1/carts/a", ``, map[string]string{"Idempotency-Key": strings.Repeat("k", 200)}, 400},
		{"no token", "GET", "/v1/carts", ``, map[string]string{"Authorization": ""}, 401},
		{"wrong token", "GET", "/v1/carts", ``, map[string]string{"Authorization": "Bearer nope"}, 401},
	}
	handled := 0
	ctx := context.Background()
	for _, tc := range cases {
		var body []byte
		if tc.body != "" || tc.method == "POST" || tc.method == "PUT" {
			body = []byte(tc.body)
		}
		code, resp, err := c.request(ctx, tc.method, c.url(0, tc.path), body, tc.hdr)
		if err != nil {
			t.Errorf("%s: %v", tc.name, err)
			continue
		}
		if code != tc.want {
			t.Errorf("%s: got HTTP %d (%s), want %d", tc.name, code, bytes.TrimSpace(resp), tc.want)
		}
		if code >= 400 && code < 500 {
			handled++
		}
	}
	// Requests net/http refuses before routing: counted by status only.
	raw := []struct {
		name string
		req  string
		want string
	}{
		{"header of 32 KiB", "GET /v1/carts HTTP/1.1\r\nHost: x\r\nX-Big: " + strings.Repeat("a", 32<<10) + "\r\n\r\n", " 431 "},
		{"garbage request line", "\x00\x01\x02 / HTTP/1.1\r\nHost: x\r\n\r\n", " 400 "},
		{"bad HTTP version", "GET /v1/carts HTTP/9.9\r\nHost: x\r\n\r\n", " 505 "},
		{"negative content length", "POST /v1/carts/a/items HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n", " 400 "},
		{"two content lengths", "POST /v1/carts/a/items HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n{}", " 400 "},
	}
	for _, r := range raw {
		got := rawHTTP(t, c.nodes[0].apiAddr, r.req)
		if !strings.Contains(got, r.want) {
			t.Errorf("%s: got status line %q, want %q", r.name, got, r.want)
		}
	}
	after, err := c.scrape(0)
	if err != nil {
		t.Fatal(err)
	}
	d4xx := after.http4xx() - before.http4xx()
	dDecode := after.sum("crdtd_decode_errors_total", "source=http") - before.sum("crdtd_decode_errors_total", "source=http")
	t.Logf("%d + %d hostile requests; 4xx counted %v, http decode errors %v", len(cases), len(raw), d4xx, dDecode)
	if int(d4xx) != handled {
		t.Errorf("crdtd_http_requests_total 4xx grew by %v, want %d", d4xx, handled)
	}
	if dDecode < 10 {
		t.Errorf("crdtd_decode_errors_total{source=http} grew by %v, want >= 10", dDecode)
	}
	if v, err := c.client(0).GetCart(ctx, "a"); err != nil || len(v.Items) != 0 {
		t.Errorf("cart a: got %v, %v; want empty: nothing may be stored", v.Items, err)
	}
	if len(cases)+len(raw) < 40 {
		t.Errorf("got %d hostile requests, want >= 40", len(cases)+len(raw))
	}
	assertHealthy(t, c, 0, rss0)
}

// rawHTTP writes req on a fresh connection and returns the status line.
func rawHTTP(t *testing.T, addr, req string) string {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
	_, _ = conn.Write([]byte(req))
	buf := make([]byte, 256)
	n, _ := conn.Read(buf)
	line, _, _ := strings.Cut(string(buf[:n]), "\r\n")
	return line
}

// TestSlowClients opens connections that send a header byte every few
// seconds, and a slow body; normal requests must still be answered promptly.
func TestSlowClients(t *testing.T) {
	needBinaries(t)
	c, _ := newHostileCluster(t, 1)
	addr := c.nodes[0].apiAddr
	stop := make(chan struct{})
	var wg sync.WaitGroup
	slow := 0
	for i := range 40 {
		conn, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		slow++
		req := "GET /v1/carts HTTP/1.1\r\nHost: x\r\nX-Slow: " + strings.Repeat("a", 100)
		if i%4 == 0 {
			req = "POST /v1/carts/a/items HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + testToken +
				"\r\nContent-Length: 1000\r\n\r\n{\"item\":" + strings.Repeat(" ", 100)
		}
		wg.Go(func() {
			defer conn.Close()
			for j := 0; j < len(req); j++ {
				if _, err := conn.Write([]byte{req[j]}); err != nil {
					return // the server gave up on us: good
				}
				select {
				case <-stop:
					return
				case <-time.After(2 * time.Second):
				}
			}
		})
	}
	ctx := context.Background()
	var worst time.Duration
	deadline := time.Now().Add(8 * time.Second)
	n := 0
	for time.Now().Before(deadline) {
		start := time.Now()
		rctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		_, err := c.client(0).AddItem(rctx, "normal", addReq(fmt.Sprintf("x%d", n), 1))
		cancel()
		took := time.Since(start)
		worst = max(worst, took)
		if err != nil {
			t.Errorf("normal request with %d slow clients: %v", slow, err)
		}
		if took > 2*time.Second {
			t.Errorf("normal request took %v with %d slow clients, want < 2s", took, slow)
		}
		n++
		time.Sleep(100 * time.Millisecond)
	}
	close(stop)
	wg.Wait()
	t.Logf("%d normal requests beside %d slow clients; slowest %v", n, slow, worst)
}

// TestHostileManyReplicaIDs sends a cart state whose causal context names
// 100,000 replicas: it must be rejected and counted, not stored and spread.
func TestHostileManyReplicaIDs(t *testing.T) {
	needBinaries(t)
	c, key := newHostileCluster(t, 2)
	rss0 := rssKiB(c.nodes[0].pid())
	before, err := c.scrape(0)
	if err != nil {
		t.Fatal(err)
	}
	ctxs := make([]any, 100_000)
	for i := range ctxs {
		ctxs[i] = []any{fmt.Sprintf("r%06d", i), 1}
	}
	msg := deltaFrame("mallory", "c/many", state([]any{ctxs, []any{}}))
	if err := sendTCP(c.nodes[0].gossipAddr, userStream(hostileLabel, key, msg)); err != nil {
		t.Fatal(err)
	}
	var after metrics
	testbin.WaitFor(t, 10*time.Second, "the state to be rejected", func() bool {
		m, err := c.scrape(0)
		after = m
		return err == nil && gossipRejections(m) > gossipRejections(before)
	})
	if d := gossipRejections(after) - gossipRejections(before); d != 1 {
		t.Errorf("state with 100,000 replica IDs: counted %v rejections, want 1", d)
	}
	for i := range c.nodes {
		if m, err := c.scrape(i); err == nil && m.sum("crdtd_carts") > before.sum("crdtd_carts") {
			t.Errorf("n%d stored the cart with 100,000 replica IDs (crdtd_carts %v, was %v)", i, m.sum("crdtd_carts"), before.sum("crdtd_carts"))
		}
	}
	assertHealthy(t, c, 0, rss0)
}

// TestHostileTotalOverflow sends a cart whose lines are each valid but whose
// total overflows int64: the cart must stay readable (or the state be
// rejected and counted).
func TestHostileTotalOverflow(t *testing.T) {
	needBinaries(t)
	c, key := newHostileCluster(t, 1)
	wall := time.Now().UnixNano()
	var entries []any
	for i := range 10 {
		entries = append(entries, fmt.Sprintf("item%d", i), []any{
			[]any{},
			[]any{[]any{0, 2*i + 1}, []any{1_000_000, wall, 0}},
			[]any{[]any{0, 2*i + 2}, []any{int64(1e12), wall, 0}},
		})
	}
	msg := deltaFrame("mallory", "c/poison", state([]any{[]any{[]any{"r1", 20}}, entries}))
	if err := sendTCP(c.nodes[0].gossipAddr, userStream(hostileLabel, key, msg)); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	var code int
	var body []byte
	testbin.WaitFor(t, 10*time.Second, "the overflowing cart to arrive", func() bool {
		var err error
		code, body, err = c.request(ctx, "GET", c.url(0, "/v1/carts/poison"), nil, nil)
		return err == nil && (code != 200 || bytes.Contains(body, []byte(`"item0"`)))
	})
	if code != 200 {
		t.Errorf("GET a cart after a remote state overflowing its total: got HTTP %d %s, want 200", code, bytes.TrimSpace(body))
	}
	if !bytes.Contains(body, []byte(`"overflow":true`)) || !bytes.Contains(body, []byte(`"total_cents":9223372036854775807`)) {
		t.Errorf("overflowing cart: got %s, want the total capped and overflow flagged", bytes.TrimSpace(body))
	}
	// It stays editable: clearing it brings it back in range.
	code, body, err := c.request(ctx, "DELETE", c.url(0, "/v1/carts/poison"), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if code != 200 || bytes.Contains(body, []byte("overflow")) {
		t.Errorf("clear an overflowing cart: got HTTP %d %s, want 200 and no overflow", code, bytes.TrimSpace(body))
	}
}
