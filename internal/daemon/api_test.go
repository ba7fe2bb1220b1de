package daemon

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/crdtd/crdtd/api"
	"github.com/crdtd/crdtd/internal/testbin"
)

type apiCase struct {
	name     string
	method   string
	path     string
	body     string
	header   map[string]string
	wantCode int
	wantErr  api.ErrorCode // "" for success
	wantBody string        // substring of the body, if set
}

func doRequest(t *testing.T, d *Daemon, method, path, body string, header map[string]string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, "http://"+d.APIAddr()+path, strings.NewReader(body))
	require.NoError(t, err)
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, string(b)
}

func runAPICases(t *testing.T, d *Daemon, cases []apiCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			code, body := doRequest(t, d, tc.method, tc.path, tc.body, tc.header)
			if code != tc.wantCode {
				t.Fatalf("%s %s: got status %d, want %d (body %s)", tc.method, tc.path, code, tc.wantCode, body)
			}
			if tc.wantErr != "" {
				var eb api.ErrorBody
				if err := json.Unmarshal([]byte(body), &eb); err != nil {
					t.Fatalf("error body %q is not JSON: %v", body, err)
				}
				if eb.Error.Code != tc.wantErr || eb.Error.Message == "" {
					t.Fatalf("got error %+v, want code %s with a message", eb.Error, tc.wantErr)
				}
			}
			if tc.wantBody != "" && !strings.Contains(body, tc.wantBody) {
				t.Fatalf("body %s does not contain %s", body, tc.wantBody)
			}
		})
	}
}

func TestAPIRoutes(t *testing.T) {
	t.Parallel()
	d := newTestNode(t, nil)
	runAPICases(t, d, []apiCase{
		{"health", "GET", "/healthz", "", nil, 200, "", `"status":"ok"`},
		{"empty list", "GET", "/v1/carts", "", nil, 200, "", `{"carts":[]}`},
		{"unknown cart is empty", "GET", "/v1/carts/nobody", "", nil, 200, "", `{"cart":"nobody","items":[],"total_cents":0,"unpriced_items":0}`},
		{"add", "POST", "/v1/carts/alice/items", `{"item":"apple","quantity":2,"unit_price_cents":125}`, nil, 200, "",
			`{"cart":"alice","items":[{"item":"apple","quantity":2,"unit_price_cents":125,"subtotal_cents":250}],"total_cents":250,"unpriced_items":0}`},
		{"add without price", "POST", "/v1/carts/alice/items", `{"item":"pear","quantity":1}`, nil, 200, "", `"item":"pear","quantity":1,"unit_price_cents":null,"subtotal_cents":null}],"total_cents":250,"unpriced_items":1}`},
		{"get", "GET", "/v1/carts/alice", "", nil, 200, "", `"total_cents":250`},
		{"list", "GET", "/v1/carts", "", nil, 200, "", `{"carts":["alice"]}`},
		{"set quantity", "PUT", "/v1/carts/alice/items/apple", `{"quantity":5}`, nil, 200, "", `"quantity":5,"unit_price_cents":125,"subtotal_cents":625`},
		{"set price", "PUT", "/v1/carts/alice/items/pear", `{"unit_price_cents":80}`, nil, 200, "", `"item":"pear","quantity":1,"unit_price_cents":80`},
		{"set both", "PUT", "/v1/carts/alice/items/pear", `{"quantity":2,"unit_price_cents":90}`, nil, 200, "", `"item":"pear","quantity":2,"unit_price_cents":90,"subtotal_cents":180`},
		{"remove", "DELETE", "/v1/carts/alice/items/pear", "", nil, 200, "", `"total_cents":625`},
		{"set zero removes", "PUT", "/v1/carts/alice/items/apple", `{"quantity":0}`, nil, 200, "", `"items":[]`},
		{"clear", "DELETE", "/v1/carts/alice", "", nil, 200, "", `"items":[]`},
		{"members", "GET", "/v1/members", "", nil, 200, "", `"state":"alive"`},
		{"status", "GET", "/v1/status", "", nil, 200, "", `"replica":"r-`},
		{"metrics", "GET", "/metrics", "", nil, 200, "", `crdtd_operations_total{kind="add"} 2`},

		{"unknown route", "GET", "/v2/nothing", "", nil, 404, api.CodeNotFound, ""},
		{"wrong method on carts", "POST", "/v1/carts", "", nil, 405, api.CodeMethodNotAllowed, ""},
		{"wrong method on cart", "PATCH", "/v1/carts/alice", "", nil, 405, api.CodeMethodNotAllowed, ""},
		{"wrong method on items", "GET", "/v1/carts/alice/items", "", nil, 405, api.CodeMethodNotAllowed, ""},
		{"wrong method on status", "DELETE", "/v1/status", "", nil, 405, api.CodeMethodNotAllowed, ""},
	})
}

