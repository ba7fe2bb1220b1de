package daemon

import (
	"net"
	"net/http"
	"sync"
	"sync/atomic"
)

// connLimiter caps the API's open connections. A node that accepts every
// connection runs out of file descriptors under a flood of idle ones
// (18,000 were enough), and then neither the API nor gossip can accept.
// At the cap, Accept first closes the connection that has waited longest
// without a request in progress (idle keep-alives, new connections, and
// connections still sending a request's header, which the API server
// counts as idle until the header is whole: a client trickling its header
// holds no slot the cap cannot take back), so a client with a real
// request is still served and /healthz still answers; if every connection
// is busy, Accept waits for one to close. It tracks connections through
// the API server's ConnState hook.
type connLimiter struct {
	net.Listener
	max   int
	slots chan struct{} // one token per open connection
	stop  chan struct{}

	// conns holds each open connection's entry: stored when it opens and
	// deleted when it closes, read without a lock as its requests begin
	// and end (twice per request, where a map under a mutex cost the
	// node 1.7% of its CPU).
	conns sync.Map // net.Conn -> *connEntry
	// quietCount numbers the moments connections fall quiet, in order:
	// eviction needs only which fell quiet first, and a counter is
	// cheaper than a reading of the clock at every request.
	quietCount atomic.Int64
	// closeOnce guards stop.
	closeOnce sync.Once
}

func newConnLimiter(l net.Listener, max int) *connLimiter {
	return &connLimiter{
		Listener: l,
		max:      max,
		slots:    make(chan struct{}, max),
		stop:     make(chan struct{}),
	}
}

// Accept waits for a free slot, making one by closing the longest-quiet
// connection when the cap is reached, then accepts.
func (l *connLimiter) Accept() (net.Conn, error) {
	select {
	case l.slots <- struct{}{}:
	default:
		l.evictQuiet()
		select {
		case l.slots <- struct{}{}:
		case <-l.stop:
			return nil, net.ErrClosed
		}
	}
	c, err := l.Listener.Accept()
	if err != nil {
		<-l.slots
		return nil, err
	}
	return c, nil
}

// Close stops Accept and closes the listener.
func (l *connLimiter) Close() error {
	l.closeOnce.Do(func() { close(l.stop) })
	return l.Listener.Close()
}

// connEntry is an open connection's quiet time: the limiter's quietCount
// when it last had no request in progress, or 0 while it has one.
type connEntry struct{ quietSince atomic.Int64 }

// quietNow returns the next number from quietCount, never 0.
func (l *connLimiter) quietNow() int64 { return l.quietCount.Add(1) }

// evictQuiet closes the connection that has been quiet longest, if any.
// It claims the connection by clearing its quiet time, so that one that
// has just begun a request, or that another eviction took, stays.
func (l *connLimiter) evictQuiet() {
	for range 3 { // a claim lost to a request starting: look again
		var oldest net.Conn
		var entry *connEntry
		var since int64
		l.conns.Range(func(k, v any) bool {
			e := v.(*connEntry)
			if t := e.quietSince.Load(); t != 0 && (oldest == nil || t < since) {
				oldest, entry, since = k.(net.Conn), e, t
			}
			return true
		})
		if oldest == nil {
			return
		}
		if entry.quietSince.CompareAndSwap(since, 0) {
			oldest.Close() // ConnState reports StateClosed and frees the slot
			return
		}
	}
}

// connState is the API server's ConnState hook (h1.Server.ConnState).
func (l *connLimiter) connState(c net.Conn, s http.ConnState) {
	switch s {
	case http.StateNew:
		e := &connEntry{}
		e.quietSince.Store(l.quietNow())
		l.conns.Store(c, e)
	case http.StateIdle:
		if v, ok := l.conns.Load(c); ok {
			v.(*connEntry).quietSince.Store(l.quietNow())
		}
	case http.StateActive:
		if v, ok := l.conns.Load(c); ok {
			v.(*connEntry).quietSince.Store(0)
		}
	case http.StateClosed, http.StateHijacked:
		l.conns.Delete(c)
		<-l.slots
	}
}

// open returns the number of connections the limiter counts as open.
func (l *connLimiter) open() int { return len(l.slots) }
