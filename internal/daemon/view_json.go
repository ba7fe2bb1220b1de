package daemon

import (
	"encoding/json"
	"strconv"

	"github.com/crdtd/crdtd/api"
	"github.com/crdtd/crdtd/cart"
)

// marshalCartView returns the JSON of cartView(id, v), byte for byte what
// json.Marshal gives, without reflection or the intermediate structs: every
// write answers with its cart's view, and encoding it was a few percent of
// a busy node's CPU. Cart and item IDs are limited to [A-Za-z0-9._:@-],
// which JSON never escapes; an ID outside it (which validation rules out)
// takes json.Marshal.
func marshalCartView(id string, v cart.View) ([]byte, error) {
	size := 48 + len(id)
	for _, l := range v.Lines {
		if api.InvalidIDByte(l.Item) >= 0 {
			return json.Marshal(cartView(id, v))
		}
		size += 96 + len(l.Item)
	}
	if api.InvalidIDByte(id) >= 0 {
		return json.Marshal(cartView(id, v))
	}
	b := make([]byte, 0, size)
	b = append(b, `{"cart":"`...)
	b = append(b, id...)
	b = append(b, `","items":[`...)
	for i, l := range v.Lines {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"item":"`...)
		b = append(b, l.Item...)
		b = append(b, `","quantity":`...)
		b = strconv.AppendInt(b, int64(l.Quantity), 10)
		if l.Priced {
			b = append(b, `,"unit_price_cents":`...)
			b = strconv.AppendInt(b, l.UnitPriceCents, 10)
			b = append(b, `,"subtotal_cents":`...)
			b = strconv.AppendInt(b, l.SubtotalCents, 10)
		} else {
			b = append(b, `,"unit_price_cents":null,"subtotal_cents":null`...)
		}
		b = append(b, '}')
	}
	b = append(b, `],"total_cents":`...)
	b = strconv.AppendInt(b, v.TotalCents, 10)
	b = append(b, `,"unpriced_items":`...)
	b = strconv.AppendInt(b, int64(v.Unpriced), 10)
	if v.Overflow {
		b = append(b, `,"overflow":true`...)
	}
	return append(b, '}'), nil
}
