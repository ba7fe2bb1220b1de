package client_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/crdtd/crdtd/api"
	"github.com/crdtd/crdtd/client"
)

// recorded is one request as the test server saw it.
type recorded struct {
	Method, Path, RawPath, Body, Key, Auth, ContentType string
}

// recorder is an httptest server that records requests and answers each with handle.
type recorder struct {
	mu   sync.Mutex
	reqs []recorded

	srv *httptest.Server
}

func newRecorder(t *testing.T, handle func(w http.ResponseWriter, r *http.Request, n int)) *recorder {
	t.Helper()
	rec := &recorder{}
	rec.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		rec.mu.Lock()
		rec.reqs = append(rec.reqs, recorded{
			Method: r.Method, Path: r.URL.Path, RawPath: r.URL.EscapedPath(), Body: string(body),
			Key: r.Header.Get("Idempotency-Key"), Auth: r.Header.Get("Authorization"),
			ContentType: r.Header.Get("Content-Type"),
		})
		n := len(rec.reqs)
		rec.mu.Unlock()
		handle(w, r, n)
	}))
	t.Cleanup(rec.srv.Close)
	return rec
}

func (rec *recorder) requests() []recorded {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	return append([]recorded(nil), rec.reqs...)
}

func reply(body string) func(http.ResponseWriter, *http.Request, int) {
	return func(w http.ResponseWriter, _ *http.Request, _ int) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, body)
	}
}

func newTestClient(t *testing.T, baseURL string, f func(*client.Config)) *client.Client {
	t.Helper()
	cfg := client.Config{BaseURL: baseURL, RetryBackoff: time.Millisecond}
	if f != nil {
		f(&cfg)
	}
	c, err := client.New(cfg)
	if err != nil {
		t.Fatalf("client.New(%+v): %v", cfg, err)
	}
	return c
}

const cartJSON = `{"cart":"alice","items":[{"item":"apple","quantity":2,"unit_price_cents":125,"subtotal_cents":250}],"total_cents":250,"unpriced_items":0}`

var aliceView = api.CartView{
	Cart:       "alice",
	Items:      []api.Line{{Item: "apple", Quantity: 2, UnitPriceCents: api.Cents(125), SubtotalCents: api.Cents(250)}},
	TotalCents: 250,
}

func ptr(v int64) *int64 { return &v }

