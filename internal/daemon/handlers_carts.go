package daemon

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/crdtd/crdtd/api"
	"github.com/crdtd/crdtd/cart"
	"github.com/crdtd/crdtd/crdt"
	"github.com/crdtd/crdtd/internal/cartview"
	"github.com/crdtd/crdtd/internal/store"
)

// handleHealth answers 200 while the node can take writes, and 503 once its
// write-ahead log has failed (a full or broken disk), so that load
// balancers and supervisors stop sending it writes and restart it.
func (d *Daemon) handleHealth(w http.ResponseWriter, r *http.Request) {
	if err := d.store.Err(); err != nil {
		// /healthz answers without a token: say what to do, and leave the
		// details (file paths, the OS error) to the node's log.
		writeError(w, http.StatusServiceUnavailable, api.CodeUnavailable, "the write-ahead log failed; see the node's log and restart it")
		return
	}
	writeJSON(w, http.StatusOK, api.Health{Status: "ok"})
}

// handleListCarts answers one page of the names of carts with lines:
// ?limit=N (1..api.MaxPageSize, default api.DefaultPageSize) names after
// ?after=ID, and the name to ask the next page after.
// handleReady answers 200 once the node serves writes and, when it has
// seeds, has joined at least one peer; otherwise 503 with the reason. A
// node that cannot join (a wrong gossip key, bad seeds) still takes writes
// as an island, and /healthz, which is liveness only, still answers ok.
func (d *Daemon) handleReady(w http.ResponseWriter, r *http.Request) {
	if ok, reason := d.readiness(); !ok {
		writeError(w, http.StatusServiceUnavailable, api.CodeUnavailable, reason)
		return
	}
	writeJSON(w, http.StatusOK, api.Health{Status: "ready"})
}

func (d *Daemon) handleListCarts(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	limit := api.DefaultPageSize
	if s := q.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > api.MaxPageSize {
			d.fail(w, fmt.Errorf("%w: limit %s: want an integer in 1..%d", errBadRequest, sanitize(s), api.MaxPageSize))
			return
		}
		limit = n
	}
	after := q.Get("after")
	if after != "" {
		if err := api.ValidID(after); err != nil {
			d.fail(w, fmt.Errorf("%w: after: %v", errBadRequest, err))
			return
		}
	}
	ids, more, err := d.carts.page(after, limit)
	if err != nil {
		d.fail(w, err)
		return
	}
	out := api.CartList{Carts: ids}
	if more {
		out.Next = ids[len(ids)-1]
	}
	writeJSON(w, http.StatusOK, out)
}

func (d *Daemon) handleGetCart(w http.ResponseWriter, r *http.Request) {
	id, ok := d.pathID(w, r, "cart")
	if !ok {
		return
	}
	v, err := d.carts.view(id)
	if err != nil {
		d.fail(w, err)
		return
	}
	b, err := marshalCartView(id, v)
	if err != nil {
		d.fail(w, err)
		return
	}
	writeBody(w, http.StatusOK, b)
}

// handleGetItem answers one line of a cart, or 404 when the cart has no
// such line.
func (d *Daemon) handleGetItem(w http.ResponseWriter, r *http.Request) {
	id, ok := d.pathID(w, r, "cart")
	if !ok {
		return
	}
	item, ok := d.pathID(w, r, "item")
	if !ok {
		return
	}
	cv, err := d.carts.view(id)
	if err != nil {
		d.fail(w, err)
		return
	}
	v := cartView(id, cv)
	for _, l := range v.Items {
		if l.Item == item {
			writeJSON(w, http.StatusOK, l)
			return
		}
	}
	writeError(w, http.StatusNotFound, api.CodeNotFound, fmt.Sprintf("cart %s has no item %s", id, item))
}

func (d *Daemon) handleAddItem(w http.ResponseWriter, r *http.Request) {
	id, ok := d.pathID(w, r, "cart")
	if !ok {
		return
	}
	body, err := readBody(w, r)
	if err != nil {
		d.fail(w, err)
		return
	}
	req, err := decodeAddItem(body)
	if err != nil {
		d.fail(w, err)
		return
	}
	if err := cart.ValidItemID(req.Item); err != nil {
		d.fail(w, err)
		return
	}
	if req.Quantity < 1 || req.Quantity > api.MaxAddQuantity {
		d.fail(w, fmt.Errorf("%w: quantity %d not in 1..%d", cart.ErrInvalidQuantity, req.Quantity, api.MaxAddQuantity))
		return
	}
	if err := checkPrice(req.UnitPriceCents); err != nil {
		d.fail(w, err)
		return
	}
	d.mutate(w, r, body, id, req.Item, "add", func(c *cart.Cart, ts crdt.Timestamp) (*cart.Cart, error) {
		delta, err := c.Add(ts, req.Item, uint64(req.Quantity))
		if err != nil {
			return nil, err
		}
		return delta, setPriceInto(delta, c, ts, req.Item, req.UnitPriceCents)
	})
}

