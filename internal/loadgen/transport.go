package loadgen

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"sync"
	"syscall"
	"time"
)

// transport is the http.RoundTripper of the load generator for plain-HTTP nodes: HTTP/1.1 over
// kept-alive connections, each request written and its answer read in the calling goroutine.
// net/http's Transport hands every request to two goroutines per connection and back; on a
// 2-core machine shared with the node under test that cost a third of the load generator's CPU
// (129 µs per operation, against 85 µs with this transport), CPU the node then did not get.
// HTTPS requests go to the fallback transport.
//
// A connection goes back to the idle pool only when its answer was read to the end and neither
// side asked to close it; any error closes it. A request sent on a reused connection that fails
// before an answer arrives (the node closed the idle connection meanwhile) is sent once more on
// a new connection if repeating it is safe: a GET, HEAD or DELETE, or a request with an
// Idempotency-Key (as package client's mutations carry), whose body can be produced again.
type transport struct {
	fallback    http.RoundTripper
	maxIdleHost int // idle connections kept per host:port

	mu   sync.Mutex
	idle map[string][]*conn // by host:port
}

// conn is one kept-alive connection with its buffers.
type conn struct {
	nc net.Conn
	br *bufio.Reader
	bw *bufio.Writer
}

func newTransport(fallback http.RoundTripper, maxIdleHost int) *transport {
	return &transport{fallback: fallback, maxIdleHost: maxIdleHost, idle: make(map[string][]*conn)}
}

// RoundTrip implements http.RoundTripper.
func (t *transport) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.URL.Scheme != "http" {
		return t.fallback.RoundTrip(req)
	}
	host := req.URL.Host
	if req.URL.Port() == "" {
		host = net.JoinHostPort(req.URL.Hostname(), "80")
	}
	if c := t.take(host); c != nil {
		resp, err := t.send(c, host, req)
		if err == nil || !replayable(req, err) {
			return resp, err
		}
		again := *req // RoundTrip must not change the caller's request
		if req.GetBody != nil {
			if again.Body, err = req.GetBody(); err != nil {
				return nil, err
			}
		}
		req = &again
	}
	c, err := t.dial(req.Context(), host)
	if err != nil {
		closeBody(req)
		return nil, err
	}
	return t.send(c, host, req)
}

// replayable reports whether req, which failed on a reused connection with err, may be sent
// again on a new one: the node closed the connection before answering, repeating the request
// is safe, and its body, if any, can be produced again.
func replayable(req *http.Request, err error) bool {
	switch {
	case req.Body != nil && req.Body != http.NoBody && req.GetBody == nil:
		return false
	case req.Context().Err() != nil:
		return false
	case req.Header.Get("Idempotency-Key") == "" &&
		req.Method != http.MethodGet && req.Method != http.MethodHead && req.Method != http.MethodDelete:
		return false
	}
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE)
}

func closeBody(req *http.Request) {
	if req.Body != nil {
		req.Body.Close()
	}
}

func (t *transport) dial(ctx context.Context, host string) (*conn, error) {
	var d net.Dialer
	nc, err := d.DialContext(ctx, "tcp", host)
	if err != nil {
		return nil, err
	}
	return &conn{nc: nc, br: bufio.NewReader(nc), bw: bufio.NewWriter(nc)}, nil
}

// send writes req on c and reads the answer's header. The context's deadline and cancellation
// reach the connection as a deadline in the past.
func (t *transport) send(c *conn, host string, req *http.Request) (*http.Response, error) {
	ctx := req.Context()
	deadline, _ := ctx.Deadline() // zero: none
	if err := c.nc.SetDeadline(deadline); err != nil {
		c.nc.Close()
		closeBody(req)
		return nil, err
	}
	stop := context.AfterFunc(ctx, func() { c.nc.SetDeadline(time.Unix(1, 0)) })
	err := req.Write(c.bw)
	if err == nil {
		err = c.bw.Flush()
	}
	var resp *http.Response
	if err == nil {
		resp, err = http.ReadResponse(c.br, req)
	}
	if err != nil {
		stop()
		c.nc.Close()
		return nil, contextError(ctx, deadline, err)
	}
	resp.Body = &connBody{ReadCloser: resp.Body, t: t, c: c, host: host, ctx: ctx, deadline: deadline,
		stop: stop, keep: !resp.Close && !req.Close}
	return resp, nil
}

// contextError returns the context's error for an I/O error caused by the context ending: its
// cancellation, or its deadline, which the socket's deadline may reach a moment before the
// context's own timer does. Other errors come back unchanged.
func contextError(ctx context.Context, deadline time.Time, err error) error {
	if ctxErr := ctx.Err(); ctxErr != nil {
		return ctxErr
	}
	if errors.Is(err, os.ErrDeadlineExceeded) && !deadline.IsZero() && !time.Now().Before(deadline) {
		return context.DeadlineExceeded
	}
	return err
}

// take returns an idle connection to host, or nil.
func (t *transport) take(host string) *conn {
	t.mu.Lock()
	defer t.mu.Unlock()
	cs := t.idle[host]
	if len(cs) == 0 {
		return nil
	}
	c := cs[len(cs)-1]
	t.idle[host] = cs[:len(cs)-1]
	return c
}

// put keeps c for the next request to host, or closes it if the pool is full.
func (t *transport) put(host string, c *conn) {
	t.mu.Lock()
	if len(t.idle[host]) < t.maxIdleHost {
		t.idle[host] = append(t.idle[host], c)
		c = nil
	}
	t.mu.Unlock()
	if c != nil {
		c.nc.Close()
	}
}

// CloseIdleConnections closes the pooled connections, and those of the fallback transport.
func (t *transport) CloseIdleConnections() {
	t.mu.Lock()
	idle := t.idle
	t.idle = make(map[string][]*conn)
	t.mu.Unlock()
	for _, cs := range idle {
		for _, c := range cs {
			c.nc.Close()
		}
	}
	if ci, ok := t.fallback.(interface{ CloseIdleConnections() }); ok {
		ci.CloseIdleConnections()
	}
}

// connBody is an answer's body. Read to its end, it returns the connection to the pool;
// closed before, it closes the connection.
type connBody struct {
	io.ReadCloser
	t        *transport
	c        *conn
	host     string
	ctx      context.Context
	deadline time.Time   // the context's, zero if none
	stop     func() bool // ends the context's hold on the connection
	keep     bool        // the connection may be reused once the body is read
	done     bool        // the connection was handed back or closed
}

func (b *connBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if err != nil && err != io.EOF {
		err = contextError(b.ctx, b.deadline, err)
	}
	if err == io.EOF && !b.done {
		b.done = true
		if b.stop() && b.keep {
			b.t.put(b.host, b.c)
		} else {
			b.c.nc.Close()
		}
	}
	return n, err
}

func (b *connBody) Close() error {
	if !b.done {
		b.done = true
		b.stop()
		b.c.nc.Close()
	}
	return nil
}