func TestClientCalls(t *testing.T) {
	tests := []struct {
		name     string
		reply    string
		call     func(context.Context, *client.Client) (any, error)
		want     any
		wantReq  recorded // Key is only checked for being empty or not
		mutation bool
	}{
		{
			name:    "list carts",
			reply:   `{"carts":["alice","bob"]}`,
			call:    func(ctx context.Context, c *client.Client) (any, error) { return c.ListCarts(ctx) },
			want:    api.CartList{Carts: []string{"alice", "bob"}},
			wantReq: recorded{Method: "GET", Path: "/v1/carts"},
		},
		{
			name:    "list no carts",
			reply:   `{"carts":null}`,
			call:    func(ctx context.Context, c *client.Client) (any, error) { return c.ListCarts(ctx) },
			want:    api.CartList{Carts: []string{}},
			wantReq: recorded{Method: "GET", Path: "/v1/carts"},
		},
		{
			name:    "get cart",
			reply:   cartJSON,
			call:    func(ctx context.Context, c *client.Client) (any, error) { return c.GetCart(ctx, "alice") },
			want:    aliceView,
			wantReq: recorded{Method: "GET", Path: "/v1/carts/alice"},
		},
		{
			name:    "get empty cart",
			reply:   `{"cart":"zed","items":[],"total_cents":0}`,
			call:    func(ctx context.Context, c *client.Client) (any, error) { return c.GetCart(ctx, "zed") },
			want:    api.CartView{Cart: "zed", Items: []api.Line{}},
			wantReq: recorded{Method: "GET", Path: "/v1/carts/zed"},
		},
		{
			name:  "add with price",
			reply: cartJSON,
			call: func(ctx context.Context, c *client.Client) (any, error) {
				return c.AddItem(ctx, "alice", api.AddItemRequest{Item: "apple", Quantity: 2, UnitPriceCents: ptr(125)})
			},
			want: aliceView,
			wantReq: recorded{Method: "POST", Path: "/v1/carts/alice/items", ContentType: "application/json",
				Body: `{"item":"apple","quantity":2,"unit_price_cents":125}`},
			mutation: true,
		},
		{
			name:  "add without price",
			reply: cartJSON,
			call: func(ctx context.Context, c *client.Client) (any, error) {
				return c.AddItem(ctx, "alice", api.AddItemRequest{Item: "apple", Quantity: 1})
			},
			want: aliceView,
			wantReq: recorded{Method: "POST", Path: "/v1/carts/alice/items", ContentType: "application/json",
				Body: `{"item":"apple","quantity":1}`},
			mutation: true,
		},
		{
			name:  "add free item",
			reply: cartJSON,
			call: func(ctx context.Context, c *client.Client) (any, error) {
				return c.AddItem(ctx, "alice", api.AddItemRequest{Item: "apple", Quantity: 1, UnitPriceCents: ptr(0)})
			},
			want: aliceView,
			wantReq: recorded{Method: "POST", Path: "/v1/carts/alice/items", ContentType: "application/json",
				Body: `{"item":"apple","quantity":1,"unit_price_cents":0}`},
			mutation: true,
		},
		{
			name:  "set quantity to zero",
			reply: cartJSON,
			call: func(ctx context.Context, c *client.Client) (any, error) {
				return c.SetItem(ctx, "alice", "apple", api.SetItemRequest{Quantity: ptr(0)})
			},
			want: aliceView,
			wantReq: recorded{Method: "PUT", Path: "/v1/carts/alice/items/apple", ContentType: "application/json",
				Body: `{"quantity":0}`},
			mutation: true,
		},
		{
			name:  "set price only",
			reply: cartJSON,
			call: func(ctx context.Context, c *client.Client) (any, error) {
				return c.SetItem(ctx, "alice", "apple", api.SetItemRequest{UnitPriceCents: ptr(99)})
			},
			want: aliceView,
			wantReq: recorded{Method: "PUT", Path: "/v1/carts/alice/items/apple", ContentType: "application/json",
				Body: `{"unit_price_cents":99}`},
			mutation: true,
		},
		{
			name:  "remove item",
			reply: cartJSON,
			call: func(ctx context.Context, c *client.Client) (any, error) {
				return c.RemoveItem(ctx, "alice", "user@example.com:x")
			},
			want:     aliceView,
			wantReq:  recorded{Method: "DELETE", Path: "/v1/carts/alice/items/user@example.com:x"},
			mutation: true,
		},
		{
			name:     "clear cart",
			reply:    `{"cart":"alice","items":[],"total_cents":0}`,
			call:     func(ctx context.Context, c *client.Client) (any, error) { return c.ClearCart(ctx, "alice") },
			want:     api.CartView{Cart: "alice", Items: []api.Line{}},
			wantReq:  recorded{Method: "DELETE", Path: "/v1/carts/alice"},
			mutation: true,
		},
		{
			name:  "members",
			reply: `{"members":[{"name":"n1","addr":"127.0.0.1:7946","replica":"r-1","api_addr":"127.0.0.1:7070","state":"alive"}]}`,
			call:  func(ctx context.Context, c *client.Client) (any, error) { return c.Members(ctx) },
			want: api.MemberList{Members: []api.Member{
				{Name: "n1", Addr: "127.0.0.1:7946", Replica: "r-1", APIAddr: "127.0.0.1:7070", State: "alive"},
			}},
			wantReq: recorded{Method: "GET", Path: "/v1/members"},
		},
		{
			name: "status",
			reply: `{"node":"n1","replica":"r-1","api_addr":"a","gossip_addr":"g","version":"v1","uptime_seconds":12.5,` +
				`"carts":3,"digest":"0123456789abcdef","members":{"alive":3,"suspect":1,"dead":0,"left":0},` +
				`"peers":[{"name":"n2","replica":"r-2","state":"alive","digest_agrees":true,` +
				`"digest_checked_seconds_ago":1.2,"heartbeat_staleness_seconds":-1}],"future_field":1}`,
			call: func(ctx context.Context, c *client.Client) (any, error) { return c.Status(ctx) },
			want: api.Status{
				Node: "n1", Replica: "r-1", APIAddr: "a", GossipAddr: "g", Version: "v1", UptimeSeconds: 12.5,
				Carts: 3, Digest: "0123456789abcdef", Members: api.MemberCounts{Alive: 3, Suspect: 1},
				Peers: []api.PeerStatus{{Name: "n2", Replica: "r-2", State: "alive", DigestAgrees: true,
					DigestCheckedSecondsAgo: 1.2, HeartbeatStalenessSeconds: -1}},
			},
			wantReq: recorded{Method: "GET", Path: "/v1/status"},
		},
		{
			name:  "sync",
			reply: "\x93\x01\xc4\x00\xc4\x00", // opaque to the client
			call: func(ctx context.Context, c *client.Client) (any, error) {
				return c.Sync(ctx, "alice", []byte("\x94\x01\xa2d-"))
			},
			want: []byte("\x93\x01\xc4\x00\xc4\x00"),
			wantReq: recorded{Method: "POST", Path: "/v1/carts/alice/sync", ContentType: api.SyncContentType,
				Body: "\x94\x01\xa2d-"},
		},
		{
			name:    "health",
			reply:   `{"status":"ok"}`,
			call:    func(ctx context.Context, c *client.Client) (any, error) { return c.Health(ctx) },
			want:    api.Health{Status: "ok"},
			wantReq: recorded{Method: "GET", Path: "/healthz"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := newRecorder(t, reply(tt.reply))
			c := newTestClient(t, rec.srv.URL, nil)
			got, err := tt.call(t.Context(), c)
			if err != nil {
				t.Fatalf("call: %v", err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %#v, want %#v", got, tt.want)
			}
			reqs := rec.requests()
			if len(reqs) != 1 {
				t.Fatalf("got %d requests, want 1", len(reqs))
			}
			req := reqs[0]
			if tt.mutation != (req.Key != "") {
				t.Errorf("Idempotency-Key %q on %s, want one only on mutations", req.Key, req.Method)
			}
			req.Key, req.RawPath = "", ""
			if req != tt.wantReq {
				t.Errorf("got request %+v, want %+v", req, tt.wantReq)
			}
		})
	}
}

func TestIdempotencyKeyPerCall(t *testing.T) {
	rec := newRecorder(t, reply(cartJSON))
	c := newTestClient(t, rec.srv.URL, nil)
	for range 2 {
		if _, err := c.ClearCart(t.Context(), "alice"); err != nil {
			t.Fatal(err)
		}
	}
	reqs := rec.requests()
	k1, k2 := reqs[0].Key, reqs[1].Key
	if k1 == k2 {
		t.Errorf("two calls sent the same Idempotency-Key %q, want distinct keys", k1)
	}
	for _, k := range []string{k1, k2} {
		if err := client.ValidateID(k); err != nil { // same alphabet and length limit as the API's keys
			t.Errorf("Idempotency-Key %q is not a valid key: %v", k, err)
		}
	}
}

// TestDotIDsAreRefused: a URL path cannot name "." or "..", so the client
// refuses them before sending anything.
func TestDotIDsAreRefused(t *testing.T) {
	rec := newRecorder(t, reply(cartJSON))
	c := newTestClient(t, rec.srv.URL+"/prefix/", nil)
	for _, ids := range [][2]string{{"..", "apple"}, {"alice", "."}} {
		if _, err := c.RemoveItem(t.Context(), ids[0], ids[1]); !errors.Is(err, client.ErrInvalidID) {
			t.Errorf("RemoveItem(%q, %q): got %v, want ErrInvalidID", ids[0], ids[1], err)
		}
	}
	if n := len(rec.requests()); n != 0 {
		t.Errorf("got %d requests, want 0", n)
	}
}

func TestTokenHeader(t *testing.T) {
	for _, token := range []string{"", "s3cret"} {
		rec := newRecorder(t, reply(`{"status":"ok"}`))
		c := newTestClient(t, rec.srv.URL, func(cfg *client.Config) { cfg.Token = token })
		if _, err := c.Health(t.Context()); err != nil {
			t.Fatal(err)
		}
		want := ""
		if token != "" {
			want = "Bearer " + token
		}
		if got := rec.requests()[0].Auth; got != want {
			t.Errorf("token %q: got Authorization %q, want %q", token, got, want)
		}
	}
}

func TestAPIErrors(t *testing.T) {
	tests := []struct {
		name         string
		status       int
		body         string
		want         client.APIError
		wantAttempts int
	}{
		{
			name: "invalid argument", status: 400,
			body:         `{"error":{"code":"invalid_argument","message":"quantity 0 out of range 1..1000000"}}`,
			want:         client.APIError{StatusCode: 400, Code: api.CodeInvalidArgument, Message: "quantity 0 out of range 1..1000000"},
			wantAttempts: 1,
		},
		{
			name: "unauthorized", status: 401,
			body:         `{"error":{"code":"unauthorized","message":"missing bearer token"}}`,
			want:         client.APIError{StatusCode: 401, Code: api.CodeUnauthorized, Message: "missing bearer token"},
			wantAttempts: 1,
		},
		{
			name: "internal error is not retried", status: 500,
			body:         `{"error":{"code":"internal","message":"store: disk full"}}`,
			want:         client.APIError{StatusCode: 500, Code: api.CodeInternal, Message: "store: disk full"},
			wantAttempts: 1,
		},
		{
			name: "unavailable is retried", status: 503,
			body:         `{"error":{"code":"unavailable","message":"shutting down"}}`,
			want:         client.APIError{StatusCode: 503, Code: api.CodeUnavailable, Message: "shutting down"},
			wantAttempts: 4,
		},
		{
			name: "not an error body", status: 502, body: `<html>bad gateway</html>`,
			want:         client.APIError{StatusCode: 502, Code: api.CodeInternal, Message: "bad gateway"},
			wantAttempts: 1,
		},
		{
			name: "redirect is not followed", status: 301, body: ``,
			want:         client.APIError{StatusCode: 301, Code: "http_301", Message: "moved permanently"},
			wantAttempts: 1,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := newRecorder(t, func(w http.ResponseWriter, _ *http.Request, _ int) {
				if tt.status == 301 {
					w.Header().Set("Location", "/elsewhere")
				}
				w.WriteHeader(tt.status)
				_, _ = io.WriteString(w, tt.body)
			})
			c := newTestClient(t, rec.srv.URL, nil)
			_, err := c.AddItem(t.Context(), "alice", api.AddItemRequest{Item: "apple", Quantity: 1})
			var apiErr *client.APIError
			if !errors.As(err, &apiErr) {
				t.Fatalf("got error %v (%T), want *client.APIError", err, err)
			}
			if *apiErr != tt.want {
				t.Errorf("got %+v, want %+v", *apiErr, tt.want)
			}
			if errors.Is(err, client.ErrUnreachable) {
				t.Errorf("error %v wraps ErrUnreachable, want not", err)
			}
			reqs := rec.requests()
			if len(reqs) != tt.wantAttempts {
				t.Fatalf("got %d attempts, want %d", len(reqs), tt.wantAttempts)
			}
			for _, r := range reqs {
				if r.Key != reqs[0].Key {
					t.Errorf("retry sent Idempotency-Key %q, want the first attempt's %q", r.Key, reqs[0].Key)
				}
			}
		})
	}
}

