package daemon

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"pgregory.net/rapid"

	"github.com/crdtd/crdtd/api"
	"github.com/stretchr/testify/require"
)

// referenceKeysOK is checkObjectKeys written the slow, obvious way, with
// encoding/json's tokenizer.
func referenceKeysOK(b []byte, allowed []string) bool {
	dec := json.NewDecoder(bytes.NewReader(b))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return false
	}
	seen := map[string]bool{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return false
		}
		key := tok.(string)
		ok := false
		for _, a := range allowed {
			ok = ok || a == key
		}
		if !ok || seen[key] {
			return false
		}
		seen[key] = true
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			return false
		}
	}
	return true
}

// TestCheckObjectKeysMatchesReference: the allocation-free key scanner
// accepts exactly the objects the tokenizer-based check accepts.
func TestCheckObjectKeysMatchesReference(t *testing.T) {
	t.Parallel()
	allowed := fieldsOf[api.AddItemRequest]()
	keys := []string{"item", "quantity", "unit_price_cents", "Quantity", "ITEM", "colour", `qu\"antity`, "item,"}
	values := []string{`1`, `"a"`, `"a,\"b\":1"`, `{"quantity":2}`, `[1,{"item":3}]`, `null`, `"}"`}
	rapid.Check(t, func(t *rapid.T) {
		n := rapid.IntRange(0, 5).Draw(t, "n")
		var parts []string
		for range n {
			k := rapid.SampledFrom(keys).Draw(t, "key")
			v := rapid.SampledFrom(values).Draw(t, "value")
			parts = append(parts, fmt.Sprintf("%q:%s", k, v))
		}
		body := []byte("{" + strings.Join(parts, " , ") + "}")
		got := checkObjectKeys(body, allowed) == nil
		if want := referenceKeysOK(body, allowed); got != want {
			t.Fatalf("checkObjectKeys(%s) ok=%v, reference ok=%v", body, got, want)
		}
	})
}

// TestScanAddItemTakesTheUsualBodies: the bodies clients send take the
// scanner, and give what encoding/json gives.
func TestScanAddItemTakesTheUsualBodies(t *testing.T) {
	t.Parallel()
	for _, body := range []string{
		`{"item":"x","quantity":1}`,
		`{"quantity":25,"item":"sku-1.a:b@c_d"}`,
		`{"item":"apple","quantity":2,"unit_price_cents":125}`,
		`{"unit_price_cents":0,"item":"a","quantity":0}`,
		" {\n\t\"item\" : \"a\" ,\r\n \"quantity\" : 999999999999999999 } \n",
		`{"item":"","quantity":1}`,
	} {
		got, ok := scanAddItem([]byte(body))
		if !ok {
			t.Errorf("scanAddItem(%s) declined a usual body", body)
			continue
		}
		want, err := decodeJSON[api.AddItemRequest]([]byte(body))
		if err != nil {
			t.Fatalf("decodeJSON(%s): %v", body, err)
		}
		if !sameAddItem(got, want) {
			t.Errorf("scanAddItem(%s) = %+v, decodeJSON gives %+v", body, got, want)
		}
	}
}

func sameAddItem(a, b api.AddItemRequest) bool {
	if a.Item != b.Item || a.Quantity != b.Quantity || (a.UnitPriceCents == nil) != (b.UnitPriceCents == nil) {
		return false
	}
	return a.UnitPriceCents == nil || *a.UnitPriceCents == *b.UnitPriceCents
}

