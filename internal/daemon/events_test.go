package daemon

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"

	"github.com/crdtd/crdtd/api"
	"github.com/crdtd/crdtd/cart"
	"github.com/crdtd/crdtd/internal/testbin"
)

// sseItem is one event or comment read from an event stream.
type sseItem struct {
	comment string // the text of a comment line, without the colon
	id      string
	event   string
	data    string
	at      time.Time // when the reader parsed it
}

// eventReader reads an event stream in a goroutine of its own and hands
// what arrives to the test. Its items channel is closed when the stream
// ends.
type eventReader struct {
	tb     testing.TB
	resp   *http.Response
	items  chan sseItem
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// openEvents opens the event stream of cart on d, with the bearer token
// when it is not empty; the stream is closed when the test ends.
func openEvents(tb testing.TB, d *Daemon, cart, token string) *eventReader {
	tb.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	req, err := http.NewRequestWithContext(ctx, "GET", "http://"+d.APIAddr()+"/v1/carts/"+cart+"/events", nil)
	require.NoError(tb, err)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		cancel()
		tb.Fatalf("open event stream of %s: %v", cart, err)
	}
	if resp.StatusCode != http.StatusOK {
		resp.Body.Close()
		cancel()
		tb.Fatalf("open event stream of %s: got status %d, want 200", cart, resp.StatusCode)
	}
	r := &eventReader{tb: tb, resp: resp, items: make(chan sseItem, 1024), cancel: cancel}
	r.wg.Go(func() { r.read(ctx) })
	tb.Cleanup(r.close)
	return r
}

// close ends the stream from the client's side and waits for the reader.
func (r *eventReader) close() {
	r.cancel()
	r.resp.Body.Close()
	r.wg.Wait()
}

func (r *eventReader) read(ctx context.Context) {
	defer close(r.items)
	emit := func(it sseItem) bool {
		it.at = time.Now()
		select {
		case r.items <- it:
			return true
		case <-ctx.Done():
			return false
		}
	}
	sc := bufio.NewScanner(r.resp.Body)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	var ev sseItem
	for sc.Scan() {
		line := sc.Text()
		switch {
		case line == "":
			if ev != (sseItem{}) && !emit(ev) {
				return
			}
			ev = sseItem{}
		case strings.HasPrefix(line, ":"):
			if !emit(sseItem{comment: strings.TrimPrefix(line[1:], " ")}) {
				return
			}
		default:
			field, value, _ := strings.Cut(line, ":")
			value = strings.TrimPrefix(value, " ")
			switch field {
			case "id":
				ev.id = value
			case "event":
				ev.event = value
			case "data":
				ev.data += value
			}
		}
	}
}

// next returns the next event, skipping comments, or fails the test after
// timeout or when the stream ends.
func (r *eventReader) next(timeout time.Duration) sseItem {
	r.tb.Helper()
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		select {
		case it, ok := <-r.items:
			if !ok {
				r.tb.Fatalf("event stream ended while waiting for an event")
			}
			if it.comment == "" {
				return it
			}
		case <-deadline.C:
			r.tb.Fatalf("no event within %v", timeout)
		}
	}
}

// waitData reads events until one carries data want, and returns how many
// events it read; it fails the test after timeout.
func (r *eventReader) waitData(want string, timeout time.Duration) (sseItem, int) {
	r.tb.Helper()
	deadline := time.Now().Add(timeout)
	var seen []string
	for n := 1; ; n++ {
		left := time.Until(deadline)
		if left <= 0 {
			r.tb.Fatalf("no event with data %s within %v; got %d events:\n%s", want, timeout, len(seen), strings.Join(seen, "\n"))
		}
		it := r.nextOrTimeout(left)
		if it == nil {
			r.tb.Fatalf("no event with data %s within %v; got %d events:\n%s", want, timeout, len(seen), strings.Join(seen, "\n"))
		}
		if it.data == want {
			return *it, n
		}
		seen = append(seen, it.data)
	}
}

// nextOrTimeout is next without failing: nil after timeout or at the end.
func (r *eventReader) nextOrTimeout(timeout time.Duration) *sseItem {
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		select {
		case it, ok := <-r.items:
			if !ok {
				return nil
			}
			if it.comment == "" {
				return &it
			}
		case <-deadline.C:
			return nil
		}
	}
}

// viewBody returns the body GET /v1/carts/{cart} answers now, without its
// final newline: what an event's data must equal.
func viewBody(t *testing.T, d *Daemon, cart string) string {
	t.Helper()
	code, body := doRequest(t, d, "GET", "/v1/carts/"+cart, "", nil)
	require.Equal(t, 200, code, body)
	return strings.TrimSuffix(body, "\n")
}

