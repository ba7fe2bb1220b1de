//go:build js && wasm

// Command wasmcart is the browser app's cart replica: the cart package
// compiled to WebAssembly, with a few functions on globalThis.crdtd that
// the page's JavaScript calls. The JavaScript keeps the state in browser
// storage and does the network; all CRDT work happens here.
//
// Every function returns plain values; an error is a string in the result
// (never a thrown exception), so the page shows it as a message.
package main

import (
	"encoding/base64"
	"encoding/hex"
	"errors"
	"strconv"
	"syscall/js"
	"time"

	"github.com/crdtd/crdtd/api"
	"github.com/crdtd/crdtd/cart"
	"github.com/crdtd/crdtd/web/internal/replica"
)

var dev *replica.Device

func main() {
	fns := map[string]func(args []js.Value) any{
		"open":        open,
		"state":       state,
		"validID":     func(a []js.Value) any { return errValue(validID(str(a, 0))) },
		"view":        view,
		"add":         add,
		"setQuantity": setQuantity,
		"setPrice":    setPrice,
		"remove":      func(a []js.Value) any { return edit(func() error { return dev.Remove(str(a, 0), str(a, 1)) }) },
		"clear":       func(a []js.Value) any { return edit(func() error { return dev.Clear(str(a, 0)) }) },
		"syncRequest": syncRequest,
		"applySync":   applySync,
		"carts": func([]js.Value) any {
			var ids []any
			if dev != nil {
				for _, id := range dev.Carts() {
					ids = append(ids, id)
				}
			}
			return ids
		},
		"pendingCarts": func([]js.Value) any {
			var ids []any
			if dev != nil {
				for _, id := range dev.Carts() {
					if dev.Pending(id) > 0 {
						ids = append(ids, id)
					}
				}
			}
			return ids
		},
	}
	obj := js.Global().Get("Object").New()
	for name, f := range fns {
		obj.Set(name, js.FuncOf(func(_ js.Value, args []js.Value) any { return f(args) }))
	}
	js.Global().Set("crdtd", obj)
	select {} // serve calls until the page goes away
}

func str(args []js.Value, i int) string {
	if i >= len(args) || args[i].Type() != js.TypeString {
		return ""
	}
	return args[i].String()
}

func errValue(err error) any {
	if err == nil {
		return nil
	}
	return err.Error()
}

func validID(id string) error {
	if err := api.ValidID(id); err != nil {
		return errors.New("not a valid name: " + err.Error())
	}
	return nil
}

// open loads the saved state (base64, "" for none) or, when there is none,
// makes a new device whose ID takes the 16 random hex digits given. It
// returns {id} or {error}.
func open(a []js.Value) any {
	saved, random := str(a, 0), str(a, 1)
	var err error
	if saved != "" {
		var b []byte
		if b, err = base64.StdEncoding.DecodeString(saved); err == nil {
			dev, err = replica.Decode(b)
		}
	} else {
		var r [8]byte
		if n, herr := hex.Decode(r[:], []byte(random)); herr != nil || n != len(r) {
			err = errors.New("open: want 16 random hex digits")
		} else {
			dev, err = replica.New(replica.NewID(r))
		}
	}
	if err != nil {
		return map[string]any{"error": err.Error()}
	}
	return map[string]any{"id": string(dev.ID())}
}

// state returns {state} (base64) or {error}.
func state([]js.Value) any {
	b, err := dev.Encode()
	if err != nil {
		return map[string]any{"error": err.Error()}
	}
	return map[string]any{"state": base64.StdEncoding.EncodeToString(b)}
}

// view returns the cart's view with money formatted exactly, its pending
// edit count, and key, a string that equals the key the page computes from
// a node's JSON view of the same cart.
func view(a []js.Value) any {
	id := str(a, 0)
	v := dev.View(id)
	lines := make([]any, 0, len(v.Lines))
	key := ""
	for i, l := range v.Lines {
		line := map[string]any{"item": l.Item, "quantity": strconv.FormatUint(l.Quantity, 10), "price": nil, "subtotal": nil, "priceInput": ""}
		price := "null"
		if l.Priced {
			line["price"] = replica.FormatCents(l.UnitPriceCents)
			line["subtotal"] = replica.FormatCents(l.SubtotalCents)
			line["priceInput"] = replica.FormatCents(l.UnitPriceCents)
			price = strconv.FormatInt(l.UnitPriceCents, 10)
		}
		lines = append(lines, line)
		if i > 0 {
			key += ","
		}
		key += l.Item + "=" + strconv.FormatUint(l.Quantity, 10) + "@" + price
	}
	return map[string]any{
		"lines": lines, "total": replica.FormatCents(v.TotalCents), "unpriced": v.Unpriced,
		"overflow": v.Overflow, "pending": dev.Pending(id), "key": key,
	}
}

func edit(f func() error) any {
	if dev == nil {
		return "the cart is not open yet"
	}
	return errValue(f())
}

func quantity(s string, min uint64) (uint64, error) {
	q, err := strconv.ParseUint(s, 10, 64)
	if err != nil || q < min || q > cart.MaxQuantity {
		return 0, errors.New("quantity " + strconv.Quote(s) + ": want a whole number from " +
			strconv.FormatUint(min, 10) + " to " + strconv.Itoa(cart.MaxQuantity))
	}
	return q, nil
}

// add(cart, item, quantity, price): price "" leaves the price as it is.
func add(a []js.Value) any {
	return edit(func() error {
		if err := validID(str(a, 1)); err != nil {
			return err
		}
		q, err := quantity(str(a, 2), 1)
		if err != nil {
			return err
		}
		var price *int64
		if s := str(a, 3); s != "" {
			c, err := replica.ParseCents(s)
			if err != nil {
				return err
			}
			price = &c
		}
		return dev.Add(time.Now(), str(a, 0), str(a, 1), q, price)
	})
}

func setQuantity(a []js.Value) any {
	return edit(func() error {
		q, err := quantity(str(a, 2), 0)
		if err != nil {
			return err
		}
		return dev.SetQuantity(time.Now(), str(a, 0), str(a, 1), q)
	})
}

func setPrice(a []js.Value) any {
	return edit(func() error {
		c, err := replica.ParseCents(str(a, 2))
		if err != nil {
			return err
		}
		return dev.SetPrice(time.Now(), str(a, 0), str(a, 1), c)
	})
}

// syncRequest returns {body (Uint8Array), sent} or {error}.
func syncRequest(a []js.Value) any {
	body, sent, err := dev.SyncRequest(str(a, 0))
	if err != nil {
		return map[string]any{"error": err.Error()}
	}
	u := js.Global().Get("Uint8Array").New(len(body))
	js.CopyBytesToJS(u, body)
	return map[string]any{"body": u, "sent": float64(sent)}
}

// applySync(cart, sent, answer Uint8Array) returns {changed} or {error,
// reused}.
func applySync(a []js.Value) any {
	if len(a) < 3 {
		return map[string]any{"error": "applySync: want cart, sent, answer"}
	}
	b := make([]byte, a[2].Get("length").Int())
	js.CopyBytesToGo(b, a[2])
	changed, err := dev.ApplySync(str(a, 0), uint64(a[1].Float()), b)
	if err != nil {
		return map[string]any{"error": err.Error(), "reused": errors.Is(err, replica.ErrReplicaReused)}
	}
	return map[string]any{"changed": changed}
}
