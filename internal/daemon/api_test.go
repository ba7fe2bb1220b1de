package daemon

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/crdtd/crdtd/api"
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
	cfg := testConfig(t, "x")
	cfg.APIAddr = "0.0.0.0:0"
	_, err := Start(context.Background(), cfg)
	require.ErrorIs(t, err, ErrConfig)
	require.Contains(t, err.Error(), "token")
}

func TestIdempotencyKeyAppliesOnce(t *testing.T) {
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
	d := newTestNode(t, nil)
	h := map[string]string{"Idempotency-Key": "same"}
	done := make(chan int, 8)
	for range 8 {
		go func() {
			code, _ := doRequest(t, d, "POST", "/v1/carts/dave/items", `{"item":"apple","quantity":1}`, h)
			done <- code
		}()
	}
	for range 8 {
		require.Equal(t, 200, <-done)
	}
	v, err := newTestClient(t, d, "").GetCart(context.Background(), "dave")
	require.NoError(t, err)
	require.Equal(t, int64(1), v.Items[0].Quantity)
}