func gaugeValue(t *testing.T, d *Daemon, name string) float64 {
	t.Helper()
	mf := scrapeMetrics(t, d)[name]
	require.NotNil(t, mf, name)
	m := mf.GetMetric()[0]
	if g := m.GetGauge(); g != nil {
		return g.GetValue()
	}
	return m.GetCounter().GetValue()
}

// TestEventsFirstView: a stream starts with the cart's view, byte for byte
// what GET answers, under the headers that keep proxies from caching or
// buffering it; an unknown cart starts empty.
func TestEventsFirstView(t *testing.T) {
	t.Parallel()
	d := newTestNode(t, nil)
	c := newTestClient(t, d, "")
	_, err := c.AddItem(t.Context(), "erin", api.AddItemRequest{Item: "apple", Quantity: 2, UnitPriceCents: i64(125)})
	require.NoError(t, err)

	r := openEvents(t, d, "erin", "")
	for h, want := range map[string]string{
		"Content-Type": "text/event-stream", "Cache-Control": "no-cache", "X-Accel-Buffering": "no",
	} {
		require.Equal(t, want, r.resp.Header.Get(h), h)
	}
	ev := r.next(5 * time.Second)
	require.Equal(t, "cart", ev.event)
	first, err := strconv.ParseUint(ev.id, 10, 64)
	require.NoError(t, err, "the id is the version of the cart on this node")
	require.Positive(t, first, "a cart that holds something has a version past 0")
	require.Equal(t, viewBody(t, d, "erin"), ev.data)

	empty := openEvents(t, d, "nobody", "").next(5 * time.Second)
	require.Equal(t, `{"cart":"nobody","items":[],"total_cents":0,"unpriced_items":0}`, empty.data)
	require.Equal(t, "0", empty.id)
}

// TestEventsAfterLocalWriteAndSync: a local write and a device's sync
// each bring an event with the new view.
func TestEventsAfterLocalWriteAndSync(t *testing.T) {
	t.Parallel()
	d := newTestNode(t, nil)
	c := newTestClient(t, d, "")
	r := openEvents(t, d, "erin", "")
	r.next(5 * time.Second)

	v, err := c.AddItem(t.Context(), "erin", api.AddItemRequest{Item: "apple", Quantity: 2})
	require.NoError(t, err)
	require.Len(t, v.Items, 1)
	r.waitData(viewBody(t, d, "erin"), 5*time.Second)

	dev := newTestDevice(t, "d-00000000000000e1")
	dev.add("pear", 3)
	dev.sync(d, "erin")
	want := viewBody(t, d, "erin")
	require.Contains(t, want, `"item":"pear","quantity":3`)
	r.waitData(want, 5*time.Second)
}

// TestEventsAfterMergeFromPeer: a change made on another node reaches a
// stream open on this one when gossip merges it here.
func TestEventsAfterMergeFromPeer(t *testing.T) {
	t.Parallel()
	nodes := startCluster(t, 2)
	r := openEvents(t, nodes[1], "erin", "")
	r.next(5 * time.Second)
	_, err := newTestClient(t, nodes[0], "").AddItem(t.Context(), "erin", api.AddItemRequest{Item: "fig", Quantity: 4})
	require.NoError(t, err)
	// The view written on node 0 is the view node 1 gets by merging.
	r.waitData(viewBody(t, nodes[0], "erin"), 10*time.Second)
}

// TestEventsCoalesceBurst: a burst of writes gives at most one event per
// eventMinGap (on an idle machine the 20 writes take a few eventMinGaps,
// so far fewer events than writes), and the last event is the final view:
// a change that falls in a quiet period is sent when it ends.
func TestEventsCoalesceBurst(t *testing.T) {
	t.Parallel()
	d := newTestNode(t, nil)
	c := newTestClient(t, d, "")
	r := openEvents(t, d, "erin", "")
	r.next(5 * time.Second)

	const writes = 20
	start := time.Now()
	for i := range writes {
		_, err := c.SetItem(t.Context(), "erin", "apple", api.SetItemRequest{Quantity: i64(int64(i + 1))})
		require.NoError(t, err)
	}
	burst := time.Since(start)
	final := viewBody(t, d, "erin")
	require.Contains(t, final, fmt.Sprintf(`"quantity":%d`, writes))
	last, events := r.waitData(final, 5*time.Second)
	took := last.at.Sub(start)
	t.Logf("%d writes in %v gave %d events; the final view arrived %v after the first write", writes, burst, events, took)
	require.LessOrEqual(t, events, int(took/eventMinGap)+1, "more than one event per %v", eventMinGap)
}

