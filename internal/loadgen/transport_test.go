package loadgen

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// hangups counts the requests echoServer answered by closing the connection.
var hangups atomic.Int64

// transportTest starts echoServer and returns it with a client that uses a transport.
func transportTest(t *testing.T) (*httptest.Server, *http.Client, *atomic.Int64) {
	t.Helper()
	srv, conns := echoServer(t)
	bt := newTransport(http.DefaultTransport, 4)
	t.Cleanup(bt.CloseIdleConnections)
	return srv, &http.Client{Transport: bt}, conns
}

// echoServer answers every request with its method, path and body, and counts the connections
// it accepted. Some paths misbehave: /slow answers after 200 ms, /dribble sends half its body
// and the rest 200 ms later, /close asks to close the connection, and /hangup (counted in
// hangups) closes it without answering.
func echoServer(t *testing.T) (*httptest.Server, *atomic.Int64) {
	t.Helper()
	var conns atomic.Int64
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		switch r.URL.Path {
		case "/slow":
			time.Sleep(200 * time.Millisecond)
		case "/dribble":
			w.Header().Set("Content-Length", "8")
			io.WriteString(w, "half")
			w.(http.Flusher).Flush()
			time.Sleep(200 * time.Millisecond)
			io.WriteString(w, "more")
			return
		case "/close":
			w.Header().Set("Connection", "close")
		case "/hangup":
			hangups.Add(1)
			nc, _, err := w.(http.Hijacker).Hijack()
			if err == nil {
				nc.Close()
			}
			return
		}
		w.Header().Set("X-Idem", r.Header.Get("Idempotency-Key"))
		io.WriteString(w, r.Method+" "+r.URL.Path+" "+string(body))
	}))
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	srv.Start()
	t.Cleanup(srv.Close)
	return srv, &conns
}

func doRequest(t *testing.T, hc *http.Client, ctx context.Context, method, url, body string) (string, error) {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Idempotency-Key", "k1")
	resp, err := hc.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if got := resp.Header.Get("X-Idem"); got != "k1" {
		t.Errorf("header Idempotency-Key arrived as %q", got)
	}
	return string(b), err
}

func TestTransportReusesConnections(t *testing.T) {
	srv, hc, conns := transportTest(t)
	for i := range 20 {
		got, err := doRequest(t, hc, context.Background(), "POST", srv.URL+"/v1/x", "body-"+string(rune('a'+i)))
		if err != nil {
			t.Fatal(err)
		}
		if want := "POST /v1/x body-" + string(rune('a'+i)); got != want {
			t.Fatalf("answer %q, want %q", got, want)
		}
	}
	if got := conns.Load(); got != 1 {
		t.Errorf("20 sequential requests opened %d connections, want 1", got)
	}
}

// TestTransportReplaysOnClosedIdle checks that a request on an idle connection the server
// closed meanwhile goes out again on a new one, body and all.
func TestTransportReplaysOnClosedIdle(t *testing.T) {
	srv, hc, conns := transportTest(t)
	if _, err := doRequest(t, hc, context.Background(), "GET", srv.URL+"/a", ""); err != nil {
		t.Fatal(err)
	}
	srv.CloseClientConnections()
	got, err := doRequest(t, hc, context.Background(), "POST", srv.URL+"/b", "again")
	if err != nil {
		t.Fatalf("request after the server closed the idle connection: %v", err)
	}
	if got != "POST /b again" {
		t.Fatalf("answer %q, want %q", got, "POST /b again")
	}
	if got := conns.Load(); got != 2 {
		t.Errorf("opened %d connections, want 2", got)
	}
}

func TestTransportHonoursContext(t *testing.T) {
	srv, hc, conns := transportTest(t)

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if _, err := doRequest(t, hc, ctx, "GET", srv.URL+"/slow", ""); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("slow answer past the deadline: got %v, want context.DeadlineExceeded", err)
	}
	ctx, cancel = context.WithCancel(context.Background())
	time.AfterFunc(20*time.Millisecond, cancel)
	if _, err := doRequest(t, hc, ctx, "GET", srv.URL+"/slow", ""); !errors.Is(err, context.Canceled) {
		t.Fatalf("slow answer after cancel: got %v, want context.Canceled", err)
	}
	// The connections of the failed requests were closed, not pooled: the next one works.
	before := conns.Load()
	if got, err := doRequest(t, hc, context.Background(), "GET", srv.URL+"/c", ""); err != nil || got != "GET /c " {
		t.Fatalf("request after the failures: %q, %v", got, err)
	}
	if conns.Load() != before+1 {
		t.Errorf("the request after the failures reused a failed connection")
	}
}

func TestTransportClosesUnreadBodies(t *testing.T) {
	srv, hc, conns := transportTest(t)
	for range 3 {
		resp, err := hc.Post(srv.URL+"/x", "text/plain", bytes.NewReader([]byte("unread")))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close() // before reading it: the connection cannot be reused
	}
	if got := conns.Load(); got != 3 {
		t.Errorf("3 requests with unread answers opened %d connections, want 3", got)
	}
}

func TestTransportUsesFallbackForHTTPS(t *testing.T) {
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "tls")
	}))
	defer srv.Close()
	hc := &http.Client{Transport: newTransport(srv.Client().Transport, 4)}
	resp, err := hc.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if b, _ := io.ReadAll(resp.Body); string(b) != "tls" {
		t.Fatalf("answer %q, want %q", b, "tls")
	}
}

// TestTransportReplaysOnlyWhatIsSafe checks that a request that reached the node on a
// reused connection and got no answer is sent again only when repeating it is safe.
func TestTransportReplaysOnlyWhatIsSafe(t *testing.T) {
	srv, hc, _ := transportTest(t)
	for _, tt := range []struct {
		key  string
		want int64 // times the node gets the POST
	}{{"", 1}, {"k1", 2}} {
		if _, err := doRequest(t, hc, context.Background(), "GET", srv.URL+"/a", ""); err != nil {
			t.Fatal(err) // leaves a connection in the pool
		}
		before := hangups.Load()
		req, err := http.NewRequest("POST", srv.URL+"/hangup", strings.NewReader("x"))
		if err != nil {
			t.Fatal(err)
		}
		if tt.key != "" {
			req.Header.Set("Idempotency-Key", tt.key)
		}
		if resp, err := hc.Do(req); err == nil {
			resp.Body.Close()
			t.Fatal("got an answer from a node that hung up")
		}
		if got := hangups.Load() - before; got != tt.want {
			t.Errorf("Idempotency-Key %q: the node got the POST %d times, want %d", tt.key, got, tt.want)
		}
	}
}

func TestTransportDropsConnectionsAskedToClose(t *testing.T) {
	srv, hc, conns := transportTest(t)
	for range 3 {
		if got, err := doRequest(t, hc, context.Background(), "GET", srv.URL+"/close", ""); err != nil || got != "GET /close " {
			t.Fatalf("answer %q, %v", got, err)
		}
	}
	if got := conns.Load(); got != 3 {
		t.Errorf("3 answers asking to close the connection: %d connections, want 3", got)
	}
}

func TestTransportCancelDuringBody(t *testing.T) {
	srv, hc, _ := transportTest(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, "GET", srv.URL+"/dribble", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	time.AfterFunc(20*time.Millisecond, cancel)
	if _, err := io.ReadAll(resp.Body); !errors.Is(err, context.Canceled) {
		t.Fatalf("reading a body while the context is cancelled: got %v, want context.Canceled", err)
	}
}