func TestAPIErrorMessage(t *testing.T) {
	err := &client.APIError{StatusCode: 400, Code: api.CodeInvalidArgument, Message: "bad price"}
	if got, want := err.Error(), "bad price (invalid_argument, HTTP 400)"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

// TestRetryDroppedConnection drops the first attempt's connection after the server has read the
// request, as a node that crashes before answering would; the retry must carry the same key.
func TestRetryDroppedConnection(t *testing.T) {
	rec := newRecorder(t, func(w http.ResponseWriter, r *http.Request, n int) {
		if n == 1 {
			conn, _, err := http.NewResponseController(w).Hijack()
			if err != nil {
				t.Errorf("hijack: %v", err)
				return
			}
			_ = conn.Close()
			return
		}
		reply(cartJSON)(w, r, n)
	})
	c := newTestClient(t, rec.srv.URL, nil)
	got, err := c.AddItem(t.Context(), "alice", api.AddItemRequest{Item: "apple", Quantity: 2, UnitPriceCents: ptr(125)})
	if err != nil {
		t.Fatalf("AddItem: %v", err)
	}
	if !reflect.DeepEqual(got, aliceView) {
		t.Errorf("got %+v, want %+v", got, aliceView)
	}
	reqs := rec.requests()
	if len(reqs) != 2 {
		t.Fatalf("got %d attempts, want 2", len(reqs))
	}
	if reqs[0].Key == "" || reqs[0].Key != reqs[1].Key {
		t.Errorf("got keys %q then %q, want the same non-empty key", reqs[0].Key, reqs[1].Key)
	}
	if reqs[0].Body != reqs[1].Body {
		t.Errorf("retry sent body %q, want %q", reqs[1].Body, reqs[0].Body)
	}
}

// closedAddr returns an address on which nothing listens.
func closedAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	_ = ln.Close()
	return addr
}