// setPriceInto sets item's price in c when cents is given, and joins the
// change into delta, so that one request ships one delta.
func setPriceInto(delta, c *cart.Cart, ts crdt.Timestamp, item string, cents *int64) error {
	if cents == nil {
		return nil
	}
	p, err := c.SetPrice(ts, item, *cents)
	if err != nil {
		return err
	}
	delta.Merge(p)
	return nil
}

func (d *Daemon) handleSetItem(w http.ResponseWriter, r *http.Request) {
	id, ok := d.pathID(w, r, "cart")
	if !ok {
		return
	}
	item, ok := d.pathID(w, r, "item")
	if !ok {
		return
	}
	body, err := readBody(w, r)
	if err != nil {
		d.fail(w, err)
		return
	}
	req, err := decodeJSON[api.SetItemRequest](body)
	if err != nil {
		d.fail(w, err)
		return
	}
	if req.Quantity == nil && req.UnitPriceCents == nil {
		d.fail(w, fmt.Errorf("%w: give quantity, unit_price_cents or both", errBadRequest))
		return
	}
	if q := req.Quantity; q != nil && (*q < 0 || *q > api.MaxSetQuantity) {
		d.fail(w, fmt.Errorf("%w: quantity %d not in 0..%d", cart.ErrInvalidQuantity, *q, api.MaxSetQuantity))
		return
	}
	if err := checkPrice(req.UnitPriceCents); err != nil {
		d.fail(w, err)
		return
	}
	if req.Quantity != nil && *req.Quantity == 0 && req.UnitPriceCents != nil {
		d.fail(w, fmt.Errorf("%w: quantity 0 removes the line; it cannot also set a price", errBadRequest))
		return
	}
	d.mutate(w, r, body, id, item, "set", func(c *cart.Cart, ts crdt.Timestamp) (*cart.Cart, error) {
		delta := cart.New()
		if req.Quantity != nil {
			q, err := c.SetQuantity(ts, item, uint64(*req.Quantity))
			if err != nil {
				return nil, err
			}
			delta.Merge(q)
		}
		return delta, setPriceInto(delta, c, ts, item, req.UnitPriceCents)
	})
}

func (d *Daemon) handleRemoveItem(w http.ResponseWriter, r *http.Request) {
	id, ok := d.pathID(w, r, "cart")
	if !ok {
		return
	}
	item, ok := d.pathID(w, r, "item")
	if !ok {
		return
	}
	d.mutate(w, r, nil, id, item, "remove", func(c *cart.Cart, _ crdt.Timestamp) (*cart.Cart, error) {
		return c.Remove(item)
	})
}

func (d *Daemon) handleClearCart(w http.ResponseWriter, r *http.Request) {
	id, ok := d.pathID(w, r, "cart")
	if !ok {
		return
	}
	d.mutate(w, r, nil, id, "", "clear", func(c *cart.Cart, _ crdt.Timestamp) (*cart.Cart, error) {
		return c.Clear(), nil
	})
}

func checkPrice(p *int64) error {
	if p != nil && (*p < 0 || *p > api.MaxPriceCents) {
		return fmt.Errorf("%w: unit_price_cents %d not in 0..%d", cart.ErrInvalidPrice, *p, int64(api.MaxPriceCents))
	}
	return nil
}

// mutate runs a local write of one item of a cart (every item if item is
// empty), honouring an Idempotency-Key: a retried request with the same key
// is applied once and gets the first response. The key is bound to its
// request (method, path and body): a different request with a used key is
// refused with 422 and changes nothing.
func (d *Daemon) mutate(w http.ResponseWriter, r *http.Request, reqBody []byte, id, item, kind string, e edit) {
	key := r.Header.Get("Idempotency-Key")
	var fp [sha256.Size]byte
	if key != "" {
		if err := api.ValidID(key); err != nil {
			d.fail(w, fmt.Errorf("%w: Idempotency-Key must be 1-128 characters of [A-Za-z0-9._:@-]", errBadRequest))
			return
		}
		key = "idem/" + key
		fp = requestFingerprint(r.Method, r.URL.EscapedPath(), reqBody)
		release, rec, err := d.idem.acquire(r.Context(), d.store, key)
		if err != nil {
			d.fail(w, err)
			return
		}
		defer release()
		if rec != nil {
			d.replay(w, r, id, rec, fp)
			return
		}
	}
	minimal := preferMinimal(r)
	answer, err := d.applyLocal(r.Context(), id, item, e, key, func(v cart.View) (answer, record []byte, err error) {
		switch {
		case minimal && key == "":
			return nil, nil, nil
		case minimal:
			return nil, encodeIdemRecord(fp, nil), nil // a replay answers the current view
		}
		if answer, err = marshalCartView(id, v); err != nil || key == "" {
			return answer, nil, err
		}
		return answer, encodeIdemRecord(fp, answer), nil
	})
	if err != nil {
		d.fail(w, err)
		return
	}
	d.metrics.operation(kind).Inc()
	if minimal {
		writeMinimal(w)
		return
	}
	writeBody(w, http.StatusOK, answer)
}

