package h1

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// Server serves HTTP/1.1 to a Handler. Set its fields before Serve; do
// not change them after.
//
// A handler keeps nothing of its request after it returns, nor lets a
// goroutine it started use it: the *http.Request, its URL, Header (and
// the slices of values in it) and Body are its connection's, filled again
// for the connection's next request. Strings taken from them stay valid.
type Server struct {
	// Handler answers every request.
	Handler http.Handler
	// ReadHeaderTimeout bounds reading a request's header, from its first
	// byte (and a TLS handshake); zero means ReadTimeout.
	ReadHeaderTimeout time.Duration
	// ReadTimeout bounds reading a whole request, header and body, from
	// its first byte; zero means no bound.
	ReadTimeout time.Duration
	// WriteTimeout bounds the time from the end of a request's header to
	// the end of its answer; zero means no bound. A handler may move it
	// through http.ResponseController. On a kept-alive connection the
	// bound may come up to an eighth early: the deadline a previous
	// request set stays if it is that close, since moving it at every
	// request costs an update of the runtime's timers.
	WriteTimeout time.Duration
	// IdleTimeout bounds the wait for the next request on a kept-alive
	// connection, from the head of the last answer; zero means
	// ReadTimeout. Like WriteTimeout, it may come up to an eighth early.
	IdleTimeout time.Duration
	// MaxHeaderBytes bounds a request's line and header; zero means
	// http.DefaultMaxHeaderBytes.
	MaxHeaderBytes int
	// ConnState, if set, is told each connection's state changes (see the
	// package documentation). It runs on the connection's goroutine.
	ConnState func(net.Conn, http.ConnState)
	// Logger, if set, receives handler panics at Error and failed TLS
	// handshakes at Warn (not those of clients that hang up first).
	Logger *slog.Logger

	inShutdown atomic.Bool
	mu         sync.Mutex // guards the fields below
	listeners  map[*net.Listener]struct{}
	conns      map[*conn]struct{}
	ctx        context.Context // ends at Close; parent of every request's
	cancel     context.CancelFunc
}

// Serve accepts connections on l and serves each on its own goroutine
// until Shutdown or Close, then returns http.ErrServerClosed; it returns
// any other error of l.Accept that is not temporary. A *tls.Conn that l
// returns is served over TLS (l may come from tls.NewListener).
func (s *Server) Serve(l net.Listener) error {
	if !s.track(&l, true) {
		return http.ErrServerClosed
	}
	defer s.track(&l, false)
	var backoff time.Duration
	for {
		c, err := l.Accept()
		if err != nil {
			if s.inShutdown.Load() {
				return http.ErrServerClosed
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() || isTemporary(err) {
				// Out of file descriptors, or a connection reset before
				// it was accepted: wait a little and go on.
				backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
				time.Sleep(backoff)
				continue
			}
			return err
		}
		backoff = 0
		cn := s.newConn(c)
		if cn == nil {
			c.Close()
			return http.ErrServerClosed
		}
		go cn.serve()
	}
}

// isTemporary reports whether an Accept error is one to wait out rather
// than stop serving for.
func isTemporary(err error) bool {
	var t interface{ Temporary() bool }
	return errors.As(err, &t) && t.Temporary()
}

// track adds or removes a listener; adding fails once the server is shut
// down.
func (s *Server) track(l *net.Listener, add bool) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if add {
		if s.inShutdown.Load() {
			return false
		}
		if s.listeners == nil {
			s.listeners = make(map[*net.Listener]struct{})
		}
		s.listeners[l] = struct{}{}
		return true
	}
	delete(s.listeners, l)
	return true
}

// newConn registers an accepted connection, or returns nil once the
// server is shut down.
func (s *Server) newConn(c net.Conn) *conn {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.inShutdown.Load() {
		return nil
	}
	if s.conns == nil {
		s.conns = make(map[*conn]struct{})
		s.ctx, s.cancel = context.WithCancel(context.Background())
	}
	cn := newConn(s, c)
	s.conns[cn] = struct{}{}
	if s.ConnState != nil {
		s.ConnState(c, http.StateNew)
	}
	return cn
}

// forget removes a closed connection.
func (s *Server) forget(c *conn) {
	s.mu.Lock()
	delete(s.conns, c)
	s.mu.Unlock()
}

