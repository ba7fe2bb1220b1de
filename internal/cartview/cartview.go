// Package cartview turns a cart's read view into the API's JSON shape. The node answers every
// read and write with it, and cartctl prints a device's replica with it, so that a cart looks
// the same whichever replica shows it.
package cartview

import (
	"github.com/crdtd/crdtd/api"
	"github.com/crdtd/crdtd/cart"
)

// Of returns the API view of cart id, whose read view is v. Items is never nil, so that an empty
// cart encodes as "items": []; a line without a price has nil price and subtotal (JSON null,
// "unknown"), never 0.
func Of(id string, v cart.View) api.CartView {
	out := api.CartView{Cart: id, Items: make([]api.Line, 0, len(v.Lines)), TotalCents: v.TotalCents,
		UnpricedItems: v.Unpriced, Overflow: v.Overflow}
	for _, l := range v.Lines {
		line := api.Line{Item: l.Item, Quantity: int64(l.Quantity)}
		if l.Priced {
			line.UnitPriceCents, line.SubtotalCents = &l.UnitPriceCents, &l.SubtotalCents
		}
		out.Items = append(out.Items, line)
	}
	return out
}
