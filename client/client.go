package client

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	mathrand "math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/crdtd/crdtd/api"
)

// ErrUnreachable is wrapped by the errors of [Client] methods when the node could not be reached:
// the connection was refused or dropped, the name did not resolve, or the attempt timed out. An
// error that wraps it says nothing about whether a mutation was applied; retrying the same call
// is safe only because the client sends an Idempotency-Key, and a new call gets a new key.
// [Client.Sync] needs no key: resending a device's sync body is safe by construction.
var ErrUnreachable = errors.New("node unreachable")

// ErrTLS is wrapped by the errors of [Client] methods when the node was reached but the TLS
// handshake with it failed: its certificate is not trusted here (unknown authority, wrong name,
// expired), it refused ours (missing, or not signed by a CA it trusts), or one side does not
// speak TLS. The error goes on to name the cause. Nothing was applied, and retrying cannot help
// until the configuration changes, so the client does not retry.
var ErrTLS = errors.New("TLS handshake failed")

// ErrInvalidID is wrapped by the error [ValidateID] and the [Client] methods return for a cart or
// item ID the API would reject.
var ErrInvalidID = errors.New("invalid ID")

// Defaults for [Config].
const (
	DefaultRetries        = 3
	DefaultRetryBackoff   = 100 * time.Millisecond
	DefaultAttemptTimeout = 30 * time.Second
	// MaxResponseBytes bounds how much of a response body the client reads (8 MiB). A cart of
	// 10,000 lines, the largest the daemon accepts, is about 1 MiB of JSON.
	MaxResponseBytes = 8 << 20
	// maxBackoff caps the wait between attempts.
	maxBackoff = 2 * time.Second
)

// Config configures a [Client]. The zero value of every field but BaseURL means its default.
// A Config is copied by [New]; changing it afterwards has no effect.
type Config struct {
	// BaseURL is the node's API address, such as "http://127.0.0.1:7070". A bare "host:port" means
	// http. A path prefix is kept (for a node behind a reverse proxy). Required.
	BaseURL string

	// Token is the bearer token sent as "Authorization: Bearer <token>"; empty sends none. A node
	// whose API listens beyond loopback requires one.
	Token string

	// HTTPClient sends the requests. Nil means a client that keeps up to 256 idle connections
	// per node (for callers with many goroutines) and has DefaultAttemptTimeout (30 s) per
	// attempt, so a hung node cannot stall a caller whose ctx has no deadline, and with redirects
	// turned off, since the API never redirects and a redirected POST would lose its body.
	// For a node whose certificate comes from a private CA, or that requires a client
	// certificate, give a client whose Transport carries that tls.Config.
	HTTPClient *http.Client

	// Retries is how many times a request is repeated after a failure that may be transient: a
	// connection refused, reset or dropped, an attempt timeout, or a 503. A mutation repeats with
	// the same Idempotency-Key, so the node applies it at most once. 0 means DefaultRetries (3);
	// a negative value turns retries off.
	Retries int

	// RetryBackoff is the wait before the first retry; each further retry doubles it, up to 2 s,
	// with jitter so that many clients do not retry in step. 0 means DefaultRetryBackoff (100 ms):
	// with the default Retries an unreachable node is reported after about 0.7 s.
	RetryBackoff time.Duration
}

// Client calls the crdtd HTTP API of one node. It is safe for concurrent use.
type Client struct {
	base    *url.URL
	token   string
	hc      *http.Client
	retries int
	backoff time.Duration
}

