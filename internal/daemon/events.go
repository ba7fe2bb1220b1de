package daemon

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/crdtd/crdtd/api"
	"github.com/crdtd/crdtd/cart"
)

// Live updates: GET /v1/carts/{cart}/events is a Server-Sent Events stream
// of a cart's view. The cart table reports every change (a local write, a
// device sync, a merge from a peer) through its changed hook; the broker
// turns that into a "changed" flag per open stream; each stream's handler
// wakes on its flag, waits out the rest of its quiet period and sends the
// view as it is then. So a burst of changes gives one event per period,
// always the latest view, and the last change of a burst is sent when its
// period ends.

const (
	// eventMinGap is the least time between two events on one stream. It
	// bounds what a hot cart costs each watcher (20 views a second at
	// most) and adds at most itself to the delay of a change.
	eventMinGap = 50 * time.Millisecond
	// eventWriteTimeout bounds one write to a stream. A client that cannot
	// take a few kilobytes within it is gone, and its stream ends; the
	// bound also keeps such a client from holding up shutdown.
	eventWriteTimeout = 5 * time.Second
	// eventRetryAfter is the Retry-After, in seconds, of a stream refused
	// at the cap or during shutdown.
	eventRetryAfter = "5"
	// eventCart is the SSE event type of a cart view.
	eventCart = "cart"
)

var (
	errStreamLimit   = errors.New("too many event streams")
	errStreamsClosed = errors.New("the node is shutting down")
)

// broker wakes the event streams of a cart when the cart changes. Each
// stream subscribes to one cart and gets a channel with a buffer of one,
// used as a flag: notify sets the flag of every stream of the cart without
// blocking, and a stream that has not looked yet finds it set once however
// many changes it missed, then reads the latest view. The broker holds no
// views and starts no goroutines. It is safe for concurrent use.
type broker struct {
	max  int           // most subscriptions at once
	done chan struct{} // closed by close: every stream ends
	// n counts subscriptions, so that notify, which every write and merge
	// calls, skips the lock while nobody watches.
	n atomic.Int64

	// mu guards subs and closed.
	mu     sync.RWMutex
	subs   map[string]map[*subscription]struct{} // by cart ID
	closed bool
}

// subscription is one stream's interest in one cart.
type subscription struct {
	cart string
	// dirty holds a value when the cart changed since the stream last
	// took it. Only notify sends, never blocking; only the stream
	// receives.
	dirty chan struct{}
}

func newBroker(max int) *broker {
	return &broker{max: max, done: make(chan struct{}), subs: make(map[string]map[*subscription]struct{})}
}

// subscribe registers a stream of cart id. It fails at the cap and after
// close. A stream must read the cart's view after subscribing, so that no
// change falls between its first view and its first flag.
func (b *broker) subscribe(id string) (*subscription, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return nil, errStreamsClosed
	}
	if b.n.Load() >= int64(b.max) {
		return nil, fmt.Errorf("%w: %d are open, the most this node serves", errStreamLimit, b.max)
	}
	s := &subscription{cart: id, dirty: make(chan struct{}, 1)}
	set := b.subs[id]
	if set == nil {
		set = make(map[*subscription]struct{})
		b.subs[id] = set
	}
	set[s] = struct{}{}
	b.n.Add(1)
	return s, nil
}

// unsubscribe removes a stream's subscription.
func (b *broker) unsubscribe(s *subscription) {
	b.mu.Lock()
	defer b.mu.Unlock()
	set := b.subs[s.cart]
	if _, ok := set[s]; !ok {
		return
	}
	delete(set, s)
	if len(set) == 0 {
		delete(b.subs, s.cart)
	}
	b.n.Add(-1)
}

// notify flags every stream of cart id. It never blocks: it runs in the
// write path and in gossip callbacks.
func (b *broker) notify(id string) {
	if b.n.Load() == 0 {
		return
	}
	b.mu.RLock()
	defer b.mu.RUnlock()
	for s := range b.subs[id] {
		select {
		case s.dirty <- struct{}{}:
		default: // already flagged: the stream will read the latest view
		}
	}
}

// close ends every stream and refuses new ones. It may be called more
// than once.
func (b *broker) close() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if !b.closed {
		b.closed = true
		close(b.done)
	}
}

// setEventHeaders sets the headers of an event stream: no caching, and no
// buffering by proxies such as nginx, which would hold events back.
func setEventHeaders(h http.Header) {
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Accel-Buffering", "no")
	h.Set("X-Content-Type-Options", "nosniff")
}