// Connection states, for Shutdown: a connection is closed only while
// idle, and a connection Shutdown closed runs no request it read
// meanwhile.
const (
	connIdle int32 = iota
	connActive
	connClosed
)

// begin marks c active for the request whose header it has just read,
// and reports whether to serve it.
func (c *conn) begin() bool { return c.state.CompareAndSwap(connIdle, connActive) }

// end marks c idle again after an answer.
func (c *conn) end() { c.state.CompareAndSwap(connActive, connIdle) }

// Shutdown stops accepting, closes idle connections, and waits until
// every answer in progress has been written and its connection closed,
// or until ctx ends: then it closes what is left and returns ctx's error.
// Requests in progress see their context end only then.
func (s *Server) Shutdown(ctx context.Context) error {
	s.inShutdown.Store(true)
	s.mu.Lock()
	for l := range s.listeners {
		(*l).Close()
	}
	s.mu.Unlock()
	wait := time.Millisecond
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		if s.closeIdle() == 0 {
			return nil
		}
		timer.Reset(wait)
		select {
		case <-ctx.Done():
			s.Close()
			return ctx.Err()
		case <-timer.C:
		}
		wait = min(2*wait, 100*time.Millisecond)
	}
}

// newConnGrace is how long Shutdown leaves a connection that has not yet
// sent its first request: its request may be on the way.
const newConnGrace = 5 * time.Second

// closeIdle closes the connections with no request in progress (those
// accepted within newConnGrace only once they have served a request) and
// returns how many connections are left.
func (s *Server) closeIdle() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	for c := range s.conns {
		if !c.served.Load() && time.Since(c.accepted) < newConnGrace {
			continue
		}
		if c.state.CompareAndSwap(connIdle, connClosed) {
			c.rwc.Close()
		}
	}
	return len(s.conns)
}

// Close stops accepting, closes every connection at once and ends every
// request's context.
func (s *Server) Close() error {
	s.inShutdown.Store(true)
	s.mu.Lock()
	defer s.mu.Unlock()
	for l := range s.listeners {
		(*l).Close()
	}
	for c := range s.conns {
		c.state.Store(connClosed)
		c.rwc.Close()
	}
	if s.cancel != nil {
		s.cancel()
	}
	return nil
}

// tlsHandshake completes c's TLS handshake, if it is a TLS connection,
// and returns its state (nil for plain TCP).
func (s *Server) tlsHandshake(c net.Conn) (*tls.ConnectionState, error) {
	tc, ok := c.(*tls.Conn)
	if !ok {
		return nil, nil
	}
	if d := s.headerTimeout(); d > 0 {
		tc.SetDeadline(time.Now().Add(d))
	}
	defer tc.SetDeadline(time.Time{}) // each request sets its own
	if err := tc.Handshake(); err != nil {
		var re tls.RecordHeaderError
		if errors.As(err, &re) && re.Conn != nil && looksLikeHTTP(re.RecordHeader[:]) {
			// A plain HTTP request on the TLS port: say so, in plain HTTP.
			io.WriteString(re.Conn, "HTTP/1.0 400 Bad Request\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"+
				"Client sent an HTTP request to an HTTPS server.\n")
			re.Conn.Close()
		}
		return nil, err
	}
	st := tc.ConnectionState()
	return &st, nil
}

// looksLikeHTTP reports whether the first bytes a client sent start an
// HTTP request line.
func looksLikeHTTP(b []byte) bool {
	for _, m := range []string{"GET ", "HEAD ", "POST ", "PUT ", "DELETE ", "OPTIONS ", "PATCH "} {
		n := min(len(b), len(m))
		if string(b[:n]) == m[:n] {
			return true
		}
	}
	return false
}

func (s *Server) headerTimeout() time.Duration {
	if s.ReadHeaderTimeout > 0 {
		return s.ReadHeaderTimeout
	}
	return s.ReadTimeout
}

func (s *Server) idleTimeout() time.Duration {
	if s.IdleTimeout > 0 {
		return s.IdleTimeout
	}
	return s.ReadTimeout
}

func (s *Server) maxHeaderBytes() int {
	if s.MaxHeaderBytes > 0 {
		return s.MaxHeaderBytes
	}
	return http.DefaultMaxHeaderBytes
}
