package daemon

import (
	"net"
	"net/http"
	"sync"
	"time"
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

	// mu guards quiet.
	mu sync.Mutex
	// quiet holds the open connections with no request in progress, and
	// since when.
	quiet map[net.Conn]time.Time
	// closeOnce guards stop.
	closeOnce sync.Once
}

func newConnLimiter(l net.Listener, max int) *connLimiter {
	return &connLimiter{
		Listener: l,
		max:      max,
		slots:    make(chan struct{}, max),
		stop:     make(chan struct{}),
		quiet:    make(map[net.Conn]time.Time),
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

// evictQuiet closes the connection that has been quiet longest, if any.
func (l *connLimiter) evictQuiet() {
	l.mu.Lock()
	var oldest net.Conn
	var since time.Time
	for c, t := range l.quiet {
		if oldest == nil || t.Before(since) {
			oldest, since = c, t
		}
	}
	if oldest != nil {
		delete(l.quiet, oldest)
	}
	l.mu.Unlock()
	if oldest != nil {
		oldest.Close() // ConnState reports StateClosed and frees the slot
	}
}

// connState is the API server's ConnState hook (h1.Server.ConnState).
func (l *connLimiter) connState(c net.Conn, s http.ConnState) {
	switch s {
	case http.StateNew, http.StateIdle:
		l.mu.Lock()
		l.quiet[c] = time.Now()
		l.mu.Unlock()
	case http.StateActive:
		l.mu.Lock()
		delete(l.quiet, c)
		l.mu.Unlock()
	case http.StateClosed, http.StateHijacked:
		l.mu.Lock()
		delete(l.quiet, c)
		l.mu.Unlock()
		<-l.slots
	}
}

// open returns the number of connections the limiter counts as open.
func (l *connLimiter) open() int { return len(l.slots) }
