package h1

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
)

// maxDrainBytes is how much of a request body its handler left unread is
// read and dropped to keep the connection; past it, the connection closes.
const maxDrainBytes = 256 << 10

// conn is one client connection, served by one goroutine.
type conn struct {
	srv      *Server
	rwc      net.Conn
	sock     io.ReadWriter    // rwc's requests are read and answers written here (newSocketIO)
	lr       io.LimitedReader // under br: bounds the bytes of a request's header
	br       *bufio.Reader
	head     headReader // reads request heads from br
	remote   string
	tlsState *tls.ConnectionState

	reqBody requestBody // the body of the request being served, if it has one

	out    []byte      // the answer being written: head, then buffered body
	body   []byte      // a buffered answer's body, kept between requests
	header http.Header // the handler's header map, cleared between requests

	// unread: the client may still be sending what the server did not
	// read, so the connection lingers before it closes.
	unread bool
	state  atomic.Int32 // connIdle, connActive or connClosed
	// accepted and served tell Shutdown whether a connection may still
	// be about to send its first request.
	accepted time.Time
	served   atomic.Bool
	// ctx is the context of the connection's requests: it ends when the
	// connection closes, when the server closes, and when a streaming
	// answer's client goes away (the connection then closes after it).
	// One per connection rather than one per request: a request's own
	// context would cost an allocation and a lock in its parent at every
	// request, and nothing a request starts outlives its handler.
	ctx    context.Context
	cancel context.CancelFunc

	// rdl and wdl are the read and write deadlines last set (see
	// setReadDeadline). answered is when the last answer's head was
	// made, or when the connection was accepted: the idle timeout counts
	// from it.
	rdl, wdl time.Time
	answered time.Time
}

// deadlineSlack is how much earlier than asked a deadline left in place
// may come, as a share of its timeout: an eighth.
func deadlineSlack(d time.Duration) time.Duration { return d / 8 }

// setReadDeadline sets the connection's read deadline to t, unless the
// one set already comes before t by at most slack. Moving a deadline
// updates the runtime's timers; requests on a kept-alive connection would
// otherwise move both deadlines at every request, by microseconds.
func (c *conn) setReadDeadline(t time.Time, slack time.Duration) {
	if keepDeadline(c.rdl, t, slack) {
		return
	}
	c.rdl = t
	c.rwc.SetReadDeadline(t)
}

// setWriteDeadline is setReadDeadline for the write deadline.
func (c *conn) setWriteDeadline(t time.Time, slack time.Duration) {
	if keepDeadline(c.wdl, t, slack) {
		return
	}
	c.wdl = t
	c.rwc.SetWriteDeadline(t)
}

// keepDeadline reports whether the deadline cur may stay where t is
// asked: both none, or cur at most slack before t.
func keepDeadline(cur, t time.Time, slack time.Duration) bool {
	if cur.IsZero() || t.IsZero() {
		return cur.IsZero() && t.IsZero()
	}
	return !cur.After(t) && t.Sub(cur) <= slack
}

func newConn(s *Server, c net.Conn) *conn {
	cn := &conn{srv: s, rwc: c, remote: c.RemoteAddr().String(), header: make(http.Header), accepted: time.Now()}
	cn.answered = cn.accepted
	cn.ctx, cn.cancel = context.WithCancel(s.ctx)
	cn.sock = newSocketIO(c)
	cn.lr.R = cn.sock
	cn.br = bufio.NewReaderSize(&cn.lr, 4<<10)
	cn.head.br = cn.br
	return cn
}