// TestEventsKeepAlive: a silent stream gets a comment every
// Config.EventKeepAlive, and stays open for the next change.
func TestEventsKeepAlive(t *testing.T) {
	t.Parallel()
	d := newTestNode(t, func(c *Config) { c.EventKeepAlive = 50 * time.Millisecond })
	r := openEvents(t, d, "erin", "")
	r.next(5 * time.Second)
	deadline := time.NewTimer(5 * time.Second)
	defer deadline.Stop()
	for kept := false; !kept; {
		select {
		case it, ok := <-r.items:
			require.True(t, ok, "stream ended before a keep-alive")
			kept = it.comment == "keep-alive"
		case <-deadline.C:
			t.Fatal("no keep-alive comment within 5s")
		}
	}
	code, body := doRequest(t, d, "POST", "/v1/carts/erin/items", `{"item":"apple","quantity":1}`, nil)
	require.Equal(t, 200, code, body)
	require.Contains(t, r.next(5*time.Second).data, `"apple"`, "the stream goes on after a keep-alive")
}

// TestEventsNoKeepAliveWhileBusy: every event restarts the keep-alive
// period, so a stream whose cart changes more often than that carries no
// keep-alive comments.
func TestEventsNoKeepAliveWhileBusy(t *testing.T) {
	t.Parallel()
	const keepAlive = 2 * time.Second
	d := newTestNode(t, func(c *Config) { c.EventKeepAlive = keepAlive })
	r := openEvents(t, d, "busy", "")
	r.next(5 * time.Second)
	for start := time.Now(); time.Since(start) < keepAlive*3/2; {
		code, body := doRequest(t, d, "POST", "/v1/carts/busy/items", `{"item":"apple","quantity":1}`, nil)
		require.Equal(t, 200, code, body)
		for event := false; !event; {
			select {
			case it, ok := <-r.items:
				require.True(t, ok, "the stream ended")
				require.NotEqual(t, "keep-alive", it.comment, "a keep-alive came while events flowed")
				event = it.comment == ""
			case <-time.After(5 * time.Second):
				t.Fatal("no event for a write within 5s")
			}
		}
		time.Sleep(100 * time.Millisecond) // the pace of the writes, not a wait for an outcome
	}
}

// TestBrokerUnsubscribe: a stream's end leaves the cart's other streams
// notified, and the last one's end forgets the cart.
func TestBrokerUnsubscribe(t *testing.T) {
	t.Parallel()
	b := newBroker(10)
	s1, err := b.subscribe("c")
	require.NoError(t, err)
	s2, err := b.subscribe("c")
	require.NoError(t, err)
	b.unsubscribe(s1)
	b.notify("c")
	require.Len(t, s2.dirty, 1, "the other stream is still notified")
	b.unsubscribe(s2)
	b.unsubscribe(s2) // twice: no effect
	require.Empty(t, b.subs, "no stream left: the cart is forgotten")
	require.Zero(t, b.n.Load())
}

// TestEventsStreamLimit: beyond MaxEventStreams a stream is refused with
// 503, the JSON error body and Retry-After; when a client goes away its
// stream ends and frees its place.
func TestEventsStreamLimit(t *testing.T) {
	t.Parallel()
	d := newTestNode(t, func(c *Config) { c.MaxEventStreams = 2 })
	first := openEvents(t, d, "erin", "")
	openEvents(t, d, "frank", "")
	require.Equal(t, 2.0, gaugeValue(t, d, "crdtd_event_streams"))

	resp, err := http.Get("http://" + d.APIAddr() + "/v1/carts/erin/events")
	require.NoError(t, err)
	var eb api.ErrorBody
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&eb))
	resp.Body.Close()
	require.Equal(t, http.StatusServiceUnavailable, resp.StatusCode)
	require.Equal(t, api.CodeUnavailable, eb.Error.Code)
	require.Contains(t, eb.Error.Message, "too many event streams")
	require.NotEmpty(t, resp.Header.Get("Retry-After"))

	first.close()
	testbin.WaitFor(t, 5*time.Second, "the closed stream to end", func() bool {
		return gaugeValue(t, d, "crdtd_event_streams") == 1
	})
	openEvents(t, d, "erin", "").next(5 * time.Second)
}

