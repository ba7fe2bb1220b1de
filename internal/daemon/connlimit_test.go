package daemon

import (
	"net"
	"net/http"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"
)

// closeCounter is a connection that counts its closes.
type closeCounter struct {
	net.Conn
	closed atomic.Int32
}

func (c *closeCounter) Close() error { c.closed.Add(1); return nil }

// TestEvictQuietTakesTheLongestQuietOnly: at the cap, the limiter closes
// the connection quiet the longest, never one with a request in progress,
// and nothing when every connection is busy.
func TestEvictQuietTakesTheLongestQuietOnly(t *testing.T) {
	l := newConnLimiter(nil, 4)
	busy, older, newer := &closeCounter{}, &closeCounter{}, &closeCounter{}
	for _, c := range []*closeCounter{busy, older, newer} {
		l.slots <- struct{}{}
		l.connState(c, http.StateNew)
	}
	l.connState(busy, http.StateActive) // the oldest, but serving a request
	l.connState(newer, http.StateActive)
	l.connState(newer, http.StateIdle) // quiet again, since after older

	l.evictQuiet()
	require.Equal(t, int32(1), older.closed.Load(), "the longest-quiet connection")
	require.Zero(t, busy.closed.Load()+newer.closed.Load())
	l.connState(older, http.StateClosed)

	l.connState(newer, http.StateActive)
	l.evictQuiet() // every connection busy
	require.Zero(t, busy.closed.Load()+newer.closed.Load(), "a busy connection was closed")
	require.Equal(t, 2, l.open())

	l.connState(newer, http.StateIdle) // quiet after its request: evictable again
	l.evictQuiet()
	require.Equal(t, int32(1), newer.closed.Load(), "a connection quiet after a request")
	require.Zero(t, busy.closed.Load())
}