// New returns a client for the node at cfg.BaseURL. It does not contact the node.
func New(cfg Config) (*Client, error) {
	base, err := parseBaseURL(cfg.BaseURL)
	if err != nil {
		return nil, err
	}
	if strings.ContainsAny(cfg.Token, "\r\n") {
		return nil, errors.New("new client: token contains a line break")
	}
	c := &Client{
		base:    base,
		token:   cfg.Token,
		hc:      cfg.HTTPClient,
		retries: cfg.Retries,
		backoff: cfg.RetryBackoff,
	}
	if c.hc == nil {
		// Keep enough idle connections for a busy concurrent caller: the
		// default of two per host makes most requests of a program with
		// many goroutines open a new connection.
		tr := http.DefaultTransport.(*http.Transport).Clone()
		tr.MaxIdleConnsPerHost = 256
		tr.MaxIdleConns = 1024
		c.hc = &http.Client{
			Transport: tr,
			Timeout:   DefaultAttemptTimeout,
			CheckRedirect: func(*http.Request, []*http.Request) error {
				return http.ErrUseLastResponse
			},
		}
	}
	switch {
	case c.retries == 0:
		c.retries = DefaultRetries
	case c.retries < 0:
		c.retries = 0
	}
	if c.backoff <= 0 {
		c.backoff = DefaultRetryBackoff
	}
	return c, nil
}

func parseBaseURL(s string) (*url.URL, error) {
	if s == "" {
		return nil, errors.New("new client: empty base URL")
	}
	if !strings.Contains(s, "://") {
		s = "http://" + s
	}
	u, err := url.Parse(s)
	if err != nil {
		return nil, fmt.Errorf("new client: base URL: %v", err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return nil, fmt.Errorf("new client: base URL %q: scheme must be http or https", s)
	}
	if u.Host == "" {
		return nil, fmt.Errorf("new client: base URL %q has no host", s)
	}
	if u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return nil, fmt.Errorf("new client: base URL %q: want scheme://host[:port][/prefix] only", u.Redacted())
	}
	u.Path = strings.TrimSuffix(u.Path, "/")
	u.RawPath = strings.TrimSuffix(u.RawPath, "/")
	return u, nil
}

// ValidateID reports whether id is a valid cart or item ID: 1–[MaxIDLength] characters of
// [A-Za-z0-9._:@-]. The error wraps [ErrInvalidID].
func ValidateID(id string) error {
	return validateID("", id)
}

func validateID(kind, id string) error {
	what := "ID"
	if kind != "" {
		what = kind + " ID"
	}
	const want = "want 1-128 characters of A-Z a-z 0-9 . _ : @ -"
	if id == "" {
		return fmt.Errorf("%w: empty %s", ErrInvalidID, what)
	}
	if len(id) > api.MaxIDLength {
		return fmt.Errorf("%w: %s of %d bytes: %s", ErrInvalidID, what, len(id), want)
	}
	if id == "." || id == ".." {
		return fmt.Errorf("%w: %s %q: a URL path cannot name it", ErrInvalidID, what, id)
	}
	if api.InvalidIDByte(id) >= 0 {
		return fmt.Errorf("%w: %s %q: %s", ErrInvalidID, what, id, want)
	}
	return nil
}

// pathSegment escapes an ID for a URL path. Valid IDs need no percent-encoding; escaping is
// a second guard.
func pathSegment(id string) string { return url.PathEscape(id) }

// ListCarts returns the names of all carts with at least one line, sorted, following the
// pages of GET /v1/carts to the end. On a node with millions of carts, page with
// [Client.ListCartsPage] instead.
func (c *Client) ListCarts(ctx context.Context) (api.CartList, error) {
	all := api.CartList{Carts: []string{}}
	after := ""
	for {
		page, err := c.ListCartsPage(ctx, after, api.MaxPageSize)
		if err != nil {
			return api.CartList{}, err
		}
		all.Carts = append(all.Carts, page.Carts...)
		if page.Next == "" || page.Next == after {
			return all, nil
		}
		after = page.Next
	}
}

