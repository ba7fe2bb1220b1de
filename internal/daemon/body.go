package daemon

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"reflect"
	"slices"
	"strings"
	"sync"

	"github.com/crdtd/crdtd/api"
)

// errBadRequest marks request problems found before any domain logic.
var errBadRequest = errors.New("bad request")

// errTooLarge marks an oversized body.
var errTooLarge = errors.New("request body too large")

// errMediaType marks a body that is not JSON by its Content-Type.
var errMediaType = errors.New("unsupported media type")

// readBody reads a request body of at most api.MaxBodyBytes. A body whose
// Content-Type names anything but JSON is refused before it is read; a
// missing Content-Type is taken as JSON.
func readBody(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	if ct := r.Header.Get("Content-Type"); ct != "" && ct != "application/json" {
		mt, _, err := mime.ParseMediaType(ct)
		if err != nil || mt != "application/json" {
			return nil, fmt.Errorf("%w: Content-Type %s, want application/json", errMediaType, sanitize(ct))
		}
	}
	return readLimited(w, r, api.MaxBodyBytes)
}

// readLimited reads r's body, refusing one longer than limit bytes. A body
// of known length is read into a buffer of that size (io.ReadAll would
// start at 512 bytes for the usual 30-byte add).
func readLimited(w http.ResponseWriter, r *http.Request, limit int64) ([]byte, error) {
	body := http.MaxBytesReader(w, r.Body, limit)
	var b []byte
	var err error
	if n := r.ContentLength; n >= 0 && n <= limit {
		b = make([]byte, n)
		_, err = io.ReadFull(body, b) // the server cuts the body at its Content-Length
	} else {
		b, err = io.ReadAll(body)
	}
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return nil, fmt.Errorf("%w: limit is %d bytes", errTooLarge, limit)
		}
		return nil, fmt.Errorf("%w: reading the body: %v", errBadRequest, err)
	}
	return b, nil
}

// decodeJSON decodes one JSON object into a T. It is stricter than
// encoding/json: field names must match exactly (encoding/json also takes
// "Quantity" for "quantity"), a field may appear only once (encoding/json
// keeps the last), and unknown fields and trailing data are refused. Error
// messages speak of the API's fields, never of Go types.
func decodeJSON[T any](b []byte) (T, error) {
	var v T
	if len(bytes.TrimSpace(b)) == 0 {
		return v, fmt.Errorf("%w: empty body, want a JSON object", errBadRequest)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&v); err != nil {
		return v, fmt.Errorf("%w: %s", errBadRequest, describeJSONError(err))
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return v, fmt.Errorf("%w: trailing data after the JSON object", errBadRequest)
	}
	// The body is valid JSON: check its top-level keys, which encoding/json
	// matched case-insensitively and let repeat.
	if err := checkObjectKeys(b, fieldsOf[T]()); err != nil {
		return v, err
	}
	return v, nil
}

// fieldCache holds the JSON field names of each request type.
var fieldCache sync.Map // reflect.Type -> []string

// fieldsOf returns the JSON names of T's fields.
func fieldsOf[T any]() []string {
	t := reflect.TypeFor[T]()
	if f, ok := fieldCache.Load(t); ok {
		return f.([]string)
	}
	var names []string
	for f := range t.Fields() {
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name != "" && name != "-" {
			names = append(names, name)
		}
	}
	fieldCache.Store(t, names)
	return names
}

// checkObjectKeys checks that the keys of the JSON object b, which
// encoding/json has already read without error, are all in allowed, each
// once, spelt exactly. It scans the bytes without allocating: request
// bodies are small, and this runs on every write.
func checkObjectKeys(b []byte, allowed []string) error {
	var seen uint64 // bit i: allowed[i] given
	depth, i := 0, 0
	expectKey := false
	for i < len(b) {
		c := b[i]
		switch {
		case c == '"':
			end := i + 1
			for end < len(b) && b[end] != '"' {
				if b[end] == '\\' {
					end++
				}
				end++
			}
			if end >= len(b) {
				return fmt.Errorf("%w: invalid JSON: an unterminated string", errBadRequest)
			}
			if depth == 1 && expectKey {
				key := b[i+1 : end]
				k := slices.IndexFunc(allowed, func(a string) bool { return string(key) == a })
				switch {
				case k < 0:
					return fmt.Errorf("%w: unknown field %s", errBadRequest, sanitize(string(key)))
				case seen&(1<<k) != 0:
					return fmt.Errorf("%w: field %q given twice", errBadRequest, allowed[k])
				}
				seen |= 1 << k
				expectKey = false
			}
			i = end + 1
			continue
		case c == '{' || c == '[':
			depth++
			expectKey = c == '{' && depth == 1
		case c == '}' || c == ']':
			depth--
		case c == ',' && depth == 1:
			expectKey = true
		}
		i++
	}
	return nil
}

