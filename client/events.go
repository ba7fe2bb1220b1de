package client

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"time"

	"github.com/crdtd/crdtd/api"
)

const (
	// maxEventBytes bounds one line of an event stream, and the data of one event. A view is one
	// line of JSON, and the largest cart's view is about 1 MiB.
	maxEventBytes = MaxResponseBytes
	// watchIdleTimeout is how long a stream may bring nothing, not even a keep-alive comment,
	// before Watch takes it as broken and reopens it: three keep-alive intervals of a node with
	// the default (15 s).
	watchIdleTimeout = 45 * time.Second
	// eventCart is the event type of a cart view.
	eventCart = "cart"
)

// errStreamSilent ends a stream that brought nothing for watchIdleTimeout.
var errStreamSilent = fmt.Errorf("event stream silent for %v", watchIdleTimeout)

// Watch calls fn with the view of cart when the watch starts, and again each time the cart
// changes on the node: a write there, a device's sync, or a change merged from another node. It
// reads the node's event stream, GET /v1/carts/{cart}/events. The node sends at most one view per
// 50 ms, always the latest, so fn may miss intermediate views but always gets the last one. fn
// runs on Watch's goroutine, one view at a time; views that arrive meanwhile wait, and the node
// folds them into the latest.
//
// Opening the stream is tried like any call: up to 1+Retries attempts, then an error that wraps
// [ErrUnreachable], or the node's [*APIError]. Once the stream has brought a view, Watch outlives
// breaks: when the stream ends (the node restarts, the connection drops) it reopens it with
// backoff for as long as ctx lasts, and goes on with the view the node has then; fn is not called
// again with the view it got last. A stream that brings nothing for 45 s, not even the node's
// keep-alive comments, counts as broken. Config.HTTPClient's Timeout does not apply to the
// stream, which has no end to wait for.
//
// Watch returns when ctx ends (an error wrapping ctx.Err()), when fn returns an error (that
// error, as it is), or when the node refuses the stream for a reason retrying cannot fix (an
// [*APIError], such as a wrong token).
func (c *Client) Watch(ctx context.Context, cart string, fn func(api.CartView) error) error {
	if err := validateID("cart", cart); err != nil {
		return err
	}
	u := *c.base
	u.Path = c.base.Path + "/v1/carts/" + cart + "/events"
	u.RawPath = c.base.EscapedPath() + "/v1/carts/" + pathSegment(cart) + "/events"
	hc := *c.hc
	hc.Timeout = 0
	w := &watcher{hc: &hc, target: u.String(), token: c.token, fn: fn}

	viewed := false // a stream has brought a view: reopen for as long as ctx lasts
	for attempt := 1; ; attempt++ {
		res, delivered := w.stream(ctx)
		if w.fnErr != nil {
			return w.fnErr
		}
		if delivered {
			viewed, attempt = true, 1
		}
		res.attempts = attempt
		if ctx.Err() != nil || !res.retry || (!viewed && attempt > c.retries) {
			return res.final(ctx, http.MethodGet, u.Redacted())
		}
		if sleepCtx(ctx, c.backoffFor(attempt)) != nil {
			return res.final(ctx, http.MethodGet, u.Redacted())
		}
	}
}

// watcher is the state of one Watch across its streams.
type watcher struct {
	hc     *http.Client // without a Timeout
	target string
	token  string
	fn     func(api.CartView) error
	last   []byte // the data of the view fn got last
	fnErr  error  // fn's error, which ends the watch
}

// errStop stops reading a stream when fn has failed.
var errStop = errors.New("stop")