func TestUnreachable(t *testing.T) {
	addr := closedAddr(t)
	c := newTestClient(t, addr, func(cfg *client.Config) { cfg.Retries = 2 })
	_, err := c.GetCart(t.Context(), "alice")
	if !errors.Is(err, client.ErrUnreachable) {
		t.Fatalf("got %v, want an error wrapping ErrUnreachable", err)
	}
	for _, want := range []string{"GET http://" + addr + "/v1/carts/alice", "connection refused", "(3 attempts)"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not contain %q", err, want)
		}
	}
}

func TestUnreachableUnknownHost(t *testing.T) {
	c := newTestClient(t, "http://no-such-host.invalid:7070", nil)
	// Bounded, in case the machine's resolver times out instead of answering NXDOMAIN.
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Second)
	defer cancel()
	_, err := c.ListCarts(ctx)
	if !errors.Is(err, client.ErrUnreachable) {
		t.Fatalf("got %v, want an error wrapping ErrUnreachable", err)
	}
}

// hangingServer accepts requests and never answers until the request is cancelled.
func hangingServer(t *testing.T) (url string, arrived <-chan struct{}) {
	t.Helper()
	ch := make(chan struct{}, 10)
	srv := httptest.NewServer(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
		ch <- struct{}{}
		<-r.Context().Done()
	}))
	t.Cleanup(srv.Close)
	return srv.URL, ch
}