// FuzzScanAddItem: whatever scanAddItem takes, decodeJSON takes too and
// reads the same; what it declines is left to decodeJSON.
func FuzzScanAddItem(f *testing.F) {
	for _, seed := range []string{
		`{"item":"x","quantity":1}`, `{"item":"x","quantity":1,"unit_price_cents":5}`,
		`{"item":"x","quantity":01}`, `{"item":"x","quantity":1.0}`, `{"item":"x","quantity":1e3}`,
		`{"item":"x","quantity":-1}`, `{"item":"x","quantity":1}x`, `{"item":"x","quantity":1,}`,
		`{"item":"x","item":"y","quantity":1}`, `{"Item":"x","quantity":1}`, `{"item":"x"}`,
		`{"item":"x\u0041","quantity":1}`, `{"item":"a b","quantity":1}`, `{"item":"x","quantity":1234567890123456789}`,
		`{"item":"x","quantity":1,"unit_price_cents":null}`, `{"item":"x","quantity":1}{}`, `{}`, `[]`, ``,
		`{"item":"x","quantity":1,"colour":"red"}`, "{\"item\":\"x\",\"quantity\":1}\x00",
		"{\"item\":\"\xff\",\"quantity\":1}", "{\"item\":\"a\x01b\",\"quantity\":1}", // bytes an item may not hold
		`{"item":"ab`, `{"item":"x","quantity":12`, `{"item":"x","quantity":1,"unit_price_cents":5`, // cut short
		`{"item":"x","quantity":}`, `{"item":"x","quantity":,"unit_price_cents":1}`, `{"item":"x","quantity":1,"unit_price_cents":}`, // no number
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		got, ok := scanAddItem(b)
		if !ok {
			return
		}
		want, err := decodeJSON[api.AddItemRequest](b)
		if err != nil {
			t.Fatalf("scanAddItem took %q, which decodeJSON refuses: %v", b, err)
		}
		if !sameAddItem(got, want) {
			t.Fatalf("scanAddItem(%q) = %+v, decodeJSON gives %+v", b, got, want)
		}
	})
}

// TestSanitize: echoed client text is quoted, valid UTF-8, and cut after 64
// bytes, not before.
func TestSanitize(t *testing.T) {
	t.Parallel()
	at64 := strings.Repeat("a", 64)
	for _, tc := range []struct{ in, want string }{
		{"", `""`},
		{"ab\"c\n", `"ab\"c\n"`},
		{"\xff\xfe", `"\xff\xfe"`},
		{at64, `"` + at64 + `"`},
		{at64 + "b", `"` + at64 + `..."`},
	} {
		if got := sanitize(tc.in); got != tc.want {
			t.Errorf("sanitize(%q) = %s, want %s", tc.in, got, tc.want)
		}
	}
}

// TestBodyLimit: a body of exactly api.MaxBodyBytes is read whole, whether
// its length is declared or it comes chunked; one byte more is refused with
// 413, and the cart is not changed by it.
func TestBodyLimit(t *testing.T) {
	t.Parallel()
	d := newTestNode(t, nil)
	add := `{"item":"apple","quantity":1}`
	for _, tc := range []struct {
		name    string
		size    int
		chunked bool
		want    int
	}{
		{"declared, at the limit", api.MaxBodyBytes, false, 200},
		{"declared, one over", api.MaxBodyBytes + 1, false, 413},
		{"chunked, at the limit", api.MaxBodyBytes, true, 200},
		{"chunked, one over", api.MaxBodyBytes + 1, true, 413},
	} {
		body := add + strings.Repeat(" ", tc.size-len(add))
		var r io.Reader = strings.NewReader(body)
		if tc.chunked {
			r = io.MultiReader(r) // no length known in advance
		}
		req, err := http.NewRequest("POST", "http://"+d.APIAddr()+"/v1/carts/limits/items", r)
		require.NoError(t, err)
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		_ = resp.Body.Close()
		require.Equal(t, tc.want, resp.StatusCode, tc.name)
	}
	require.Equal(t, []api.Line{{Item: "apple", Quantity: 2}}, cartOn(t, d, "limits"), "the two bodies at the limit, and only them, were applied")
}

// TestJSONMediaTypeForms: JSON is JSON with parameters or in capitals
// (media types are case-insensitive); each form's add is applied.
func TestJSONMediaTypeForms(t *testing.T) {
	t.Parallel()
	d := newTestNode(t, nil)
	forms := []string{"application/json; charset=utf-8", "Application/JSON", ""}
	for _, ct := range forms {
		header := map[string]string{}
		if ct != "" {
			header["Content-Type"] = ct
		}
		code, body := doRequest(t, d, "POST", "/v1/carts/forms/items", `{"item":"apple","quantity":1}`, header)
		require.Equal(t, 200, code, "Content-Type %q: %s", ct, body)
	}
	require.Equal(t, []api.Line{{Item: "apple", Quantity: int64(len(forms))}}, cartOn(t, d, "forms"))
}