func TestAPIValidation(t *testing.T) {
	t.Parallel()
	d := newTestNode(t, nil)
	long := strings.Repeat("x", 129)
	runAPICases(t, d, []apiCase{
		{"bad cart id", "GET", "/v1/carts/a%20b", "", nil, 400, api.CodeInvalidArgument, ""},
		{"long cart id", "GET", "/v1/carts/" + long, "", nil, 400, api.CodeInvalidArgument, ""},
		{"bad cart id on add", "POST", "/v1/carts/%C3%A4/items", `{"item":"apple","quantity":1}`, nil, 400, api.CodeInvalidArgument, ""},
		{"bad item id", "POST", "/v1/carts/bob/items", `{"item":"ap/ple","quantity":1}`, nil, 400, api.CodeInvalidArgument, ""},
		{"empty item id", "POST", "/v1/carts/bob/items", `{"item":"","quantity":1}`, nil, 400, api.CodeInvalidArgument, ""},
		{"long item id", "POST", "/v1/carts/bob/items", `{"item":"` + long + `","quantity":1}`, nil, 400, api.CodeInvalidArgument, ""},
		{"quantity zero", "POST", "/v1/carts/bob/items", `{"item":"apple","quantity":0}`, nil, 400, api.CodeInvalidArgument, ""},
		{"quantity missing", "POST", "/v1/carts/bob/items", `{"item":"apple"}`, nil, 400, api.CodeInvalidArgument, ""},
		{"quantity negative", "POST", "/v1/carts/bob/items", `{"item":"apple","quantity":-3}`, nil, 400, api.CodeInvalidArgument, ""},
		{"quantity too big", "POST", "/v1/carts/bob/items", `{"item":"apple","quantity":1000001}`, nil, 400, api.CodeInvalidArgument, ""},
		{"quantity fractional", "POST", "/v1/carts/bob/items", `{"item":"apple","quantity":1.5}`, nil, 400, api.CodeInvalidArgument, ""},
		{"quantity string", "POST", "/v1/carts/bob/items", `{"item":"apple","quantity":"2"}`, nil, 400, api.CodeInvalidArgument, ""},
		{"quantity overflow", "POST", "/v1/carts/bob/items", `{"item":"apple","quantity":99999999999999999999}`, nil, 400, api.CodeInvalidArgument, ""},
		{"price negative", "POST", "/v1/carts/bob/items", `{"item":"apple","quantity":1,"unit_price_cents":-1}`, nil, 400, api.CodeInvalidArgument, ""},
		{"price too big", "POST", "/v1/carts/bob/items", `{"item":"apple","quantity":1,"unit_price_cents":1000000000001}`, nil, 400, api.CodeInvalidArgument, ""},
		{"price float", "POST", "/v1/carts/bob/items", `{"item":"apple","quantity":1,"unit_price_cents":1.25}`, nil, 400, api.CodeInvalidArgument, ""},
		{"unknown field", "POST", "/v1/carts/bob/items", `{"item":"apple","quantity":1,"colour":"red"}`, nil, 400, api.CodeInvalidArgument, ""},
		{"not json", "POST", "/v1/carts/bob/items", `item=apple`, nil, 400, api.CodeInvalidArgument, ""},
		{"empty body", "POST", "/v1/carts/bob/items", ``, nil, 400, api.CodeInvalidArgument, ""},
		{"json array", "POST", "/v1/carts/bob/items", `[1,2]`, nil, 400, api.CodeInvalidArgument, ""},
		{"trailing data", "POST", "/v1/carts/bob/items", `{"item":"apple","quantity":1}{}`, nil, 400, api.CodeInvalidArgument, ""},
		{"invalid utf8", "POST", "/v1/carts/bob/items", "{\"item\":\"\xff\xfe\",\"quantity\":1}", nil, 400, api.CodeInvalidArgument, ""},
		{"set nothing", "PUT", "/v1/carts/bob/items/apple", `{}`, nil, 400, api.CodeInvalidArgument, ""},
		{"set negative", "PUT", "/v1/carts/bob/items/apple", `{"quantity":-1}`, nil, 400, api.CodeInvalidArgument, ""},
		{"set too many", "PUT", "/v1/carts/bob/items/apple", `{"quantity":1000001}`, nil, 400, api.CodeInvalidArgument, ""},
		{"set zero with price", "PUT", "/v1/carts/bob/items/apple", `{"quantity":0,"unit_price_cents":5}`, nil, 400, api.CodeInvalidArgument, ""},
		{"set bad item", "PUT", "/v1/carts/bob/items/a%20b", `{"quantity":1}`, nil, 400, api.CodeInvalidArgument, ""},
		{"remove bad item", "DELETE", "/v1/carts/bob/items/a%20b", ``, nil, 400, api.CodeInvalidArgument, ""},
		{"bad idempotency key", "POST", "/v1/carts/bob/items", `{"item":"apple","quantity":1}`, map[string]string{"Idempotency-Key": "a b"}, 400, api.CodeInvalidArgument, ""},
		{"oversized body", "POST", "/v1/carts/bob/items", `{"item":"apple","quantity":1,"pad":"` + strings.Repeat("x", 70<<10) + `"}`, nil, 413, api.CodeTooLarge, ""},
		{"text/plain body", "POST", "/v1/carts/bob/items", `{"item":"apple","quantity":1}`, map[string]string{"Content-Type": "text/plain"}, 415, api.CodeUnsupportedMedia, "application/json"},
		{"form body", "PUT", "/v1/carts/bob/items/apple", `{"quantity":1}`, map[string]string{"Content-Type": "application/x-www-form-urlencoded"}, 415, api.CodeUnsupportedMedia, ""},
		{"duplicate key", "POST", "/v1/carts/bob/items", `{"item":"apple","quantity":1,"quantity":1000000}`, nil, 400, api.CodeInvalidArgument, `field \"quantity\" given twice`},
		{"duplicate key apart", "POST", "/v1/carts/bob/items", `{"quantity":1,"item":"apple","quantity":1000000}`, nil, 400, api.CodeInvalidArgument, `field \"quantity\" given twice`},
		{"key in another case", "POST", "/v1/carts/bob/items", `{"item":"apple","Quantity":1}`, nil, 400, api.CodeInvalidArgument, `unknown field \"Quantity\"`},
		{"type error names the field", "POST", "/v1/carts/bob/items", `{"item":"apple","quantity":"2"}`, nil, 400, api.CodeInvalidArgument, `field \"quantity\": want an integer, got string`},
		{"dot cart", "POST", "/v1/carts/%2E/items", `{"item":"apple","quantity":1}`, nil, 400, api.CodeInvalidArgument, ""},
		{"dot-dot item", "POST", "/v1/carts/bob/items", `{"item":"..","quantity":1}`, nil, 400, api.CodeInvalidArgument, ""},
		{"dot-dot item in path", "PUT", "/v1/carts/bob/items/%2E%2E", `{"quantity":1}`, nil, 400, api.CodeInvalidArgument, ""},
	})
	// Nothing was stored by any of them.
	c := newTestClient(t, d, "")
	list, err := c.ListCarts(context.Background())
	require.NoError(t, err)
	require.Empty(t, list.Carts, "a rejected request stored something")
	v, err := c.GetCart(context.Background(), "bob")
	require.NoError(t, err)
	require.Empty(t, v.Items)
}

