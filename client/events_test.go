package client_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/crdtd/crdtd/api"
	"github.com/crdtd/crdtd/client"
)

func cartEvent(id int, data string) string {
	return fmt.Sprintf("id: %d\nevent: cart\ndata: %s\n\n", id, data)
}

func viewJSON(qty int) string {
	return fmt.Sprintf(`{"cart":"alice","items":[{"item":"apple","quantity":%d,"unit_price_cents":null,"subtotal_cents":null}],"total_cents":0,"unpriced_items":1}`, qty)
}

func viewOf(qty int64) api.CartView {
	return api.CartView{Cart: "alice", Items: []api.Line{{Item: "apple", Quantity: qty}}, UnpricedItems: 1}
}

// sseServer answers the nth event stream request (from 1) with the nth script: its text is
// written and flushed at once, then the stream ends, or, for the last script, stays open until
// the client goes away.
func sseServer(t *testing.T, scripts ...string) (*httptest.Server, func() []*http.Request) {
	t.Helper()
	var (
		mu   sync.Mutex
		reqs []*http.Request
	)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		reqs = append(reqs, r)
		n := len(reqs)
		mu.Unlock()
		w.Header().Set("Content-Type", "text/event-stream")
		w.WriteHeader(http.StatusOK)
		_, _ = io.WriteString(w, scripts[min(n, len(scripts))-1])
		w.(http.Flusher).Flush()
		if n >= len(scripts) {
			<-r.Context().Done()
		}
	}))
	t.Cleanup(srv.Close)
	return srv, func() []*http.Request {
		mu.Lock()
		defer mu.Unlock()
		return append([]*http.Request(nil), reqs...)
	}
}

// TestWatch: views arrive in order; comments, other event types and a repeated view are
// skipped; a stream the node ends is reopened; fn's error ends the watch as it is.
func TestWatch(t *testing.T) {
	srv, requests := sseServer(t,
		": keep-alive\n\n"+cartEvent(1, viewJSON(1))+"event: other\ndata: {}\n\n"+cartEvent(1, viewJSON(1))+cartEvent(2, viewJSON(2)),
		cartEvent(2, viewJSON(2))+": keep-alive\r\n\r\n"+"id: 3\r\nevent: cart\r\ndata: "+viewJSON(3)+"\r\n\r\n",
	)
	c := newTestClient(t, srv.URL, func(cfg *client.Config) { cfg.Token = "s3cret" })
	var got []api.CartView
	done := errors.New("done")
	err := c.Watch(t.Context(), "alice", func(v api.CartView) error {
		got = append(got, v)
		if len(got) == 3 {
			return done
		}
		return nil
	})
	if err != done {
		t.Fatalf("Watch returned %v, want fn's error as it is", err)
	}
	if want := []api.CartView{viewOf(1), viewOf(2), viewOf(3)}; !reflect.DeepEqual(got, want) {
		t.Errorf("got views %+v, want %+v", got, want)
	}
	reqs := requests()
	if len(reqs) != 2 {
		t.Fatalf("got %d requests, want 2 (the stream reopened once)", len(reqs))
	}
	r := reqs[0]
	if r.Method != "GET" || r.URL.Path != "/v1/carts/alice/events" || r.Header.Get("Accept") != "text/event-stream" ||
		r.Header.Get("Authorization") != "Bearer s3cret" {
		t.Errorf("got request %s %s Accept %q Authorization %q, want GET /v1/carts/alice/events with the token",
			r.Method, r.URL.Path, r.Header.Get("Accept"), r.Header.Get("Authorization"))
	}
}

func TestWatchUnreachable(t *testing.T) {
	addr := closedAddr(t)
	c := newTestClient(t, addr, func(cfg *client.Config) { cfg.Retries = 2 })
	err := c.Watch(t.Context(), "alice", func(api.CartView) error { return nil })
	if !errors.Is(err, client.ErrUnreachable) {
		t.Fatalf("got %v, want an error wrapping ErrUnreachable", err)
	}
	for _, want := range []string{"GET http://" + addr + "/v1/carts/alice/events", "connection refused", "(3 attempts)"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not contain %q", err, want)
		}
	}
}