// preferMinimal reports whether the request asks, with Prefer:
// return=minimal (RFC 7240), for no body in a successful answer.
func preferMinimal(r *http.Request) bool {
	for _, h := range r.Header.Values("Prefer") {
		for pref := range strings.SplitSeq(h, ",") {
			name, _, _ := strings.Cut(pref, ";")
			if strings.EqualFold(strings.ReplaceAll(strings.TrimSpace(name), " ", ""), "return=minimal") {
				return true
			}
		}
	}
	return false
}

// writeMinimal answers a successful mutation that asked for no body.
func writeMinimal(w http.ResponseWriter) {
	w.Header().Set("Preference-Applied", "return=minimal")
	w.WriteHeader(http.StatusNoContent)
}

// replay answers a retried request from its idempotency record. When the
// first answer was too large to keep, it answers with the cart's current
// view, which includes the change, and says so in Idempotency-Replayed.
func (d *Daemon) replay(w http.ResponseWriter, r *http.Request, id string, rec []byte, fp [sha256.Size]byte) {
	answer, err := matchIdemRecord(rec, fp)
	if err != nil {
		d.fail(w, err)
		return
	}
	if preferMinimal(r) {
		w.Header().Set("Idempotency-Replayed", "true")
		writeMinimal(w)
		return
	}
	if answer == nil {
		v, err := d.carts.view(id)
		if err == nil {
			answer, err = marshalCartView(id, v)
		}
		if err != nil {
			d.fail(w, err)
			return
		}
		w.Header().Set("Idempotency-Replayed", "current-view")
	} else {
		w.Header().Set("Idempotency-Replayed", "true")
	}
	writeBody(w, http.StatusOK, answer)
}

// pathID reads and validates a cart or item ID from the path.
func (d *Daemon) pathID(w http.ResponseWriter, r *http.Request, name string) (string, bool) {
	v := r.PathValue(name)
	if err := cart.ValidItemID(v); err != nil {
		writeError(w, http.StatusBadRequest, api.CodeInvalidArgument,
			fmt.Sprintf("%s id %s: must be 1-128 characters of [A-Za-z0-9._:@-], and not . or ..", name, sanitize(v)))
		return "", false
	}
	return v, true
}

// fail maps an error to its HTTP status, in one place.
func (d *Daemon) fail(w http.ResponseWriter, err error) {
	switch {
	case errors.Is(err, errTooLarge):
		d.metrics.decodeErrors.WithLabelValues("http").Inc()
		writeError(w, http.StatusRequestEntityTooLarge, api.CodeTooLarge, err.Error())
	case errors.Is(err, errBadRequest):
		d.metrics.decodeErrors.WithLabelValues("http").Inc()
		writeError(w, http.StatusBadRequest, api.CodeInvalidArgument, err.Error())
	case errors.Is(err, errMediaType):
		d.metrics.decodeErrors.WithLabelValues("http").Inc()
		writeError(w, http.StatusUnsupportedMediaType, api.CodeUnsupportedMedia, err.Error())
	case errors.Is(err, errSyncBehind):
		w.Header().Set("Retry-After", "1")
		writeError(w, http.StatusConflict, api.CodeSyncBehind, err.Error())
	case errors.Is(err, errBadPush):
		writeError(w, http.StatusUnprocessableEntity, api.CodeSyncRefused, err.Error())
	case errors.Is(err, errKeyReused):
		writeError(w, http.StatusUnprocessableEntity, api.CodeIdempotencyKeyReused, err.Error())
	case errors.Is(err, cart.ErrInvalidItem), errors.Is(err, cart.ErrInvalidQuantity),
		errors.Is(err, cart.ErrInvalidPrice), errors.Is(err, cart.ErrTooManyLines), errors.Is(err, cart.ErrOverflow),
		errors.Is(err, cart.ErrTooManyAdds):
		writeError(w, http.StatusBadRequest, api.CodeInvalidArgument, err.Error())
	case errors.Is(err, store.ErrLogFailed):
		d.log.Error("write refused: the write-ahead log failed", "err", err)
		writeError(w, http.StatusServiceUnavailable, api.CodeUnavailable, "the node cannot make writes durable; it must be restarted")
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded), errors.Is(err, store.ErrClosed),
		errors.Is(err, errClockAhead), errors.Is(err, errTooManyObjs):
		writeError(w, http.StatusServiceUnavailable, api.CodeUnavailable, err.Error())
	default:
		d.log.Error("request failed", "err", err)
		writeError(w, http.StatusInternalServerError, api.CodeInternal, "internal error; see the node's log")
	}
}

// cartView is the API view of cart id; cartctl prints a device's replica with the same function.
func cartView(id string, v cart.View) api.CartView { return cartview.Of(id, v) }