// ListCartsPage returns up to limit names of carts with at least one line, sorted, starting after
// the name after ("" for the first page). The answer's Next is the after of the following page,
// empty on the last one. A limit of 0 takes the node's default page size.
func (c *Client) ListCartsPage(ctx context.Context, after string, limit int) (api.CartList, error) {
	q := url.Values{}
	if after != "" {
		if err := validateID("cart", after); err != nil {
			return api.CartList{}, err
		}
		q.Set("after", after)
	}
	if limit != 0 {
		q.Set("limit", strconv.Itoa(limit))
	}
	path := "/v1/carts"
	if len(q) > 0 {
		path += "?" + q.Encode()
	}
	var out api.CartList
	if err := c.do(ctx, http.MethodGet, path, nil, &out); err != nil {
		return api.CartList{}, err
	}
	if out.Carts == nil {
		out.Carts = []string{}
	}
	return out, nil
}

// GetCart returns the current view of cart. An unknown cart is empty, not an error.
func (c *Client) GetCart(ctx context.Context, cart string) (api.CartView, error) {
	if err := validateID("cart", cart); err != nil {
		return api.CartView{}, err
	}
	return c.cartCall(ctx, http.MethodGet, cart, "/v1/carts/"+pathSegment(cart), nil)
}

// AddItem adds req.Quantity of req.Item to cart, setting the unit price too when
// req.UnitPriceCents is not nil, and returns the resulting cart.
func (c *Client) AddItem(ctx context.Context, cart string, req api.AddItemRequest) (api.CartView, error) {
	if err := validateID("cart", cart); err != nil {
		return api.CartView{}, err
	}
	if err := validateID("item", req.Item); err != nil {
		return api.CartView{}, err
	}
	return c.cartCall(ctx, http.MethodPost, cart, "/v1/carts/"+pathSegment(cart)+"/items", req)
}

// SetItem sets the quantity and/or unit price of item in cart and returns the resulting cart.
// At least one field of req must be non-nil. A quantity of 0 removes the line.
func (c *Client) SetItem(ctx context.Context, cart, item string, req api.SetItemRequest) (api.CartView, error) {
	if err := validateID("cart", cart); err != nil {
		return api.CartView{}, err
	}
	if err := validateID("item", item); err != nil {
		return api.CartView{}, err
	}
	if req.Quantity == nil && req.UnitPriceCents == nil {
		return api.CartView{}, errors.New("set item: neither quantity nor unit price given")
	}
	return c.cartCall(ctx, http.MethodPut, cart, "/v1/carts/"+pathSegment(cart)+"/items/"+pathSegment(item), req)
}

// RemoveItem removes the line of item from cart and returns the resulting cart. Removing an
// absent item is not an error.
func (c *Client) RemoveItem(ctx context.Context, cart, item string) (api.CartView, error) {
	if err := validateID("cart", cart); err != nil {
		return api.CartView{}, err
	}
	if err := validateID("item", item); err != nil {
		return api.CartView{}, err
	}
	return c.cartCall(ctx, http.MethodDelete, cart, "/v1/carts/"+pathSegment(cart)+"/items/"+pathSegment(item), nil)
}

// ClearCart removes every line the node has seen from cart and returns the resulting cart.
// Lines added concurrently elsewhere, not yet seen here, survive (docs/semantics.md).
func (c *Client) ClearCart(ctx context.Context, cart string) (api.CartView, error) {
	if err := validateID("cart", cart); err != nil {
		return api.CartView{}, err
	}
	return c.cartCall(ctx, http.MethodDelete, cart, "/v1/carts/"+pathSegment(cart), nil)
}

func (c *Client) cartCall(ctx context.Context, method, cart, path string, in any) (api.CartView, error) {
	var out api.CartView
	if err := c.do(ctx, method, path, in, &out); err != nil {
		return api.CartView{}, err
	}
	if out.Items == nil {
		out.Items = []api.Line{}
	}
	return out, nil
}

