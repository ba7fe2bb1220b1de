package daemon

import (
	"errors"
	"fmt"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/crdtd/crdtd/api"
	"github.com/crdtd/crdtd/cart"
	"github.com/crdtd/crdtd/crdt"
	"github.com/crdtd/crdtd/internal/store"
)

// Device sync: POST /v1/carts/{cart}/sync. A device holds its own replica
// of a cart, edits it offline with its own replica ID, and sends the
// changes a node has not acknowledged with the causal context of its
// replica. The node checks the push, makes it durable and installs it like
// a local write (log with fsync, install, answer, broadcast) and answers
// with what the device lacks. A push the node has already merged changes
// nothing and is answered the same way: resending is always safe, to any
// node, because merging is idempotent.

// errBadPush marks a push refused after decoding (foreign changes, limits,
// a device ID of the wrong form).
var errBadPush = errors.New("sync refused")

// errSyncBehind marks a push that removes changes this node has not seen
// yet: the device learned them from another node. Gossip brings them here
// soon; the device keeps the push and retries.
var errSyncBehind = errors.New("this node has not yet seen changes the push builds on; retry shortly, or sync with the node the device last synced with")

// deviceIDPrefix starts every device's replica ID; node replica IDs start
// with "r-", so a device can never mint a node's dots.
const deviceIDPrefix = "d-"

func (d *Daemon) handleSync(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	id, ok := d.pathID(w, r, "cart")
	if !ok {
		return
	}
	result := "ok"
	defer func() {
		d.metrics.syncRequests.WithLabelValues(result).Inc()
		d.metrics.syncSeconds.Observe(time.Since(start).Seconds())
	}()
	body, err := readSyncBody(w, r)
	if err != nil {
		result = "refused"
		d.fail(w, err)
		return
	}
	d.metrics.syncBytes.WithLabelValues("received").Add(float64(len(body)))
	var req cart.SyncRequest
	if err := req.UnmarshalBinary(body); err != nil {
		result = "refused"
		d.metrics.decodeErrors.WithLabelValues("sync").Inc()
		d.fail(w, fmt.Errorf("%w: %v", errBadRequest, err))
		return
	}
	answer, applied, err := d.applySync(r, id, &req)
	if err != nil {
		result = "refused"
		d.fail(w, err)
		return
	}
	if !applied {
		result = "unchanged"
	}
	d.metrics.syncBytes.WithLabelValues("sent").Add(float64(len(answer)))
	h := w.Header()
	h.Set("Content-Type", cart.SyncContentType)
	h.Set("Content-Length", strconv.Itoa(len(answer)))
	w.WriteHeader(http.StatusOK)
	w.Write(answer)
}

// readSyncBody reads a sync body of at most api.MaxSyncBodyBytes; its
// Content-Type must be the sync media type.
func readSyncBody(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != cart.SyncContentType {
		return nil, fmt.Errorf("%w: Content-Type %s, want %s", errMediaType, sanitize(r.Header.Get("Content-Type")), cart.SyncContentType)
	}
	return readLimited(w, r, api.MaxSyncBodyBytes)
}

// applySync checks a device's push, makes it durable and installs it when
// it brings anything new, and returns the encoded answer and whether the
// push changed the cart. The order is a local write's: log (fsync) before
// install, and the broadcast only after both.
func (d *Daemon) applySync(r *http.Request, id string, req *cart.SyncRequest) (answer []byte, applied bool, err error) {
	if !strings.HasPrefix(string(req.Device), deviceIDPrefix) {
		return nil, false, fmt.Errorf("%w: device ID %q must start with %q", errBadPush, req.Device, deviceIDPrefix)
	}
	latest := req.Delta.Latest()
	if err := d.clock.checkRemote(latest); err != nil {
		return nil, false, fmt.Errorf("%w: %v", errBadPush, err)
	}
	o, err := d.carts.lockForWrite(id)
	if err != nil {
		return nil, false, err
	}
	defer d.carts.unlockWrite(o)
	fresh, err := d.carts.checkPush(o, req.Device, req.Delta)
	if err != nil {
		d.carts.dropIfEmpty(o)
		if errors.Is(err, errSyncBehind) {
			return nil, false, err
		}
		d.metrics.rejected.WithLabelValues("sync_push").Inc()
		if errors.Is(err, errBadPush) {
			return nil, false, err
		}
		return nil, false, fmt.Errorf("%w: %v", errBadPush, err)
	}
	var deltaBytes []byte
	if fresh {
		if err := d.carts.room(o); err != nil {
			d.carts.dropIfEmpty(o)
			return nil, false, err
		}
		if !latest.IsZero() {
			d.clock.observe(latest)
		}
		if deltaBytes, err = req.Delta.MarshalBinary(); err != nil {
			d.carts.dropIfEmpty(o)
			return nil, false, fmt.Errorf("encode pushed delta %s: %v", id, err)
		}
		rec := store.Record{Key: cartKey(id), Delta: deltaBytes, HLC: uint64(d.clock.stamp().Wall)}
		logStart := time.Now()
		release, err := d.store.Log(r.Context(), rec)
		d.metrics.commitSeconds.Observe(time.Since(logStart).Seconds())
		if err != nil {
			d.carts.dropIfEmpty(o)
			return nil, false, fmt.Errorf("log sync to cart %s: %w", id, err)
		}
		d.carts.install(o, req.Delta, edited{})
		release()
		d.checkpointIfLogFull()
	} else {
		d.carts.dropIfEmpty(o)
	}
	known := req.Context.Clone()
	pushed := req.Delta.Context()
	known.Merge(&pushed)
	delta, seen := d.carts.deltaFor(o, &known)
	answer, err = (&cart.SyncResponse{Delta: delta, Seen: seen}).MarshalBinary()
	if err != nil {
		return nil, false, fmt.Errorf("encode sync answer %s: %v", id, err)
	}
	if fresh {
		d.metrics.operation("sync").Inc()
		d.gossip.Publish(cartKey(id), deltaBytes, latest.Time())
	}
	return answer, fresh, nil
}

// checkPush checks a device's push against o's cart and reports whether it
// brings anything the cart has not seen. The caller holds o.writeMu.
func (cs *carts) checkPush(o *object, from crdt.ReplicaID, delta *cart.Cart) (fresh bool, err error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	// Only this node mints its own dots: a push naming more of them than it
	// made would make it reuse one, or remove its future changes.
	if claimed, issued := delta.MaxSeq(cs.self), o.cart.MaxSeq(cs.self); claimed > issued {
		return false, fmt.Errorf("%w: the push names change %d of this node, which made only %d", errBadPush, claimed, issued)
	}
	if err := o.cart.CheckPush(from, delta); err != nil {
		if errors.Is(err, cart.ErrPushAhead) {
			return false, fmt.Errorf("%w: %v", errSyncBehind, err)
		}
		return false, err
	}
	return o.cart.Changes(delta), nil
}

// deltaFor returns what a replica with context known lacks of o's cart.
// The caller holds o through lockForWrite.
func (cs *carts) deltaFor(o *object, known *crdt.CausalContext) (*cart.Cart, crdt.CausalContext) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.cart.DeltaFor(known)
}