func TestContextCancel(t *testing.T) {
	url, arrived := hangingServer(t)
	c := newTestClient(t, url, nil)
	ctx, cancel := context.WithCancel(t.Context())
	go func() {
		<-arrived
		cancel()
	}()
	_, err := c.ClearCart(ctx, "alice")
	if !errors.Is(err, context.Canceled) {
		t.Errorf("got %v, want an error wrapping context.Canceled", err)
	}
	if errors.Is(err, client.ErrUnreachable) {
		t.Errorf("got %v, want a cancelled call not to be reported as unreachable", err)
	}
}

func TestContextDeadlineIsUnreachable(t *testing.T) {
	url, _ := hangingServer(t)
	c := newTestClient(t, url, nil)
	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancel()
	_, err := c.GetCart(ctx, "alice")
	if !errors.Is(err, client.ErrUnreachable) || !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("got %v, want an error wrapping ErrUnreachable and context.DeadlineExceeded", err)
	}
}

func TestAttemptTimeoutIsRetried(t *testing.T) {
	var mu sync.Mutex
	n := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		n++
		first := n == 1
		mu.Unlock()
		if first {
			<-r.Context().Done()
			return
		}
		_, _ = io.WriteString(w, cartJSON)
	}))
	t.Cleanup(srv.Close)
	c := newTestClient(t, srv.URL, func(cfg *client.Config) {
		cfg.HTTPClient = &http.Client{Timeout: 100 * time.Millisecond}
	})
	if _, err := c.GetCart(t.Context(), "alice"); err != nil {
		t.Fatalf("GetCart: %v", err)
	}
}