// serve reads and answers requests until the connection closes.
func (c *conn) serve() {
	s := c.srv
	defer func() {
		if c.unread {
			c.lingerClose()
		}
		c.rwc.Close()
		c.cancel()
		s.forget(c)
		if s.ConnState != nil {
			s.ConnState(c.rwc, http.StateClosed)
		}
	}()
	var err error
	if c.tlsState, err = s.tlsHandshake(c.rwc); err != nil {
		if s.Logger != nil && !errors.Is(err, io.EOF) {
			s.Logger.Warn("TLS handshake failed", "remote", c.remote, "err", err)
		}
		return
	}
	for {
		req, err := c.readRequest()
		if err != nil {
			if c.refuse(err) {
				c.unread = true
			}
			return
		}
		if !c.begin() {
			return
		}
		if s.ConnState != nil {
			s.ConnState(c.rwc, http.StateActive)
		}
		keep := c.serveRequest(req)
		c.served.Store(true)
		c.end()
		if !keep || s.inShutdown.Load() {
			return
		}
		if s.ConnState != nil {
			s.ConnState(c.rwc, http.StateIdle)
		}
		if c.br.Buffered() == 0 {
			// Let other connections run before reading the next
			// request: a busy client has usually sent it by then, and
			// a read that finds nothing yet costs a system call and a
			// park in the poller before the read that gets it (1.9
			// reads per request at 64 connections; 1.6 with this).
			runtime.Gosched()
		}
	}
}

// requestError is a request the server answers itself, with code, and
// then closes the connection.
type requestError struct {
	code int
	msg  string
}

func (e *requestError) Error() string { return e.msg }

// errQuiet ends a connection without an answer: the client closed it, or
// sent nothing in time.
var errQuiet = errors.New("h1: connection ended")

// readRequest reads the next request's header, within the idle timeout
// for its first byte and the header timeout for the rest. The request's
// context is the connection's.
func (c *conn) readRequest() (*http.Request, error) {
	s := c.srv
	c.lr.N = int64(s.maxHeaderBytes()) + 4<<10 // room for what bufio reads past the header
	if c.br.Buffered() == 0 {
		if d := s.idleTimeout(); d > 0 {
			c.setReadDeadline(c.answered.Add(d), deadlineSlack(d))
		} else if s.headerTimeout() > 0 {
			c.setReadDeadline(time.Time{}, 0) // the last header's deadline
		}
		if _, err := c.br.Peek(1); err != nil {
			return nil, errQuiet
		}
	}
	// Line breaks before a request line are tolerated (RFC 9112, 2.2):
	// some clients send one after a POST body.
	for {
		b, err := c.br.Peek(1)
		if err != nil {
			return nil, errQuiet
		}
		if b[0] != '\r' && b[0] != '\n' {
			break
		}
		c.br.Discard(1)
	}
	start := time.Now()
	// A deadline costs a timer's update; one for reading what is
	// already read bounds nothing, and a small request usually arrives
	// whole in one read.
	buffered := c.headBuffered()
	if d := s.headerTimeout(); d > 0 && !buffered {
		c.setReadDeadline(start.Add(d), 0)
	}
	req, err := c.head.readRequest(c.ctx)
	if err != nil {
		return nil, c.headError(err)
	}
	end := start // of the head: when it came whole, it came at start
	if !buffered {
		end = time.Now()
	}
	c.lr.N = math.MaxInt64
	if err := validate(req); err != nil {
		return nil, err
	}
	switch {
	case req.ContentLength >= 0 && int64(c.br.Buffered()) >= req.ContentLength:
		// The body is read already: no deadline bounds it.
	case s.ReadTimeout > 0 && req.ContentLength != 0:
		c.setReadDeadline(start.Add(s.ReadTimeout), 0)
	case s.ReadTimeout == 0 && s.headerTimeout() > 0:
		c.setReadDeadline(time.Time{}, 0) // the body has no bound but the handler's
	}
	if d := s.WriteTimeout; d > 0 {
		c.setWriteDeadline(end.Add(d), deadlineSlack(d))
	}
	req.RemoteAddr = c.remote
	req.TLS = c.tlsState
	return req, nil
}

// headBuffered reports whether the next request's head is read whole:
// the buffer holds the empty line that ends it.
func (c *conn) headBuffered() bool {
	b, _ := c.br.Peek(c.br.Buffered())
	return bytes.Contains(b, []byte("\n\r\n")) || bytes.Contains(b, []byte("\n\n"))
}