func TestAPIToken(t *testing.T) {
	t.Parallel()
	d := newTestNode(t, func(c *Config) { c.APIToken = "s3cret-token" })
	runAPICases(t, d, []apiCase{
		{"health needs no token", "GET", "/healthz", "", nil, 200, "", ""},
		{"missing token", "GET", "/v1/carts", "", nil, 401, api.CodeUnauthorized, ""},
		{"wrong token", "GET", "/v1/carts", "", map[string]string{"Authorization": "Bearer nope"}, 401, api.CodeUnauthorized, ""},
		{"wrong scheme", "GET", "/v1/carts", "", map[string]string{"Authorization": "Basic s3cret-token"}, 401, api.CodeUnauthorized, ""},
		{"metrics need token", "GET", "/metrics", "", nil, 401, api.CodeUnauthorized, ""},
		{"mutation without token", "POST", "/v1/carts/a/items", `{"item":"x","quantity":1}`, nil, 401, api.CodeUnauthorized, ""},
		{"right token", "GET", "/v1/carts", "", map[string]string{"Authorization": "Bearer s3cret-token"}, 200, "", `{"carts":[]}`},
	})
	_, body := doRequest(t, d, "GET", "/v1/carts", "", map[string]string{"Authorization": "Bearer nope"})
	require.NotContains(t, body, "s3cret-token", "the token leaked into an error")
}

func TestNonLoopbackAPIRequiresToken(t *testing.T) {
	t.Parallel()
	cfg := testConfig(t, "x")
	cfg.APIAddr = "0.0.0.0:0"
	_, err := Start(context.Background(), cfg)
	require.ErrorIs(t, err, ErrConfig)
	require.Contains(t, err.Error(), "token")
}