// handleEvents serves GET /v1/carts/{cart}/events: the cart's view at
// once, then after every change, at most one event per eventMinGap, with
// a keep-alive comment when the stream has been silent for
// Config.EventKeepAlive. The stream ends when the client goes away or the
// node shuts down.
func (d *Daemon) handleEvents(w http.ResponseWriter, r *http.Request) {
	id, ok := d.pathID(w, r, "cart")
	if !ok {
		return
	}
	if r.Method == http.MethodHead {
		setEventHeaders(w.Header())
		w.WriteHeader(http.StatusOK)
		return
	}
	sub, err := d.events.subscribe(id)
	if err != nil {
		w.Header().Set("Retry-After", eventRetryAfter)
		writeError(w, http.StatusServiceUnavailable, api.CodeUnavailable, err.Error())
		return
	}
	defer d.events.unsubscribe(sub)
	d.metrics.eventStreams.Inc()
	defer d.metrics.eventStreams.Dec()
	s := &eventStream{
		w:         w,
		rc:        http.NewResponseController(w),
		cart:      id,
		sub:       sub,
		view:      func() (cart.View, uint64, error) { return d.carts.versionedView(id) },
		keepAlive: d.cfg.EventKeepAlive,
		sent:      d.metrics.eventsSent,
	}
	if err := s.run(r.Context(), d.events.done); err != nil {
		d.log.Debug("event stream ended", "cart", id, "err", err)
	}
}

// eventStream is one open event stream, run by its request's goroutine.
type eventStream struct {
	w         http.ResponseWriter
	rc        *http.ResponseController
	cart      string
	sub       *subscription
	view      func() (cart.View, uint64, error) // the cart's view and last change
	keepAlive time.Duration
	sent      prometheus.Counter

	idle   *time.Timer // fires after keepAlive without a write
	buf    bytes.Buffer
	last   []byte    // the data of the last event sent; nil before the first
	seq    uint64    // the change count of the view last read
	lastAt time.Time // when the last event was sent
}

// run sends the first view, then an event after each change and a comment
// when the stream has been silent, until ctx ends (the client went away)
// or stop is closed (the node shuts down). It returns a write error, if
// any: the client is gone then too.
func (s *eventStream) run(ctx context.Context, stop <-chan struct{}) error {
	// The server's write timeout bounds an answer, and a stream is not
	// one: each write sets its own deadline instead. (Its read timeout is
	// no concern: once a stream is flushed the server lifts it and watches
	// the connection for the client going away.)
	setEventHeaders(s.w.Header())
	s.w.WriteHeader(http.StatusOK)
	s.idle = time.NewTimer(s.keepAlive)
	defer s.idle.Stop()
	if err := s.send(); err != nil {
		return err
	}
	quiet := time.NewTimer(time.Hour)
	quiet.Stop()
	defer quiet.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-stop:
			return nil
		case <-s.idle.C:
			if err := s.write([]byte(": keep-alive\n\n")); err != nil {
				return err
			}
		case <-s.sub.dirty:
			// Coalesce: wait out the quiet period after the last event;
			// changes meanwhile set the flag again, and send reads the
			// view as it is when the period ends, so none is lost.
			if wait := time.Until(s.lastAt.Add(eventMinGap)); wait > 0 {
				quiet.Reset(wait)
				select {
				case <-ctx.Done():
					return nil
				case <-stop:
					return nil
				case <-quiet.C:
				}
			}
			if err := s.send(); err != nil {
				return err
			}
		}
	}
}

// send sends the cart's current view, unless the stream has sent it
// already: a flag may be set by a change the last event included, and a
// change may leave the view as it was.
func (s *eventStream) send() error {
	// Take the flag before reading the view: a change after this point
	// sets it again, so the stream looks once more.
	select {
	case <-s.sub.dirty:
	default:
	}
	v, seq, err := s.view()
	if err != nil {
		return err
	}
	if s.last != nil && seq == s.seq {
		return nil
	}
	s.seq = seq
	data, err := marshalCartView(s.cart, v)
	if err != nil {
		return err
	}
	if bytes.Equal(data, s.last) {
		return nil
	}
	s.buf.Reset()
	s.buf.WriteString("id: ")
	s.buf.WriteString(strconv.FormatUint(seq, 10))
	s.buf.WriteString("\nevent: " + eventCart + "\ndata: ")
	s.buf.Write(data) // JSON without line breaks: one data line
	s.buf.WriteString("\n\n")
	if err := s.write(s.buf.Bytes()); err != nil {
		return err
	}
	s.last, s.lastAt = data, time.Now()
	s.sent.Inc()
	return nil
}

// write writes p to the client within eventWriteTimeout and flushes it,
// and restarts the keep-alive timer.
func (s *eventStream) write(p []byte) error {
	if err := s.rc.SetWriteDeadline(time.Now().Add(eventWriteTimeout)); err != nil && !errors.Is(err, http.ErrNotSupported) {
		return err
	}
	if _, err := s.w.Write(p); err != nil {
		return err
	}
	if err := s.rc.Flush(); err != nil {
		return err
	}
	s.idle.Reset(s.keepAlive)
	return nil
}
