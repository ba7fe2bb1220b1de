package daemon

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/crdtd/crdtd/api"
	"github.com/crdtd/crdtd/internal/testbin"
)

// TestAPIBoundsExactly: every bound the API states takes its limit and
// refuses one past it (and the lowest value below its floor).
func TestAPIBoundsExactly(t *testing.T) {
	t.Parallel()
	d := newTestNode(t, nil)
	for _, tc := range []struct {
		method, path, body string
		want               int
	}{
		{"POST", "/v1/carts/bounds/items", `{"item":"a","quantity":0}`, 400},
		{"POST", "/v1/carts/bounds/items", fmt.Sprintf(`{"item":"a","quantity":%d}`, api.MaxAddQuantity), 200},
		{"POST", "/v1/carts/bounds/items", fmt.Sprintf(`{"item":"b","quantity":%d}`, api.MaxAddQuantity+1), 400},
		{"PUT", "/v1/carts/bounds/items/c", `{"quantity":-1}`, 400},
		{"PUT", "/v1/carts/bounds/items/c", fmt.Sprintf(`{"quantity":%d}`, api.MaxSetQuantity), 200},
		{"PUT", "/v1/carts/bounds/items/d", fmt.Sprintf(`{"quantity":%d}`, api.MaxSetQuantity+1), 400},
		{"PUT", "/v1/carts/prices/items/e", `{"quantity":1,"unit_price_cents":-1}`, 400},
		{"PUT", "/v1/carts/prices/items/e", `{"quantity":1,"unit_price_cents":0}`, 200},
		{"PUT", "/v1/carts/prices/items/e", fmt.Sprintf(`{"quantity":1,"unit_price_cents":%d}`, int64(api.MaxPriceCents)), 200},
		{"PUT", "/v1/carts/prices/items/f", fmt.Sprintf(`{"quantity":1,"unit_price_cents":%d}`, int64(api.MaxPriceCents)+1), 400},
		{"GET", "/v1/carts?limit=0", "", 400},
		{"GET", fmt.Sprintf("/v1/carts?limit=%d", api.MaxPageSize), "", 200},
		{"GET", fmt.Sprintf("/v1/carts?limit=%d", api.MaxPageSize+1), "", 400},
	} {
		code, body := doRequest(t, d, tc.method, tc.path, tc.body, nil)
		require.Equal(t, tc.want, code, "%s %s %s: %s", tc.method, tc.path, tc.body, body)
	}
	lines := cartOn(t, d, "bounds")
	require.Len(t, lines, 2, "only the writes at the limits were applied: %+v", lines)
	require.Equal(t, int64(api.MaxAddQuantity), lines[0].Quantity)
	require.Equal(t, int64(api.MaxSetQuantity), lines[1].Quantity)
}

// TestSetWithPriceSurvivesReplay: a set that gives a quantity and a price
// logs one delta holding both, so a restart from what a crash leaves (the
// log, no checkpoint) brings back both.
func TestSetWithPriceSurvivesReplay(t *testing.T) {
	t.Parallel()
	d := newTestNode(t, func(c *Config) { c.CheckpointInterval, c.CheckpointLogBytes = 1<<40, 1<<40 })
	code, body := doRequest(t, d, "PUT", "/v1/carts/priced/items/apple", `{"quantity":2,"unit_price_cents":150}`, nil)
	require.Equal(t, 200, code, body)
	crashed := t.TempDir()
	testbin.CopyTree(t, d.cfg.DataDir, crashed)

	r := newTestNode(t, func(c *Config) { c.DataDir = crashed })
	lines := cartOn(t, r, "priced")
	require.Len(t, lines, 1)
	require.Equal(t, int64(2), lines[0].Quantity)
	require.NotNil(t, lines[0].UnitPriceCents, "the price came back from the log")
	require.Equal(t, int64(150), *lines[0].UnitPriceCents)
}