func TestIdempotencyKeyAppliesOnce(t *testing.T) {
	t.Parallel()
	d := newTestNode(t, nil)
	h := map[string]string{"Idempotency-Key": "k-123"}
	var first string
	for i := range 3 {
		code, body := doRequest(t, d, "POST", "/v1/carts/carol/items", `{"item":"apple","quantity":2}`, h)
		require.Equal(t, 200, code, body)
		if i == 0 {
			first = body
		}
		require.JSONEq(t, first, body, "a retry got a different response")
	}
	c := newTestClient(t, d, "")
	v, err := c.GetCart(context.Background(), "carol")
	require.NoError(t, err)
	require.Equal(t, []api.Line{{Item: "apple", Quantity: 2}}, v.Items)

	// A different key applies again.
	code, _ := doRequest(t, d, "POST", "/v1/carts/carol/items", `{"item":"apple","quantity":2}`, map[string]string{"Idempotency-Key": "k-456"})
	require.Equal(t, 200, code)
	v, err = c.GetCart(context.Background(), "carol")
	require.NoError(t, err)
	require.Equal(t, int64(4), v.Items[0].Quantity)
}

func TestIdempotencyConcurrentRetries(t *testing.T) {
	t.Parallel()
	d := newTestNode(t, nil)
	type result struct {
		code int
		err  error
	}
	done := make(chan result, 8)
	for range 8 {
		go func() {
			// No require here: FailNow from another goroutine would not stop the test.
			req, err := http.NewRequest("POST", "http://"+d.APIAddr()+"/v1/carts/dave/items", strings.NewReader(`{"item":"apple","quantity":1}`))
			if err != nil {
				done <- result{err: err}
				return
			}
			req.Header.Set("Idempotency-Key", "same")
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				done <- result{err: err}
				return
			}
			resp.Body.Close()
			done <- result{code: resp.StatusCode}
		}()
	}
	for range 8 {
		r := <-done
		require.NoError(t, r.err)
		require.Equal(t, 200, r.code)
	}
	v, err := newTestClient(t, d, "").GetCart(context.Background(), "dave")
	require.NoError(t, err)
	require.Equal(t, int64(1), v.Items[0].Quantity)
}

// TestIdempotencyKeyBoundToRequest: a key already used is refused with 422
// for any other request (another cart, item, body or method), and nothing
// is applied; the original request still replays.
func TestIdempotencyKeyBoundToRequest(t *testing.T) {
	t.Parallel()
	d := newTestNode(t, nil)
	h := map[string]string{"Idempotency-Key": "k-bound"}
	code, first := doRequest(t, d, "POST", "/v1/carts/idem/items", `{"item":"apple","quantity":2}`, h)
	require.Equal(t, 200, code, first)
	runAPICases(t, d, []apiCase{
		{"another cart", "POST", "/v1/carts/other/items", `{"item":"apple","quantity":2}`, h, 422, api.CodeIdempotencyKeyReused, ""},
		{"another body", "POST", "/v1/carts/idem/items", `{"item":"apple","quantity":3}`, h, 422, api.CodeIdempotencyKeyReused, ""},
		{"another method", "DELETE", "/v1/carts/idem", "", h, 422, api.CodeIdempotencyKeyReused, ""},
		{"another item", "PUT", "/v1/carts/idem/items/pear", `{"quantity":1}`, h, 422, api.CodeIdempotencyKeyReused, ""},
	})
	c := newTestClient(t, d, "")
	other, err := c.GetCart(t.Context(), "other")
	require.NoError(t, err)
	require.Empty(t, other.Items, "a refused reuse wrote to another cart")
	v, err := c.GetCart(t.Context(), "idem")
	require.NoError(t, err)
	require.Equal(t, []api.Line{{Item: "apple", Quantity: 2}}, v.Items, "a refused reuse changed the cart")

	code, again := doRequest(t, d, "POST", "/v1/carts/idem/items", `{"item":"apple","quantity":2}`, h)
	require.Equal(t, 200, code)
	require.JSONEq(t, first, again, "the original request no longer replays")
}