// headError is what the server makes of an error reading a head: 431
// when the head ran past its bound, the answer the head's reader chose,
// or, when the connection failed or ended, none.
func (c *conn) headError(err error) error {
	var re *requestError
	switch {
	case c.lr.N <= 0:
		return &requestError{http.StatusRequestHeaderFieldsTooLarge, "request header too large"}
	case errors.As(err, &re):
		return err
	}
	return errQuiet
}

// validate checks what reading the head leaves to the server: the host
// and the expectation. (The version, the header's names and values and
// the framing are checked as the head is read.)
func validate(req *http.Request) error {
	// The head's reader refuses two Host headers and moves the one to
	// req.Host, unless the target is an absolute URL: then its host is
	// req.Host and the header is dropped, as RFC 9112 (3.2.2) asks.
	if req.Host == "" && req.ProtoAtLeast(1, 1) {
		return &requestError{http.StatusBadRequest, "missing required Host header"}
	}
	if !validHost(req.Host) {
		return &requestError{http.StatusBadRequest, "malformed Host header"}
	}
	if e := req.Header.Get("Expect"); e != "" && !equalFoldASCII(e, "100-continue") {
		return &requestError{http.StatusExpectationFailed, "unsupported expectation"}
	}
	return nil
}

// refuse answers a request the server would not serve, if err says how,
// before the connection closes, and reports whether it did.
func (c *conn) refuse(err error) bool {
	var re *requestError
	if !errors.As(err, &re) {
		return false
	}
	msg := strconv.Itoa(re.code) + " " + http.StatusText(re.code) + ": " + printable(re.msg, 200) + "\n"
	c.setWriteDeadline(time.Now().Add(time.Second), 0)
	fmt.Fprintf(c.rwc, "HTTP/1.1 %d %s\r\nContent-Type: text/plain; charset=utf-8\r\nX-Content-Type-Options: nosniff\r\nConnection: close\r\nContent-Length: %d\r\n\r\n%s",
		re.code, http.StatusText(re.code), len(msg), msg)
	return true
}

// Lingering bounds: how long and how much a closing connection reads and
// drops of what its client still sends.
const (
	lingerTimeout = 500 * time.Millisecond
	lingerBytes   = 8 << 20
)

// lingerClose prepares to close a connection whose client may still be
// sending a request the server did not read (a body too long to read
// past, a header too large). Closing with unread bytes makes the kernel
// reset the connection, and a client still writing may then lose the
// answer sent before it. So the server shuts its side for writing and
// reads and drops what comes, until the client closes too or a bound is
// reached.
func (c *conn) lingerClose() {
	if cw, ok := c.rwc.(interface{ CloseWrite() error }); ok {
		cw.CloseWrite()
	}
	c.setReadDeadline(time.Now().Add(lingerTimeout), 0)
	io.CopyN(io.Discard, c.rwc, lingerBytes)
}

// printable cuts s to at most n bytes and replaces what is not printable
// ASCII, so that a client's bytes echoed in an error stay one plain line.
func printable(s string, n int) string {
	if len(s) > n {
		s = s[:n]
	}
	return strings.Map(func(r rune) rune {
		if r < ' ' || r > '~' {
			return '?'
		}
		return r
	}, s)
}

// serveRequest runs the handler for req and finishes its answer. It
// reports whether the connection may serve another request.
func (c *conn) serveRequest(req *http.Request) (keep bool) {
	s := c.srv
	w := c.newResponse(req)
	defer func() {
		if p := recover(); p != nil {
			keep = false
			if p != http.ErrAbortHandler && s.Logger != nil {
				buf := make([]byte, 16<<10)
				buf = buf[:runtime.Stack(buf, false)]
				s.Logger.Error("panic serving a request", "remote", c.remote, "method", req.Method, "path", req.URL.Path,
					"panic", fmt.Sprint(p), "stack", string(buf))
			}
		}
	}()
	s.Handler.ServeHTTP(w, req)
	return w.finish()
}