// TestEventsConfigLimit: the stream cap stays well below the connection
// cap, which cannot reclaim a stream's connection.
func TestEventsConfigLimit(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		conns, streams, want int
		bad                  bool
	}{
		{conns: 0, streams: 0, want: DefaultMaxEventStreams},
		{conns: 16, streams: 0, want: 4},
		{conns: 16, streams: 8, want: 8},
		{conns: 16, streams: 9, bad: true},
		{conns: 0, streams: -1, bad: true},
	} {
		cfg := Config{DataDir: t.TempDir(), MaxConnections: tc.conns, MaxEventStreams: tc.streams}
		got, err := cfg.withDefaults()
		if tc.bad {
			require.ErrorIs(t, err, ErrConfig, "connections %d, streams %d", tc.conns, tc.streams)
			continue
		}
		require.NoError(t, err)
		require.Equal(t, tc.want, got.MaxEventStreams, "connections %d, streams %d", tc.conns, tc.streams)
	}
}

// TestEventsRoute: HEAD answers the stream's headers without a stream,
// other methods get 405 with Allow, and the bearer token is required as on
// every route.
func TestEventsRoute(t *testing.T) {
	t.Parallel()
	d := newTestNode(t, func(c *Config) { c.APIToken = "s3cret" })
	auth := map[string]string{"Authorization": "Bearer s3cret"}

	code, body := doRequest(t, d, "HEAD", "/v1/carts/erin/events", "", auth)
	require.Equal(t, 200, code)
	require.Empty(t, body)

	req, err := http.NewRequest("POST", "http://"+d.APIAddr()+"/v1/carts/erin/events", nil)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer s3cret")
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, 405, resp.StatusCode)
	require.Equal(t, "GET, HEAD", resp.Header.Get("Allow"))

	code, _ = doRequest(t, d, "GET", "/v1/carts/erin/events", "", nil)
	require.Equal(t, 401, code)
	code, _ = doRequest(t, d, "GET", "/v1/carts/er%20in/events", "", auth)
	require.Equal(t, 400, code)
	openEvents(t, d, "erin", "s3cret").next(5 * time.Second)
}

// TestEventsEndOnClose: Close ends open streams at once instead of waiting
// out ShutdownTimeout for them, and each client sees its stream end.
func TestEventsEndOnClose(t *testing.T) {
	t.Parallel()
	const shutdownTimeout = 20 * time.Second
	d := newTestNode(t, func(c *Config) { c.ShutdownTimeout = shutdownTimeout })
	var readers []*eventReader
	for _, cart := range []string{"erin", "erin", "frank"} {
		r := openEvents(t, d, cart, "")
		r.next(5 * time.Second)
		readers = append(readers, r)
	}
	start := time.Now()
	require.NoError(t, d.Close())
	took := time.Since(start)
	t.Logf("Close took %v with %d streams open", took, len(readers))
	require.Less(t, took, shutdownTimeout/4, "Close waited for the streams")
	for i, r := range readers {
		if it := r.nextOrTimeout(5 * time.Second); it != nil {
			t.Fatalf("stream %d: got event %+v after Close, want the end of the stream", i, *it)
		}
		select {
		case _, open := <-r.items:
			require.False(t, open, "stream %d did not end", i)
		default:
			t.Fatalf("stream %d did not end within 5s of Close", i)
		}
	}
}

// BenchmarkEventDelay measures how long after a write's acknowledgment its
// event reaches the client of an open stream: on the node that took the
// write (local), and on another node of a 2-node cluster, which merges it
// from gossip (peer). Writes are spaced beyond eventMinGap, so that each is
// the first change of its quiet period: the delay a person's edit sees.
// p50-ms and p99-ms are from the acknowledgment (negative: the event
// arrived first), p99-send-ms from sending the write.
//
//	go test -run '^$' -bench BenchmarkEventDelay -benchtime 200x ./internal/daemon/
func BenchmarkEventDelay(b *testing.B) {
	b.Run("local", func(b *testing.B) {
		d := newTestNode(b, nil)
		benchEventDelay(b, d, d)
	})
	b.Run("peer", func(b *testing.B) {
		label := fmt.Sprintf("bench-%d", time.Now().UnixNano())
		first := newTestNode(b, func(c *Config) { c.ClusterLabel = label })
		second := newTestNode(b, func(c *Config) { c.ClusterLabel = label; c.Join = []string{first.GossipAddr()} })
		testbin.WaitFor(b, 20*time.Second, "the nodes to join", func() bool {
			return len(first.gossip.Members()) == 2 && len(second.gossip.Members()) == 2
		})
		benchEventDelay(b, first, second)
	})
}