// Members returns the cluster members as the node sees them.
func (c *Client) Members(ctx context.Context) (api.MemberList, error) {
	var out api.MemberList
	if err := c.do(ctx, http.MethodGet, "/v1/members", nil, &out); err != nil {
		return api.MemberList{}, err
	}
	if out.Members == nil {
		out.Members = []api.Member{}
	}
	return out, nil
}

// Status returns the node's identity, digest, member counts and per-peer consistency.
func (c *Client) Status(ctx context.Context) (api.Status, error) {
	var out api.Status
	if err := c.do(ctx, http.MethodGet, "/v1/status", nil, &out); err != nil {
		return api.Status{}, err
	}
	if out.Peers == nil {
		out.Peers = []api.PeerStatus{}
	}
	return out, nil
}

// Health returns the node's health. Any answer other than an error means the node serves.
func (c *Client) Health(ctx context.Context) (api.Health, error) {
	var out api.Health
	if err := c.do(ctx, http.MethodGet, "/healthz", nil, &out); err != nil {
		return api.Health{}, err
	}
	return out, nil
}

// Sync sends a device's sync body for cart (POST /v1/carts/{cart}/sync, Content-Type
// [api.SyncContentType]) and returns the node's answer body. Both bodies are opaque here: the
// device package builds the request and merges the answer. A sync carries no Idempotency-Key and
// needs none: it is idempotent by construction, so it is retried, with the same body, exactly
// when other calls are. A refused push is an [*APIError] (422 sync_refused, 413, 415, 400); a
// deferred one is a 409 sync_behind whose RetryAfter says when to send it again; an
// error wrapping [ErrUnreachable] says nothing about whether the node applied the push, and
// sending the same body again, to this node or another, is safe.
func (c *Client) Sync(ctx context.Context, cart string, body []byte) ([]byte, error) {
	if err := validateID("cart", cart); err != nil {
		return nil, err
	}
	if body == nil {
		body = []byte{}
	}
	var answer []byte
	err := c.send(ctx, request{
		method: http.MethodPost, path: "/v1/carts/" + pathSegment(cart) + "/sync", body: body,
		contentType: api.SyncContentType, accept: api.SyncContentType,
		decode: func(data []byte) error { answer = data; return nil },
	})
	if err != nil {
		return nil, err
	}
	return answer, nil
}

// do sends one logical call: it marshals in, makes up to 1+retries attempts, and unmarshals a 2xx
// body into out. Mutations carry one Idempotency-Key across all their attempts.
func (c *Client) do(ctx context.Context, method, path string, in, out any) error {
	var body []byte
	if in != nil {
		var err error
		if body, err = json.Marshal(in); err != nil {
			return fmt.Errorf("%s %s: encode request: %v", method, path, err)
		}
	}
	var key string
	if method != http.MethodGet {
		key = rand.Text() // 26 characters of [A-Z2-7], 128 random bits
	}

	decode := func(data []byte) error {
		if out == nil {
			return nil
		}
		return json.Unmarshal(data, out)
	}
	return c.send(ctx, request{method: method, path: path, key: key, body: body, contentType: "application/json",
		accept: "application/json", decode: decode})
}

// request is one logical call as send makes it.
type request struct {
	method, path string
	key          string // Idempotency-Key, the same on every attempt; "" sends none
	body         []byte // nil sends none
	contentType  string // of body
	accept       string
	// decode reads a 2xx answer's body; a failure is reported, not retried.
	decode func([]byte) error
}

// send makes up to 1+retries attempts of req, retrying only when the node may not have answered
// or answered 503.
func (c *Client) send(ctx context.Context, req request) error {
	u := *c.base
	escaped, query, _ := strings.Cut(req.path, "?")
	u.RawPath = c.base.EscapedPath() + escaped
	p, err := url.PathUnescape(u.RawPath)
	if err != nil {
		return fmt.Errorf("%s %s: %v", req.method, req.path, err)
	}
	u.Path = p
	u.RawQuery = query
	target := u.String()

	var last attemptResult
	for attempt := 1; ; attempt++ {
		last = c.attempt(ctx, target, req)
		last.attempts = attempt
		if last.err == nil {
			return nil
		}
		if !last.retry || attempt > c.retries {
			break
		}
		if sleepCtx(ctx, c.backoffFor(attempt)) != nil {
			break
		}
	}
	return last.final(ctx, req.method, u.Redacted())
}