func TestInvalidIDsAreNotSent(t *testing.T) {
	rec := newRecorder(t, reply(cartJSON))
	c := newTestClient(t, rec.srv.URL, nil)
	long := strings.Repeat("x", api.MaxIDLength+1)
	calls := map[string]func() error{
		"empty cart": func() error { _, err := c.GetCart(t.Context(), ""); return err },
		"space in cart": func() error {
			_, err := c.AddItem(t.Context(), "a b", api.AddItemRequest{Item: "x", Quantity: 1})
			return err
		},
		"slash in item": func() error {
			_, err := c.AddItem(t.Context(), "a", api.AddItemRequest{Item: "x/y", Quantity: 1})
			return err
		},
		"long item":    func() error { _, err := c.RemoveItem(t.Context(), "a", long); return err },
		"unicode cart": func() error { _, err := c.ClearCart(t.Context(), "café"); return err },
		"set item cart": func() error {
			_, err := c.SetItem(t.Context(), "?", "x", api.SetItemRequest{Quantity: ptr(1)})
			return err
		},
	}
	for name, call := range calls {
		if err := call(); !errors.Is(err, client.ErrInvalidID) {
			t.Errorf("%s: got %v, want an error wrapping ErrInvalidID", name, err)
		}
	}
	if n := len(rec.requests()); n != 0 {
		t.Errorf("got %d requests for invalid IDs, want 0", n)
	}
}

func TestValidateID(t *testing.T) {
	valid := []string{"a", "alice", "A-Z_a.z:0@9", strings.Repeat("x", api.MaxIDLength), "...", ".a", "a.."}
	invalid := []string{"", " ", "a b", "a/b", "a?b", "a%20", "é", strings.Repeat("x", api.MaxIDLength+1), ".", ".."}
	for _, id := range valid {
		if err := client.ValidateID(id); err != nil {
			t.Errorf("ValidateID(%q) = %v, want nil", id, err)
		}
	}
	for _, id := range invalid {
		if err := client.ValidateID(id); !errors.Is(err, client.ErrInvalidID) {
			t.Errorf("ValidateID(%q) = %v, want ErrInvalidID", id, err)
		}
	}
}

func TestSetItemNeedsAField(t *testing.T) {
	c := newTestClient(t, "127.0.0.1:1", nil)
	if _, err := c.SetItem(t.Context(), "a", "b", api.SetItemRequest{}); err == nil {
		t.Error("SetItem with no fields: got nil error, want one")
	}
}

func TestResponseTooLarge(t *testing.T) {
	rec := newRecorder(t, func(w http.ResponseWriter, _ *http.Request, _ int) {
		_, _ = w.Write([]byte(`{"carts":["`))
		chunk := []byte(strings.Repeat("a", 1<<20))
		for range 9 {
			_, _ = w.Write(chunk)
		}
		_, _ = w.Write([]byte(`"]}`))
	})
	c := newTestClient(t, rec.srv.URL, nil)
	_, err := c.ListCarts(t.Context())
	if err == nil || !strings.Contains(err.Error(), "exceeds") {
		t.Errorf("got %v, want a response-too-large error", err)
	}
}

func TestBadResponseBody(t *testing.T) {
	rec := newRecorder(t, reply(`{"carts":`))
	c := newTestClient(t, rec.srv.URL, nil)
	if _, err := c.ListCarts(t.Context()); err == nil || !strings.Contains(err.Error(), "decode response") {
		t.Errorf("got %v, want a decode error", err)
	}
}