// benchEventDelay writes to node w and watches the cart on node r.
func benchEventDelay(b *testing.B, w, r *Daemon) {
	c := newTestClient(b, w, "")
	stream := openEvents(b, r, "erin", "")
	stream.next(5 * time.Second)
	var fromAck, fromSend []time.Duration
	for i := 0; b.Loop(); i++ {
		q := int64(i + 1)
		sent := time.Now()
		_, err := c.SetItem(context.Background(), "erin", "apple", api.SetItemRequest{Quantity: &q})
		acked := time.Now()
		if err != nil {
			b.Fatal(err)
		}
		want := fmt.Sprintf(`"quantity":%d,`, q)
		for {
			it := stream.nextOrTimeout(5 * time.Second)
			if it == nil {
				b.Fatalf("no event for write %d", q)
			}
			if strings.Contains(it.data, want) {
				fromAck = append(fromAck, it.at.Sub(acked))
				fromSend = append(fromSend, it.at.Sub(sent))
				break
			}
		}
		b.StopTimer()
		time.Sleep(eventMinGap + 10*time.Millisecond) // the next write starts a quiet period of its own
		b.StartTimer()
	}
	b.ReportMetric(percentileMillis(fromAck, 50), "p50-ms")
	b.ReportMetric(percentileMillis(fromAck, 99), "p99-ms")
	b.ReportMetric(percentileMillis(fromSend, 99), "p99-send-ms")
	b.ReportMetric(0, "ns/op")
}

func percentileMillis(ds []time.Duration, p int) float64 {
	s := slices.Clone(ds)
	slices.Sort(s)
	return float64(s[min(len(s)-1, len(s)*p/100)]) / float64(time.Millisecond)
}

// flushBuffer is a ResponseWriter whose body the test reads while the
// stream writes it.
type flushBuffer struct {
	header http.Header
	// checkDeadline fails writes without a deadline about
	// eventWriteTimeout ahead: the server's WriteTimeout, set once per
	// request, would end a stream that kept it.
	checkDeadline bool

	mu       sync.Mutex
	body     strings.Builder
	deadline time.Time
}

func (f *flushBuffer) Header() http.Header { return f.header }
func (f *flushBuffer) WriteHeader(int)     {}
func (f *flushBuffer) Flush()              {}

// SetWriteDeadline records the deadline of the write that follows.
func (f *flushBuffer) SetWriteDeadline(t time.Time) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.deadline = t
	return nil
}

func (f *flushBuffer) Write(p []byte) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.checkDeadline && time.Until(f.deadline) < eventWriteTimeout/2 {
		return 0, fmt.Errorf("write with deadline %v, want one about %v ahead", f.deadline, eventWriteTimeout)
	}
	return f.body.Write(p)
}

func (f *flushBuffer) String() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.body.String()
}

// TestEventStreamChangeWhileReading: a change that lands just after the
// stream read the view, before it sent it, is sent next. It may not be
// lost by taking the change flag after the read. Each write has a
// deadline of its own.
func TestEventStreamChangeWhileReading(t *testing.T) {
	t.Parallel()
	b := newBroker(1)
	sub, err := b.subscribe("erin")
	require.NoError(t, err)
	var (
		mu      sync.Mutex
		version uint64 = 1
		reads   int
	)
	view := func() (cart.View, uint64, error) {
		mu.Lock()
		defer mu.Unlock()
		reads++
		v := cart.View{Lines: []cart.Line{{Item: "apple", Quantity: version}}}
		seq := version
		if reads == 2 {
			// Another write installs version 3 and notifies right after
			// this read.
			version = 3
			b.notify("erin")
		}
		return v, seq, nil
	}
	w := &flushBuffer{header: http.Header{}, checkDeadline: true}
	s := &eventStream{w: w, rc: http.NewResponseController(w), cart: "erin", sub: sub, view: view,
		keepAlive: time.Hour, sent: prometheus.NewCounter(prometheus.CounterOpts{Name: "x"})}
	ctx, cancel := context.WithCancel(t.Context())
	var wg sync.WaitGroup
	var runErr error
	wg.Go(func() { runErr = s.run(ctx, nil) })
	t.Cleanup(func() {
		cancel()
		wg.Wait()
		if runErr != nil {
			t.Errorf("stream: %v", runErr)
		}
	})

	testbin.WaitFor(t, 5*time.Second, "the first view", func() bool { return strings.Contains(w.String(), `"quantity":1,`) })
	mu.Lock()
	version = 2
	mu.Unlock()
	b.notify("erin")
	testbin.WaitFor(t, 5*time.Second, "version 3, changed while version 2 was read", func() bool {
		return strings.Contains(w.String(), "id: 3\nevent: cart\n")
	})
	require.Contains(t, w.String(), "id: 2\nevent: cart\n")
}