// attemptResult is the outcome of one HTTP exchange.
type attemptResult struct {
	err         error
	retry       bool // the failure may be transient
	unreachable bool // err is a transport failure: the node did not answer
	tls         bool // err is a failed TLS handshake with a node that answered
	attempts    int
}

// final turns the last attempt's failure into the error the caller sees.
func (r attemptResult) final(ctx context.Context, method, target string) error {
	var apiErr *APIError
	if errors.As(r.err, &apiErr) {
		return r.err
	}
	tries := ""
	if r.attempts > 1 {
		tries = fmt.Sprintf(" (%d attempts)", r.attempts)
	}
	ctxErr := ctx.Err()
	switch {
	case errors.Is(ctxErr, context.Canceled):
		return fmt.Errorf("%s %s: %w", method, target, ctxErr)
	case ctxErr != nil && r.unreachable && errors.Is(r.err, ctxErr):
		return fmt.Errorf("%s %s: %w: %w%s", method, target, ErrUnreachable, ctxErr, tries)
	case ctxErr != nil && r.unreachable:
		return fmt.Errorf("%s %s: %w: %v%s: %w", method, target, ErrUnreachable, r.err, tries, ctxErr)
	case ctxErr != nil:
		return fmt.Errorf("%s %s: %v: %w", method, target, r.err, ctxErr)
	case r.unreachable:
		return fmt.Errorf("%s %s: %w: %v%s", method, target, ErrUnreachable, r.err, tries)
	case r.tls:
		return fmt.Errorf("%s %s: %w: %v", method, target, ErrTLS, r.err)
	}
	return fmt.Errorf("%s %s: %v", method, target, r.err)
}

func (c *Client) attempt(ctx context.Context, target string, call request) attemptResult {
	var rd io.Reader
	if call.body != nil {
		rd = bytes.NewReader(call.body)
	}
	req, err := http.NewRequestWithContext(ctx, call.method, target, rd)
	if err != nil {
		return attemptResult{err: err}
	}
	req.Header.Set("Accept", call.accept)
	if call.body != nil {
		req.Header.Set("Content-Type", call.contentType)
	}
	if call.key != "" {
		req.Header.Set("Idempotency-Key", call.key)
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return transportFailure(err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, MaxResponseBytes+1))
	if err != nil {
		return transportFailure(err)
	}
	if len(data) > MaxResponseBytes {
		return attemptResult{err: fmt.Errorf("response body exceeds %d bytes", MaxResponseBytes)}
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return attemptResult{
			err:   decodeAPIError(resp.StatusCode, resp.Header, data),
			retry: resp.StatusCode == http.StatusServiceUnavailable,
		}
	}
	if err := call.decode(data); err != nil {
		return attemptResult{err: fmt.Errorf("decode response: %v", err)}
	}
	return attemptResult{}
}