// TestIdempotencyLargeAnswerNotKept: an answer too large to keep is not
// stored with its key; a retry is still applied once, and answers with the
// cart's current view, marked as such.
func TestIdempotencyLargeAnswerNotKept(t *testing.T) {
	t.Parallel()
	d := newTestNode(t, nil)
	c := newTestClient(t, d, "")
	for i := range 100 {
		_, err := c.AddItem(t.Context(), "big", api.AddItemRequest{Item: fmt.Sprintf("item-%03d", i), Quantity: 1})
		require.NoError(t, err)
	}
	h := map[string]string{"Idempotency-Key": "k-large"}
	code, first := doRequest(t, d, "POST", "/v1/carts/big/items", `{"item":"apple","quantity":1}`, h)
	require.Equal(t, 200, code, first)
	require.Greater(t, len(first), maxKeptAnswer, "the test needs an answer larger than what is kept")
	rec, ok, err := d.store.LookupIdempotency("idem/k-large")
	require.NoError(t, err)
	require.True(t, ok)
	require.LessOrEqual(t, len(rec), 64, "the large answer was stored with its key")

	req, err := http.NewRequest("POST", "http://"+d.APIAddr()+"/v1/carts/big/items", strings.NewReader(`{"item":"apple","quantity":1}`))
	require.NoError(t, err)
	req.Header.Set("Idempotency-Key", "k-large")
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, 200, resp.StatusCode)
	require.Equal(t, "current-view", resp.Header.Get("Idempotency-Replayed"))
	v, err := c.GetCart(t.Context(), "big")
	require.NoError(t, err)
	for _, l := range v.Items {
		if l.Item == "apple" {
			require.Equal(t, int64(1), l.Quantity, "the retry was applied again")
		}
	}
}

// TestAPIGetItemAndAllow covers GET of one line and the Allow header of 405.
func TestAPIGetItemAndAllow(t *testing.T) {
	t.Parallel()
	d := newTestNode(t, nil)
	code, body := doRequest(t, d, "POST", "/v1/carts/erin/items", `{"item":"apple","quantity":2,"unit_price_cents":125}`, nil)
	require.Equal(t, 200, code, body)
	runAPICases(t, d, []apiCase{
		{"get line", "GET", "/v1/carts/erin/items/apple", "", nil, 200, "", `{"item":"apple","quantity":2,"unit_price_cents":125,"subtotal_cents":250}`},
		{"get missing line", "GET", "/v1/carts/erin/items/pear", "", nil, 404, api.CodeNotFound, ""},
		{"get line of unknown cart", "GET", "/v1/carts/nobody/items/pear", "", nil, 404, api.CodeNotFound, ""},
	})
	for path, want := range map[string]string{
		"/v1/carts/erin/items":       "POST",
		"/v1/carts/erin":             "GET, HEAD, DELETE",
		"/v1/carts/erin/items/apple": "GET, HEAD, PUT, DELETE",
	} {
		req, err := http.NewRequest("PATCH", "http://"+d.APIAddr()+path, nil)
		require.NoError(t, err)
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		resp.Body.Close()
		require.Equal(t, 405, resp.StatusCode, path)
		require.Equal(t, want, resp.Header.Get("Allow"), path)
	}
}

// TestListCartsPages: /v1/carts answers sorted pages of the carts with
// lines, a next name while more follow, and refuses bad page arguments;
// carts whose lines were all removed are left out, and counted apart in
// /v1/status.
func TestListCartsPages(t *testing.T) {
	t.Parallel()
	d := newTestNode(t, nil)
	c := newTestClient(t, d, "")
	var want []string
	for i := range 25 {
		id := fmt.Sprintf("cart-%02d", i)
		_, err := c.AddItem(t.Context(), id, api.AddItemRequest{Item: "apple", Quantity: 1})
		require.NoError(t, err)
		want = append(want, id)
	}
	_, err := c.RemoveItem(t.Context(), "cart-03", "apple")
	require.NoError(t, err)
	want = slices.Delete(want, 3, 4)

	var got []string
	after, pages := "", 0
	for {
		page, err := c.ListCartsPage(t.Context(), after, 10)
		require.NoError(t, err)
		pages++
		require.LessOrEqual(t, len(page.Carts), 10)
		got = append(got, page.Carts...)
		if page.Next == "" {
			break
		}
		require.Equal(t, page.Carts[len(page.Carts)-1], page.Next)
		after = page.Next
	}
	require.Equal(t, want, got)
	require.Equal(t, 3, pages)

	all, err := c.ListCarts(t.Context())
	require.NoError(t, err)
	require.Equal(t, want, all.Carts)

	st, err := c.Status(t.Context())
	require.NoError(t, err)
	require.Equal(t, 24, st.Carts, "carts with lines")
	require.Equal(t, 1, st.EmptyCarts, "carts whose lines were all removed")

	runAPICases(t, d, []apiCase{
		{"default page", "GET", "/v1/carts", "", nil, 200, "", `"carts":["cart-00"`},
		{"limit zero", "GET", "/v1/carts?limit=0", "", nil, 400, api.CodeInvalidArgument, ""},
		{"limit too big", "GET", "/v1/carts?limit=1001", "", nil, 400, api.CodeInvalidArgument, ""},
		{"limit not a number", "GET", "/v1/carts?limit=ten", "", nil, 400, api.CodeInvalidArgument, ""},
		{"bad after", "GET", "/v1/carts?after=a%20b", "", nil, 400, api.CodeInvalidArgument, ""},
		{"after the last", "GET", "/v1/carts?after=zzz", "", nil, 200, "", `{"carts":[]}`},
	})
}