// TestWatchRefused: a refusal that retrying cannot fix ends the watch at once; 503 (the node's
// stream cap, or a node shutting down) is retried; an answer that is not an event stream is an
// error.
func TestWatchRefused(t *testing.T) {
	tests := []struct {
		name      string
		status    int
		ctype     string
		body      string
		wantCalls int
		wantErr   string
	}{
		{"unauthorized", 401, "application/json", `{"error":{"code":"unauthorized","message":"missing or wrong bearer token"}}`, 1, "(unauthorized, HTTP 401)"},
		{"stream cap", 503, "application/json", `{"error":{"code":"unavailable","message":"too many event streams"}}`, 3, "(unavailable, HTTP 503)"},
		{"not a stream", 200, "application/json", viewJSON(1), 1, `answer is "application/json", not an event stream`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := newRecorder(t, func(w http.ResponseWriter, _ *http.Request, _ int) {
				w.Header().Set("Content-Type", tt.ctype)
				w.WriteHeader(tt.status)
				_, _ = io.WriteString(w, tt.body)
			})
			c := newTestClient(t, rec.srv.URL, func(cfg *client.Config) { cfg.Retries = 2 })
			err := c.Watch(t.Context(), "alice", func(api.CartView) error { return nil })
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("got error %v, want one containing %q", err, tt.wantErr)
			}
			if n := len(rec.requests()); n != tt.wantCalls {
				t.Errorf("got %d requests, want %d", n, tt.wantCalls)
			}
		})
	}
}

// TestWatchContextEnds: cancelling ctx ends an open watch with an error wrapping
// context.Canceled.
func TestWatchContextEnds(t *testing.T) {
	srv, _ := sseServer(t, cartEvent(1, viewJSON(1)))
	c := newTestClient(t, srv.URL, nil)
	ctx, cancel := context.WithCancel(t.Context())
	err := c.Watch(ctx, "alice", func(api.CartView) error {
		cancel() // the stream stays open: only ctx can end the watch now
		return nil
	})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("got %v, want an error wrapping context.Canceled", err)
	}
}

// TestWatchOutlivesClientTimeout: the HTTP client's Timeout, meant for calls, does not cut a
// stream.
func TestWatchOutlivesClientTimeout(t *testing.T) {
	const timeout = 100 * time.Millisecond
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		_, _ = io.WriteString(w, cartEvent(1, viewJSON(1)))
		w.(http.Flusher).Flush()
		select {
		case <-time.After(3 * timeout): // the scenario: the next change comes later
		case <-r.Context().Done():
			return
		}
		_, _ = io.WriteString(w, cartEvent(2, viewJSON(2)))
		w.(http.Flusher).Flush()
		<-r.Context().Done()
	}))
	t.Cleanup(srv.Close)
	c := newTestClient(t, srv.URL, func(cfg *client.Config) {
		cfg.HTTPClient = &http.Client{Timeout: timeout}
		cfg.Retries = -1
	})
	var got []int64
	stop := errors.New("stop")
	err := c.Watch(t.Context(), "alice", func(v api.CartView) error {
		got = append(got, v.Items[0].Quantity)
		if len(got) == 2 {
			return stop
		}
		return nil
	})
	if err != stop || !reflect.DeepEqual(got, []int64{1, 2}) {
		t.Fatalf("got %v and quantities %v, want the stop error and [1 2] on one stream", err, got)
	}
}

// TestWatchBadStream: a line beyond the bound and a view that is not JSON end the watch;
// reopening the stream would not help.
func TestWatchBadStream(t *testing.T) {
	for name, script := range map[string]string{
		"line too long": "data: " + strings.Repeat("x", client.MaxResponseBytes+1) + "\n\n",
		"not json":      "event: cart\ndata: {\"cart\":\n\n",
	} {
		t.Run(name, func(t *testing.T) {
			srv, requests := sseServer(t, script)
			c := newTestClient(t, srv.URL, nil)
			err := c.Watch(t.Context(), "alice", func(api.CartView) error { return nil })
			if err == nil || !strings.Contains(err.Error(), "malformed event stream") {
				t.Fatalf("got %v, want a malformed event stream error", err)
			}
			if n := len(requests()); n != 1 {
				t.Errorf("got %d requests, want 1", n)
			}
		})
	}
}

func TestWatchInvalidID(t *testing.T) {
	c := newTestClient(t, "127.0.0.1:1", nil)
	if err := c.Watch(t.Context(), "a/b", nil); !errors.Is(err, client.ErrInvalidID) {
		t.Fatalf("got %v, want ErrInvalidID", err)
	}
}
