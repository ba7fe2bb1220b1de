package h1

import (
	"net"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// countingListener hands out connections that count their deadline moves.
type countingListener struct {
	net.Listener
	reads, writes atomic.Int64
}

func (l *countingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &countingConn{Conn: c, l: l}, nil
}

type countingConn struct {
	net.Conn
	l *countingListener
}

func (c *countingConn) SetReadDeadline(t time.Time) error {
	c.l.reads.Add(1)
	return c.Conn.SetReadDeadline(t)
}

func (c *countingConn) SetWriteDeadline(t time.Time) error {
	c.l.writes.Add(1)
	return c.Conn.SetWriteDeadline(t)
}

// TestKeptAliveRequestsLeaveDeadlinesInPlace: a client sending request
// after request on one connection, each arriving whole, moves the
// connection's idle and write deadlines only once each (they would move
// by microseconds at every request), and every request is still answered.
func TestKeptAliveRequestsLeaveDeadlinesInPlace(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	cl := &countingListener{Listener: ln}
	s := &Server{Handler: echoPath, IdleTimeout: time.Minute, WriteTimeout: time.Minute, ReadTimeout: time.Minute}
	served := make(chan error, 1)
	go func() { served <- s.Serve(cl) }()
	t.Cleanup(func() {
		s.Close()
		require.ErrorIs(t, <-served, http.ErrServerClosed)
	})
	c := dialRaw(t, ln.Addr().String())
	const n = 50
	for range n {
		c.send("GET /a HTTP/1.1\r\nHost: x\r\n\r\n")
		_, body := c.answer("GET")
		require.Equal(t, "GET /a", body)
	}
	require.LessOrEqual(t, cl.reads.Load(), int64(2), "read deadline moves over %d requests", n)
	require.LessOrEqual(t, cl.writes.Load(), int64(2), "write deadline moves over %d requests", n)
}

// TestKeepDeadline: a deadline stays when it comes at most slack before
// the one asked, and moves when it is later, too early, or one side is
// none.
func TestKeepDeadline(t *testing.T) {
	at := time.Unix(1_800_000_000, 0)
	for _, tc := range []struct {
		cur, want time.Time
		keep      bool
	}{
		{time.Time{}, time.Time{}, true},
		{time.Time{}, at, false},
		{at, time.Time{}, false},
		{at, at, true},
		{at, at.Add(time.Second), true},
		{at, at.Add(time.Second + 1), false},
		{at.Add(1), at, false}, // later than asked: never kept
	} {
		require.Equal(t, tc.keep, keepDeadline(tc.cur, tc.want, time.Second), "cur %v, want %v", tc.cur, tc.want)
	}
}