// TestReadyz: a node without seeds is ready at once; a node whose seed
// speaks another gossip key never joins, and /readyz and /v1/status say so
// with the reason, while /healthz (liveness) still answers ok; a node that
// joins becomes ready.
func TestReadyz(t *testing.T) {
	t.Parallel()
	keyA := bytes.Repeat([]byte{1}, 16)
	a := newTestNode(t, func(c *Config) { c.GossipKey = keyA })
	code, body := doRequest(t, a, "GET", "/readyz", "", nil)
	require.Equal(t, 200, code, body)

	b := newTestNode(t, func(c *Config) {
		c.GossipKey = bytes.Repeat([]byte{2}, 16)
		c.ClusterLabel = a.cfg.ClusterLabel
		c.Join = []string{a.GossipAddr()}
	})
	testbin.WaitFor(t, 10*time.Second, "b to report its failed join", func() bool {
		_, body := doRequest(t, b, "GET", "/readyz", "", nil)
		return strings.Contains(body, "gossip key")
	})
	code, body = doRequest(t, b, "GET", "/readyz", "", nil)
	require.Equal(t, 503, code, body)
	require.Contains(t, body, "not joined")
	require.NotContains(t, body, `\n`, "the reason spans lines")
	code, _ = doRequest(t, b, "GET", "/healthz", "", nil)
	require.Equal(t, 200, code, "/healthz is liveness only")
	st, err := newTestClient(t, b, "").Status(t.Context())
	require.NoError(t, err)
	require.False(t, st.Ready)
	require.Contains(t, st.NotReady, "not joined")

	c := newTestNode(t, func(c *Config) {
		c.GossipKey = keyA
		c.ClusterLabel = a.cfg.ClusterLabel
		c.Join = []string{a.GossipAddr()}
	})
	testbin.WaitFor(t, 10*time.Second, "c to be ready", func() bool {
		code, _ := doRequest(t, c, "GET", "/readyz", "", nil)
		return code == 200
	})
}

// TestNoOpDeletesLeaveNothing: removing an absent line or clearing an
// unknown cart changes nothing and stores no empty cart, so that a client
// cannot grow a node's cart table with DELETEs.
func TestNoOpDeletesLeaveNothing(t *testing.T) {
	t.Parallel()
	d := newTestNode(t, nil)
	for i := range 50 {
		code, body := doRequest(t, d, "DELETE", fmt.Sprintf("/v1/carts/ghost-%d", i), "", nil)
		require.Equal(t, 200, code, body)
		code, body = doRequest(t, d, "DELETE", fmt.Sprintf("/v1/carts/ghost-%d/items/apple", i), "", nil)
		require.Equal(t, 200, code, body)
	}
	withItems, held := d.carts.counts()
	require.Zero(t, withItems)
	require.Zero(t, held, "no-op deletes left empty carts behind")
	require.Zero(t, d.store.LogBytes(), "no-op deletes were logged")
}

// TestBearerSchemeCaseInsensitive: the scheme name of Authorization is
// case-insensitive (RFC 7235); the token is not. A refused request closes
// its connection.
func TestBearerSchemeCaseInsensitive(t *testing.T) {
	t.Parallel()
	d := newTestNode(t, func(c *Config) { c.APIToken = "s3cret" })
	for auth, want := range map[string]int{
		"Bearer s3cret": 200, "bearer s3cret": 200, "BEARER s3cret": 200,
		"Bearer S3CRET": 401, "Basic s3cret": 401, "s3cret": 401, "": 401,
	} {
		req, err := http.NewRequest("GET", "http://"+d.APIAddr()+"/v1/carts", nil)
		require.NoError(t, err)
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		resp.Body.Close()
		require.Equal(t, want, resp.StatusCode, "Authorization %q", auth)
		if want == 401 {
			require.True(t, resp.Close, "a 401 kept its connection open (Authorization %q)", auth)
		}
	}
}

// TestGossipBeyondLoopbackNeedsKey: a gossip bind or advertise address
// beyond loopback without a key is refused unless InsecureGossip says so.
func TestGossipBeyondLoopbackNeedsKey(t *testing.T) {
	t.Parallel()
	base := Config{DataDir: t.TempDir(), APIAddr: "127.0.0.1:0"}
	key := bytes.Repeat([]byte{7}, 32)
	for _, tc := range []struct {
		name          string
		gossip, adv   string
		key           []byte
		insecure, bad bool
	}{
		{"loopback", "127.0.0.1:7946", "", nil, false, false},
		{"any address", "0.0.0.0:7946", "", nil, false, true},
		{"lan address advertised", "127.0.0.1:7946", "10.0.0.5:7946", nil, false, true},
		{"any address with key", "0.0.0.0:7946", "", key, false, false},
		{"any address, insecure on purpose", "0.0.0.0:7946", "", nil, true, false},
	} {
		cfg := base
		cfg.GossipAddr, cfg.AdvertiseAddr, cfg.GossipKey, cfg.InsecureGossip = tc.gossip, tc.adv, tc.key, tc.insecure
		_, err := cfg.withDefaults()
		if tc.bad {
			require.ErrorIs(t, err, ErrConfig, tc.name)
			require.Contains(t, err.Error(), "--gossip-key-file", tc.name)
		} else {
			require.NoError(t, err, tc.name)
		}
	}
}