// stream opens the event stream once and hands its views to fn until it ends. delivered reports
// whether it brought at least one view.
func (w *watcher) stream(ctx context.Context) (res attemptResult, delivered bool) {
	sctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	idle := time.AfterFunc(watchIdleTimeout, func() { cancel(errStreamSilent) })
	defer idle.Stop()
	// A transport error says "context canceled" when the idle timer fired: say why.
	failure := func(err error) attemptResult {
		if ctx.Err() == nil && errors.Is(context.Cause(sctx), errStreamSilent) {
			err = errStreamSilent
		}
		return transportFailure(err)
	}

	req, err := http.NewRequestWithContext(sctx, http.MethodGet, w.target, nil)
	if err != nil {
		return attemptResult{err: err}, false
	}
	req.Header.Set("Accept", "text/event-stream")
	req.Header.Set("Cache-Control", "no-cache")
	if w.token != "" {
		req.Header.Set("Authorization", "Bearer "+w.token)
	}
	resp, err := w.hc.Do(req)
	if err != nil {
		return failure(err), false
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		data, err := io.ReadAll(io.LimitReader(resp.Body, MaxResponseBytes))
		if err != nil {
			return failure(err), false
		}
		return attemptResult{err: decodeAPIError(resp.StatusCode, resp.Header, data), retry: resp.StatusCode == http.StatusServiceUnavailable}, false
	}
	if mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type")); mt != "text/event-stream" {
		return attemptResult{err: fmt.Errorf("answer is %q, not an event stream", resp.Header.Get("Content-Type"))}, false
	}

	body := &idleReader{r: resp.Body, idle: idle}
	err = readEvents(body, func(typ string, data []byte) error {
		if typ != eventCart {
			return nil // a kind of event this client does not know
		}
		delivered = true
		if bytes.Equal(data, w.last) {
			return nil
		}
		var v api.CartView
		if err := json.Unmarshal(data, &v); err != nil {
			return fmt.Errorf("%w: cart event: %v", errMalformed, err)
		}
		if v.Items == nil {
			v.Items = []api.Line{}
		}
		if err := w.fn(v); err != nil {
			w.fnErr = err
			return errStop
		}
		w.last = bytes.Clone(data)
		return nil
	})
	switch {
	case err == nil:
		// The node ended the stream (it is shutting down): open it again.
		return attemptResult{err: errors.New("the node ended the event stream"), retry: true, unreachable: true}, delivered
	case errors.Is(err, errStop):
		return attemptResult{}, delivered
	case errors.Is(err, errMalformed):
		return attemptResult{err: err}, delivered
	}
	return failure(err), delivered
}

// idleReader restarts the idle timer whenever bytes arrive.
type idleReader struct {
	r    io.Reader
	idle *time.Timer
}

func (r *idleReader) Read(p []byte) (int, error) {
	n, err := r.r.Read(p)
	if n > 0 {
		r.idle.Reset(watchIdleTimeout)
	}
	return n, err
}

// errMalformed marks a stream that breaks the event stream format or its limits: reopening it
// would not help.
var errMalformed = errors.New("malformed event stream")

// readEvents reads a Server-Sent Events stream and calls dispatch with the type and data of each
// complete event, until the stream ends (nil), a read fails, or dispatch fails (its error). It
// follows the WHATWG format: lines end in LF or CRLF; a line starting with a colon is a comment;
// "field: value" with one optional space after the colon; data lines join with LF; a blank line
// ends an event, whose type defaults to "message"; an event without data is not dispatched; an
// event cut off by the end of the stream is dropped. id and retry fields are read and ignored.
// A line, or the data of an event, longer than maxEventBytes is an error.
func readEvents(r io.Reader, dispatch func(typ string, data []byte) error) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 4096), maxEventBytes)
	var (
		typ  string
		data []byte
		has  bool // a data field was seen
	)
	for sc.Scan() {
		line := sc.Bytes()
		if len(line) == 0 {
			if has {
				if typ == "" {
					typ = "message"
				}
				if err := dispatch(typ, data); err != nil {
					return err
				}
			}
			typ, data, has = "", data[:0], false
			continue
		}
		if line[0] == ':' {
			continue
		}
		field, value, _ := bytes.Cut(line, []byte(":"))
		value = bytes.TrimPrefix(value, []byte(" "))
		switch string(field) {
		case "event":
			typ = string(value)
		case "data":
			if has {
				data = append(data, '\n')
			}
			if len(data)+len(value) > maxEventBytes {
				return fmt.Errorf("%w: event data over %d bytes", errMalformed, maxEventBytes)
			}
			data, has = append(data, value...), true
		}
	}
	if err := sc.Err(); err != nil {
		if errors.Is(err, bufio.ErrTooLong) {
			return fmt.Errorf("%w: a line over %d bytes", errMalformed, maxEventBytes)
		}
		return err
	}
	return nil
}
