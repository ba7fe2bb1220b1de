package daemon

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"pgregory.net/rapid"

	"github.com/crdtd/crdtd/api"
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

// TestSanitize: echoed client text is quoted, valid UTF-8, and cut after 64
// bytes, not before.
func TestSanitize(t *testing.T) {
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