// TestConnectionCap: a flood of connections that send nothing, or only
// the start of a header, is held at the cap, and a real request still
// gets an answer.
func TestConnectionCap(t *testing.T) {
	t.Parallel()
	for _, start := range []string{"", "GET /healthz HTTP/1.1\r\nHost: x\r\n"} {
		testConnectionCap(t, start)
	}
}

// testConnectionCap floods a node with connections that each send start.
func testConnectionCap(t *testing.T, start string) {
	const max = 16
	d := newTestNode(t, func(c *Config) { c.MaxConnections = max })
	var idle []net.Conn
	t.Cleanup(func() {
		for _, c := range idle {
			c.Close()
		}
	})
	for range 4 * max {
		c, err := net.Dial("tcp", d.APIAddr())
		require.NoError(t, err)
		idle = append(idle, c)
		c.Write([]byte(start)) // the node may have closed it already
	}
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 5 * time.Second}
	for range 3 {
		resp, err := client.Get("http://" + d.APIAddr() + "/healthz")
		require.NoError(t, err, "/healthz behind a flood of idle connections")
		resp.Body.Close()
		require.Equal(t, 200, resp.StatusCode)
		require.LessOrEqual(t, d.conns.open(), max, "open connections beyond the cap")
	}
}

// TestDataDirOthersMayWriteRefused: a data directory other users may write
// is refused at start, with the fix in the message.
func TestDataDirOthersMayWriteRefused(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	require.NoError(t, os.Chmod(dir, 0o777))
	cfg := testConfig(t, "perm")
	cfg.DataDir = dir
	_, err := Start(t.Context(), cfg)
	require.ErrorIs(t, err, ErrConfig)
	require.ErrorContains(t, err, "chmod 700")
	require.NoError(t, os.Chmod(dir, 0o700))
	d, err := Start(t.Context(), cfg)
	require.NoError(t, err)
	require.NoError(t, d.Close())
}

// TestIdempotentNoOpReplays: a remove of an absent line with a key stores
// no cart, yet a retry with the key gets the first answer, even after the
// cart changed.
func TestIdempotentNoOpReplays(t *testing.T) {
	t.Parallel()
	d := newTestNode(t, nil)
	h := map[string]string{"Idempotency-Key": "noop-1"}
	code, first := doRequest(t, d, "DELETE", "/v1/carts/ghost/items/apple", "", h)
	require.Equal(t, 200, code, first)
	_, held := d.carts.counts()
	require.Zero(t, held)
	code, _ = doRequest(t, d, "POST", "/v1/carts/ghost/items", `{"item":"pear","quantity":1}`, nil)
	require.Equal(t, 200, code)
	code, again := doRequest(t, d, "DELETE", "/v1/carts/ghost/items/apple", "", h)
	require.Equal(t, 200, code)
	require.JSONEq(t, first, again, "the retry of a no-op got another answer")
}

// TestPreferReturnMinimal: a mutation with Prefer: return=minimal answers
// 204 with no body, is applied, and a retry with its key is 204 too; one
// without the preference gets the current view.
func TestPreferReturnMinimal(t *testing.T) {
	t.Parallel()
	d := newTestNode(t, nil)
	for _, prefer := range []string{"return=minimal", "handling=lenient, return=minimal", "RETURN = minimal"} {
		h := map[string]string{"Prefer": prefer}
		code, body := doRequest(t, d, "POST", "/v1/carts/min/items", `{"item":"apple","quantity":1}`, h)
		require.Equal(t, 204, code, "Prefer %q", prefer)
		require.Empty(t, body)
	}
	require.Equal(t, int64(3), quantity(t, cartViewOf(t, d, "min"), "apple"))

	h := map[string]string{"Prefer": "return=minimal", "Idempotency-Key": "min-1"}
	code, _ := doRequest(t, d, "PUT", "/v1/carts/min/items/apple", `{"quantity":7}`, h)
	require.Equal(t, 204, code)
	code, _ = doRequest(t, d, "PUT", "/v1/carts/min/items/apple", `{"quantity":7}`, h)
	require.Equal(t, 204, code)
	code, body := doRequest(t, d, "PUT", "/v1/carts/min/items/apple", `{"quantity":7}`, map[string]string{"Idempotency-Key": "min-1"})
	require.Equal(t, 200, code)
	require.Contains(t, body, `"quantity":7`)
	code, _ = doRequest(t, d, "POST", "/v1/carts/min/items", `{"item":"pear","quantity":1}`, map[string]string{"Prefer": "return=representation"})
	require.Equal(t, 200, code)
}