// transportFailure classifies an error from sending a request or reading its response. Every
// such failure means the node did not (completely) answer, and is worth retrying, except a name
// that does not exist and a failed TLS handshake. The latter is a configuration problem that
// retrying cannot fix, with a node that was reached: its certificate is not trusted here, ours
// is missing or not trusted there (the node's TLS alert), or one side speaks no TLS at all.
func transportFailure(err error) attemptResult {
	var urlErr *url.Error
	if errors.As(err, &urlErr) {
		err = urlErr.Err // its message repeats the method and URL
	}
	var certErr *tls.CertificateVerificationError
	var recErr tls.RecordHeaderError
	var opErr *net.OpError
	if errors.As(err, &opErr) && opErr.Op == "remote error" {
		// crypto/tls reports an alert from the peer, such as "certificate required", as an
		// OpError whose Op is "remote error" (its alert type is unexported). The error around
		// it may name net/http's internals.
		return attemptResult{err: opErr, tls: true}
	}
	if errors.As(err, &certErr) || errors.As(err, &recErr) ||
		// net/http turns the RecordHeaderError of a plain HTTP answer into a string.
		strings.Contains(err.Error(), "server gave HTTP response to HTTPS client") {
		return attemptResult{err: err, tls: true}
	}
	var dnsErr *net.DNSError
	if errors.As(err, &dnsErr) && dnsErr.IsNotFound {
		return attemptResult{err: err, unreachable: true}
	}
	return attemptResult{err: err, retry: true, unreachable: true}
}

// decodeAPIError builds the error for a non-2xx response from its body, falling back to the
// status when the body is not an [ErrorBody] (a proxy's HTML page, say), and from its
// Retry-After header.
func decodeAPIError(status int, h http.Header, data []byte) *APIError {
	e := &APIError{StatusCode: status, RetryAfter: retryAfter(h.Get("Retry-After"), time.Now())}
	var eb api.ErrorBody
	if err := json.Unmarshal(data, &eb); err == nil && eb.Error.Code != "" {
		e.Code, e.Message = eb.Error.Code, eb.Error.Message
		return e
	}
	if status == http.StatusBadRequest && bytes.HasPrefix(data, []byte("Client sent an HTTP request to an HTTPS server")) {
		// The node answers a plain HTTP request on its HTTPS port so, before any handler runs.
		e.Code, e.Message = api.CodeInvalidArgument, "the node serves HTTPS: use an https:// URL"
		return e
	}
	e.Code, e.Message = codeForStatus(status), strings.ToLower(http.StatusText(status))
	return e
}

// maxRetryAfter caps the wait a Retry-After header may ask for, so that a wrong clock or a
// hostile answer cannot park a caller for days.
const maxRetryAfter = time.Hour

// retryAfter parses a Retry-After value (RFC 9110 section 10.2.3: a number of seconds, or an
// HTTP date) into a wait from now; 0 for none, a date in the past, or a value it cannot read.
func retryAfter(v string, now time.Time) time.Duration {
	if v == "" {
		return 0
	}
	if secs, err := strconv.ParseUint(v, 10, 32); err == nil {
		return min(time.Duration(secs)*time.Second, maxRetryAfter)
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return min(t.Sub(now), maxRetryAfter)
	}
	return 0
}

func codeForStatus(status int) api.ErrorCode {
	switch status {
	case http.StatusBadRequest:
		return api.CodeInvalidArgument
	case http.StatusUnauthorized:
		return api.CodeUnauthorized
	case http.StatusNotFound:
		return api.CodeNotFound
	case http.StatusMethodNotAllowed:
		return api.CodeMethodNotAllowed
	case http.StatusRequestEntityTooLarge:
		return api.CodeTooLarge
	case http.StatusUnsupportedMediaType:
		return api.CodeUnsupportedMedia
	case http.StatusUnprocessableEntity:
		return api.CodeIdempotencyKeyReused
	case http.StatusServiceUnavailable:
		return api.CodeUnavailable
	}
	if status >= 500 {
		return api.CodeInternal
	}
	return api.ErrorCode(fmt.Sprintf("http_%d", status))
}

// backoffFor returns the wait before the given retry (1-based): exponential, capped, with
// "equal jitter" (half fixed, half random) so that clients spread out but never retry at once.
func (c *Client) backoffFor(retry int) time.Duration {
	d := c.backoff
	for i := 1; i < retry && d < maxBackoff; i++ {
		d *= 2
	}
	d = min(d, maxBackoff)
	half := d / 2
	return half + mathrand.N(half+1)
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