// describeJSONError turns an encoding/json error into a message about the
// request, without Go type names.
func describeJSONError(err error) string {
	var typeErr *json.UnmarshalTypeError
	var syntaxErr *json.SyntaxError
	switch {
	case errors.As(err, &typeErr):
		want := "a value of another type"
		switch typeErr.Type.Kind() {
		case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
			reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
			want = "an integer"
		case reflect.String:
			want = "a string"
		case reflect.Bool:
			want = "true or false"
		case reflect.Pointer:
			want = "an integer"
			if typeErr.Type.Elem().Kind() == reflect.String {
				want = "a string"
			}
		case reflect.Struct:
			want = "a JSON object"
		}
		if typeErr.Field == "" {
			return fmt.Sprintf("want %s, got %s", want, typeErr.Value)
		}
		return fmt.Sprintf("field %q: want %s, got %s", typeErr.Field, want, typeErr.Value)
	case errors.As(err, &syntaxErr):
		return fmt.Sprintf("invalid JSON at byte %d", syntaxErr.Offset)
	case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		return "invalid JSON: the body ends early"
	}
	msg := strings.TrimPrefix(err.Error(), "json: ")
	if strings.Contains(msg, "Go ") {
		return "invalid JSON body"
	}
	return msg
}

// decodeAddItem decodes the body of an add. The usual body, an object of
// "item" (an ID) and "quantity" (and perhaps "unit_price_cents") as plain
// integers, is read by scanAddItem, a fifth of decodeJSON's cost; whatever
// it does not take (escapes, other numbers, null, a field twice or
// missing, unknown fields, invalid JSON) goes to decodeJSON, which gives
// the same request for what scanAddItem takes and the errors for the rest.
func decodeAddItem(b []byte) (api.AddItemRequest, error) {
	if req, ok := scanAddItem(b); ok {
		return req, nil
	}
	return decodeJSON[api.AddItemRequest](b)
}

// scanAddItem reads b if it is an object of "item" with a string of
// printable ASCII without escapes, "quantity" with a non-negative integer
// of at most 18 digits, and "unit_price_cents" with one too, each at most
// once, in any order, with any JSON whitespace. It reports false for
// anything else. A field left out stays zero, as decodeJSON leaves it:
// whether the item and quantity are valid is the handler's check, for a
// scanned body as for a decoded one.
func scanAddItem(b []byte) (req api.AddItemRequest, ok bool) {
	s := jsonScanner{b: b}
	if !s.take('{') {
		return req, false
	}
	var haveItem, haveQuantity, havePrice bool
	for {
		key, ok := s.plainString()
		if !ok || !s.take(':') {
			return req, false
		}
		switch key {
		case "item":
			if haveItem {
				return req, false
			}
			haveItem = true
			if req.Item, ok = s.plainString(); !ok {
				return req, false
			}
		case "quantity":
			if haveQuantity {
				return req, false
			}
			haveQuantity = true
			if req.Quantity, ok = s.plainInt(); !ok {
				return req, false
			}
		case "unit_price_cents":
			if havePrice {
				return req, false
			}
			havePrice = true
			p, ok := s.plainInt()
			if !ok {
				return req, false
			}
			req.UnitPriceCents = &p
		default:
			return req, false
		}
		if s.take(',') {
			continue
		}
		if !s.take('}') {
			return req, false
		}
		s.space()
		return req, s.i == len(s.b)
	}
}

// jsonScanner reads the few JSON forms scanAddItem takes.
type jsonScanner struct {
	b []byte
	i int
}

// space skips JSON whitespace.
func (s *jsonScanner) space() {
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

// take skips whitespace and then c, reporting whether c was there.
func (s *jsonScanner) take(c byte) bool {
	s.space()
	if s.i < len(s.b) && s.b[s.i] == c {
		s.i++
		return true
	}
	return false
}

// plainString reads a string of printable ASCII without escapes.
func (s *jsonScanner) plainString() (string, bool) {
	if !s.take('"') {
		return "", false
	}
	start := s.i
	for s.i < len(s.b) {
		switch c := s.b[s.i]; {
		case c == '"':
			v := string(s.b[start:s.i])
			s.i++
			return v, true
		case c == '\\' || c < 0x20 || c >= 0x7f:
			return "", false
		}
		s.i++
	}
	return "", false
}

// plainInt reads 0 or a positive integer of at most 18 digits, so that it
// fits an int64. A fraction or an exponent after it is not a comma or a
// brace: scanAddItem declines the body there.
func (s *jsonScanner) plainInt() (int64, bool) {
	s.space()
	start := s.i
	var v int64
	for s.i < len(s.b) && '0' <= s.b[s.i] && s.b[s.i] <= '9' {
		v = v*10 + int64(s.b[s.i]-'0')
		s.i++
	}
	if n := s.i - start; n == 0 || n > 18 || (n > 1 && s.b[start] == '0') {
		return 0, false
	}
	return v, true
}