func TestNewConfig(t *testing.T) {
	tests := []struct {
		base    string
		wantErr bool
	}{
		{base: "http://127.0.0.1:7070"},
		{base: "127.0.0.1:7071"},
		{base: "localhost:7070"},
		{base: "https://node.example.com/crdtd/"},
		{base: "", wantErr: true},
		{base: "ftp://x", wantErr: true},
		{base: "http://", wantErr: true},
		{base: "http://u:p@host:1", wantErr: true},
		{base: "http://host:1/?q=1", wantErr: true},
		{base: "http://[::1", wantErr: true},
	}
	for _, tt := range tests {
		_, err := client.New(client.Config{BaseURL: tt.base})
		if (err != nil) != tt.wantErr {
			t.Errorf("New(BaseURL %q): got error %v, want error %t", tt.base, err, tt.wantErr)
		}
	}
	if _, err := client.New(client.Config{BaseURL: "x:1", Token: "a\nb"}); err == nil {
		t.Error("New with a token containing a newline: got nil error, want one")
	}
}

func TestWireTypesRoundTrip(t *testing.T) {
	// The daemon encodes these structs; the encoding must be the documented wire JSON.
	got, err := json.Marshal(aliceView)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != cartJSON {
		t.Errorf("got %s, want %s", got, cartJSON)
	}
	eb, _ := json.Marshal(api.ErrorBody{Error: api.ErrorDetail{Code: api.CodeNotFound, Message: "no route"}})
	if want := `{"error":{"code":"not_found","message":"no route"}}`; string(eb) != want {
		t.Errorf("got %s, want %s", eb, want)
	}
}

// TestListCartsFollowsPages: ListCarts asks for pages until one has no next, passing each
// page's next as after.
func TestListCartsFollowsPages(t *testing.T) {
	pages := map[string]string{
		"":      `{"carts":["a","b"],"next":"b"}`,
		"b":     `{"carts":["c","d"],"next":"d"}`,
		"d":     `{"carts":["e"]}`,
		"other": `{"carts":[]}`,
	}
	var afters []string
	var mu sync.Mutex
	rec := newRecorder(t, func(w http.ResponseWriter, r *http.Request, _ int) {
		after := r.URL.Query().Get("after")
		mu.Lock()
		afters = append(afters, after+"|"+r.URL.Query().Get("limit"))
		mu.Unlock()
		_, _ = io.WriteString(w, pages[after])
	})
	c := newTestClient(t, rec.srv.URL, nil)
	got, err := c.ListCarts(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"a", "b", "c", "d", "e"}; !slices.Equal(got.Carts, want) {
		t.Errorf("carts: got %v, want %v", got.Carts, want)
	}
	limit := strconv.Itoa(api.MaxPageSize)
	if want := []string{"|" + limit, "b|" + limit, "d|" + limit}; !slices.Equal(afters, want) {
		t.Errorf("pages asked (after|limit): got %v, want %v", afters, want)
	}
}

// TestSyncRetries: a sync whose connection drops after the node read it is sent again, with the
// same body and without an Idempotency-Key (merging the same push twice changes nothing); a
// refused push is an APIError, not retried.
func TestSyncRetries(t *testing.T) {
	body := []byte("\x94\x01\xa9d-0123abcd\xc4\x01\x01\xc4\x01\x01")
	var accepts []string
	var mu sync.Mutex
	rec := newRecorder(t, func(w http.ResponseWriter, r *http.Request, n int) {
		mu.Lock()
		accepts = append(accepts, r.Header.Get("Accept"))
		mu.Unlock()
		switch n {
		case 1:
			conn, _, err := http.NewResponseController(w).Hijack()
			if err != nil {
				t.Errorf("hijack: %v", err)
				return
			}
			_ = conn.Close()
		case 2:
			w.Header().Set("Content-Type", api.SyncContentType)
			_, _ = w.Write([]byte("answer"))
		default:
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusUnprocessableEntity)
			_, _ = io.WriteString(w, `{"error":{"code":"sync_refused","message":"sync refused: push carries changes of another replica"}}`)
		}
	})
	c := newTestClient(t, rec.srv.URL, nil)
	got, err := c.Sync(t.Context(), "alice", body)
	if err != nil {
		t.Fatalf("Sync: %v", err)
	}
	if string(got) != "answer" {
		t.Errorf("got answer %q, want %q", got, "answer")
	}
	reqs := rec.requests()
	if len(reqs) != 2 {
		t.Fatalf("got %d attempts, want 2", len(reqs))
	}
	for i, r := range reqs {
		if r.Key != "" {
			t.Errorf("attempt %d sent Idempotency-Key %q, want none", i+1, r.Key)
		}
		if r.Body != string(body) {
			t.Errorf("attempt %d sent body %q, want %q", i+1, r.Body, body)
		}
		if accepts[i] != api.SyncContentType {
			t.Errorf("attempt %d sent Accept %q, want %q", i+1, accepts[i], api.SyncContentType)
		}
	}

	_, err = c.Sync(t.Context(), "alice", body)
	var apiErr *client.APIError
	if !errors.As(err, &apiErr) || apiErr.StatusCode != 422 || apiErr.Code != api.CodeSyncRefused {
		t.Fatalf("got %v, want a 422 sync_refused APIError", err)
	}
	if n := len(rec.requests()); n != 3 {
		t.Errorf("got %d attempts in all, want 3: a refused push is not retried", n)
	}
}