// TestRequestMetricsByRouteAndCode: the HTTP metrics, whose children are
// cached, count each request under its own route and status code.
func TestRequestMetricsByRouteAndCode(t *testing.T) {
	t.Parallel()
	d := newTestNode(t, nil)
	for range 3 {
		code, body := doRequest(t, d, "POST", "/v1/carts/m/items", `{"item":"a","quantity":1}`, nil)
		require.Equal(t, 200, code, body)
	}
	for range 2 {
		code, body := doRequest(t, d, "POST", "/v1/carts/m/items", `{"item":"a","quantity":0}`, nil)
		require.Equal(t, 400, code, body)
	}
	code, body := doRequest(t, d, "DELETE", "/v1/carts/m", "", nil)
	require.Equal(t, 200, code, body)
	code, _ = doRequest(t, d, "GET", "/v2/nothing", "", nil)
	require.Equal(t, 404, code)

	_, metrics := doRequest(t, d, "GET", "/metrics", "", nil)
	for _, want := range []string{
		`crdtd_http_requests_total{code="200",route="POST /v1/carts/{cart}/items"} 3`,
		`crdtd_http_requests_total{code="400",route="POST /v1/carts/{cart}/items"} 2`,
		`crdtd_http_requests_total{code="200",route="DELETE /v1/carts/{cart}"} 1`,
		`crdtd_http_requests_total{code="404",route="other"} 1`,
		`crdtd_http_request_duration_seconds_count{route="POST /v1/carts/{cart}/items"} 5`,
		`crdtd_http_request_duration_seconds_count{route="DELETE /v1/carts/{cart}"} 1`,
		`crdtd_operations_total{kind="add"} 3`,
		`crdtd_operations_total{kind="clear"} 1`,
	} {
		if !strings.Contains(metrics, want+"\n") {
			t.Errorf("/metrics lacks %s", want)
		}
	}
}

// TestRequestMetricsByRoute: requests are counted under their route
// pattern, and the answers that match no route or method (404, 405) under
// "other", so that a scan of random paths cannot add label values without
// bound.
func TestRequestMetricsByRoute(t *testing.T) {
	t.Parallel()
	d := newTestNode(t, nil)
	for _, r := range []struct {
		method, path string
		code         int
	}{
		{"GET", "/v1/carts", 200},
		{"GET", "/v2/nothing", 404},
		{"POST", "/v1/carts", 405},
	} {
		code, body := doRequest(t, d, r.method, r.path, "", nil)
		require.Equal(t, r.code, code, "%s %s: %s", r.method, r.path, body)
	}
	want := []string{
		`crdtd_http_requests_total{code="200",route="GET /v1/carts"} 1`,
		`crdtd_http_requests_total{code="404",route="other"} 1`,
		`crdtd_http_requests_total{code="405",route="other"} 1`,
	}
	// A request is counted after its handler returns: poll for the counts.
	var metrics string
	for deadline := time.Now().Add(5 * time.Second); ; {
		_, metrics = doRequest(t, d, "GET", "/metrics", "", nil)
		if !slices.ContainsFunc(want, func(line string) bool { return !strings.Contains(metrics, line) }) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("request counts %q missing from:\n%s", want, metrics)
		}
		time.Sleep(10 * time.Millisecond)
	}
	for _, line := range strings.Split(metrics, "\n") {
		if strings.HasPrefix(line, "crdtd_http_requests_total{") {
			require.Regexp(t, `route="(other|GET /v1/carts|GET /metrics)"`, line)
		}
	}
}

// TestHeaderLimit: request headers are capped at 16 KiB (plus the 4 KiB
// net/http allows on top), far below net/http's default of 1 MiB.
func TestHeaderLimit(t *testing.T) {
	t.Parallel()
	d := newTestNode(t, nil)
	code, body := doRequest(t, d, "GET", "/v1/carts", "", map[string]string{"X-Pad": strings.Repeat("x", 12<<10)})
	require.Equal(t, http.StatusOK, code, body)
	code, _ = doRequest(t, d, "GET", "/v1/carts", "", map[string]string{"X-Pad": strings.Repeat("x", 64<<10)})
	require.Equal(t, http.StatusRequestHeaderFieldsTooLarge, code)
}