func TestSyncUnreachable(t *testing.T) {
	c := newTestClient(t, closedAddr(t), func(cfg *client.Config) { cfg.Retries = 1 })
	_, err := c.Sync(t.Context(), "alice", []byte{0x90})
	if !errors.Is(err, client.ErrUnreachable) {
		t.Fatalf("got %v, want an error wrapping ErrUnreachable", err)
	}
	if !strings.Contains(err.Error(), "POST http://") || !strings.Contains(err.Error(), "/v1/carts/alice/sync") {
		t.Errorf("error %q does not name the call", err)
	}
}

func TestSyncInvalidCartIsNotSent(t *testing.T) {
	rec := newRecorder(t, reply(""))
	c := newTestClient(t, rec.srv.URL, nil)
	for _, id := range []string{"", "..", "a/b"} {
		if _, err := c.Sync(t.Context(), id, []byte{0x90}); !errors.Is(err, client.ErrInvalidID) {
			t.Errorf("Sync(%q): got %v, want an error wrapping ErrInvalidID", id, err)
		}
	}
	if n := len(rec.requests()); n != 0 {
		t.Errorf("got %d requests, want 0", n)
	}
}

// TestRetryAfter: a refusal's Retry-After reaches the caller as APIError.RetryAfter (seconds or
// an HTTP date, capped at an hour), and a 409 sync_behind is the caller's to retry: the client
// makes one attempt.
func TestRetryAfter(t *testing.T) {
	tests := []struct {
		header   string
		min, max time.Duration
	}{
		{header: "", min: 0, max: 0},
		{header: "1", min: time.Second, max: time.Second},
		{header: "0", min: 0, max: 0},
		{header: "86400", min: time.Hour, max: time.Hour},
		{header: "-1", min: 0, max: 0},
		{header: "soon", min: 0, max: 0},
		{header: time.Now().Add(30 * time.Second).UTC().Format(http.TimeFormat), min: 28 * time.Second, max: 30 * time.Second},
		{header: "Mon, 02 Jan 2006 15:04:05 GMT", min: 0, max: 0}, // in the past
	}
	for _, tt := range tests {
		rec := newRecorder(t, func(w http.ResponseWriter, _ *http.Request, _ int) {
			if tt.header != "" {
				w.Header().Set("Retry-After", tt.header)
			}
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusConflict)
			_, _ = io.WriteString(w, `{"error":{"code":"sync_behind","message":"retry shortly"}}`)
		})
		c := newTestClient(t, rec.srv.URL, nil)
		_, err := c.Sync(t.Context(), "alice", []byte{0x90})
		var apiErr *client.APIError
		if !errors.As(err, &apiErr) || apiErr.Code != api.CodeSyncBehind {
			t.Fatalf("Retry-After %q: got %v, want a sync_behind APIError", tt.header, err)
		}
		if apiErr.RetryAfter < tt.min || apiErr.RetryAfter > tt.max {
			t.Errorf("Retry-After %q: got RetryAfter %v, want %v..%v", tt.header, apiErr.RetryAfter, tt.min, tt.max)
		}
		if n := len(rec.requests()); n != 1 {
			t.Errorf("Retry-After %q: got %d attempts, want 1", tt.header, n)
		}
	}
}
