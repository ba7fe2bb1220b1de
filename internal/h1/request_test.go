package h1

import (
	"bufio"
	"context"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"unsafe"

	"github.com/stretchr/testify/require"
)

// readHead reads one request from in with a head's reader over a buffer
// of the connection's size, and returns the reader too.
func readHead(in string) (*http.Request, *headReader, error) {
	h := &headReader{br: bufio.NewReaderSize(strings.NewReader(in), 4<<10)}
	r, err := h.readRequest(context.Background())
	return r, h, err
}

// headCase is a request head read well: the request read from in is want
// in Method, URL, Proto, Header, Host, RequestURI, ContentLength,
// TransferEncoding and Close.
type headCase struct {
	name, in string
	want     http.Request
}

// headCases are the heads TestReadRequestHeads reads, each with the
// request it must give.
func headCases() []headCase {
	longValue := strings.Repeat("v", 6<<10) // past the reader's buffer
	longName := "X-" + strings.Repeat("n", 80)
	return []headCase{
		{"origin form",
			"GET /a/b?c=d HTTP/1.1\r\nHost: x\r\n\r\n",
			http.Request{Method: "GET", URL: &url.URL{Path: "/a/b", RawQuery: "c=d"}, Proto: "HTTP/1.1", ProtoMinor: 1,
				Header: http.Header{}, Host: "x", RequestURI: "/a/b?c=d"}},
		{"absolute form: its host, not the Host header's",
			"GET http://a.example/p HTTP/1.1\r\nHost: b.example\r\n\r\n",
			http.Request{Method: "GET", URL: &url.URL{Scheme: "http", Host: "a.example", Path: "/p"}, Proto: "HTTP/1.1", ProtoMinor: 1,
				Header: http.Header{}, Host: "a.example", RequestURI: "http://a.example/p"}},
		{"asterisk form",
			"OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n",
			http.Request{Method: "OPTIONS", URL: &url.URL{Path: "*"}, Proto: "HTTP/1.1", ProtoMinor: 1,
				Header: http.Header{}, Host: "x", RequestURI: "*"}},
		{"authority form",
			"CONNECT a.example:443 HTTP/1.1\r\nHost: a.example:443\r\n\r\n",
			http.Request{Method: "CONNECT", URL: &url.URL{Host: "a.example:443"}, Proto: "HTTP/1.1", ProtoMinor: 1,
				Header: http.Header{}, Host: "a.example:443", RequestURI: "a.example:443"}},
		{"an uncommon method",
			"PROPFIND / HTTP/1.1\r\nHost: x\r\n\r\n",
			http.Request{Method: "PROPFIND", URL: &url.URL{Path: "/"}, Proto: "HTTP/1.1", ProtoMinor: 1,
				Header: http.Header{}, Host: "x", RequestURI: "/"}},
		{"HTTP/1.0 closes unless asked to keep alive",
			"GET / HTTP/1.0\r\n\r\n",
			http.Request{Method: "GET", URL: &url.URL{Path: "/"}, Proto: "HTTP/1.0", ProtoMinor: 0,
				Header: http.Header{}, RequestURI: "/", Close: true}},
		{"HTTP/1.0 with keep-alive",
			"GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n",
			http.Request{Method: "GET", URL: &url.URL{Path: "/"}, Proto: "HTTP/1.0", ProtoMinor: 0,
				Header: http.Header{"Connection": {"Keep-Alive"}}, RequestURI: "/"}},
		{"HTTP/1.1 with close in a list",
			"GET / HTTP/1.1\r\nHost: x\r\nConnection: keep-alive,\t close \r\n\r\n",
			http.Request{Method: "GET", URL: &url.URL{Path: "/"}, Proto: "HTTP/1.1", ProtoMinor: 1,
				Header: http.Header{"Connection": {"keep-alive,\t close"}}, Host: "x", RequestURI: "/", Close: true}},
		{"names made canonical, values trimmed and kept in order",
			"GET / HTTP/1.1\r\nhost: x\r\ncontent-TYPE:  a/b \t\r\nX-Multi: 1\r\nx-multi: 2\r\nX-Empty:\r\n" + longName + ": n\r\n\r\n",
			http.Request{Method: "GET", URL: &url.URL{Path: "/"}, Proto: "HTTP/1.1", ProtoMinor: 1,
				Header: http.Header{"Content-Type": {"a/b"}, "X-Multi": {"1", "2"}, "X-Empty": {""},
					http.CanonicalHeaderKey(longName): {"n"}},
				Host: "x", RequestURI: "/"}},
		{"a line longer than the reader's buffer",
			"GET / HTTP/1.1\r\nHost: x\r\nX-Long: " + longValue + "\r\n\r\n",
			http.Request{Method: "GET", URL: &url.URL{Path: "/"}, Proto: "HTTP/1.1", ProtoMinor: 1,
				Header: http.Header{"X-Long": {longValue}}, Host: "x", RequestURI: "/"}},
		{"a body by its length",
			"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc",
			http.Request{Method: "POST", URL: &url.URL{Path: "/"}, Proto: "HTTP/1.1", ProtoMinor: 1,
				Header: http.Header{"Content-Length": {"3"}}, Host: "x", RequestURI: "/", ContentLength: 3}},
		{"equal lengths kept once",
			"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\nabc",
			http.Request{Method: "POST", URL: &url.URL{Path: "/"}, Proto: "HTTP/1.1", ProtoMinor: 1,
				Header: http.Header{"Content-Length": {"3"}}, Host: "x", RequestURI: "/", ContentLength: 3}},
		{"a zero length",
			"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 000\r\n\r\n",
			http.Request{Method: "POST", URL: &url.URL{Path: "/"}, Proto: "HTTP/1.1", ProtoMinor: 1,
				Header: http.Header{"Content-Length": {"000"}}, Host: "x", RequestURI: "/"}},
		{"chunked, in any case",
			"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: Chunked\r\n\r\n0\r\n\r\n",
			http.Request{Method: "POST", URL: &url.URL{Path: "/"}, Proto: "HTTP/1.1", ProtoMinor: 1,
				Header: http.Header{}, Host: "x", RequestURI: "/", ContentLength: -1, TransferEncoding: []string{"chunked"}}},
		{"chunked drops the length and closes",
			"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
			http.Request{Method: "POST", URL: &url.URL{Path: "/"}, Proto: "HTTP/1.1", ProtoMinor: 1,
				Header: http.Header{}, Host: "x", RequestURI: "/", ContentLength: -1, TransferEncoding: []string{"chunked"}, Close: true}},
		{"chunked drops Trailer",
			"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nTrailer: X-Sum\r\n\r\n0\r\n\r\n",
			http.Request{Method: "POST", URL: &url.URL{Path: "/"}, Proto: "HTTP/1.1", ProtoMinor: 1,
				Header: http.Header{}, Host: "x", RequestURI: "/", ContentLength: -1, TransferEncoding: []string{"chunked"}}},
		{"Pragma: no-cache is Cache-Control: no-cache",
			"GET / HTTP/1.1\r\nHost: x\r\nPragma: no-cache\r\n\r\n",
			http.Request{Method: "GET", URL: &url.URL{Path: "/"}, Proto: "HTTP/1.1", ProtoMinor: 1,
				Header: http.Header{"Pragma": {"no-cache"}, "Cache-Control": {"no-cache"}}, Host: "x", RequestURI: "/"}},
	}
}

func TestReadRequestHeads(t *testing.T) {
	for _, tt := range headCases() {
		t.Run(tt.name, func(t *testing.T) {
			got, _, err := readHead(tt.in)
			require.NoError(t, err)
			tt.want.ProtoMajor = 1
			if tt.want.ContentLength == 0 {
				tt.want.Body = http.NoBody
			}
			requireSameRequest(t, got, &tt.want)
			want, err := http.ReadRequest(bufio.NewReader(strings.NewReader(tt.in)))
			require.NoError(t, err)
			if !tt.want.Close || want.Close {
				requireSameRequest(t, got, want) // and as net/http reads it
			}
		})
	}
}

func TestReadRequestRefuses(t *testing.T) {
	tests := []struct {
		name, in string
		want     error
	}{
		{"a bare LF after the request line", "GET / HTTP/1.1\nHost: x\r\n\r\n", errBareLF},
		{"a bare LF after a field", "GET / HTTP/1.1\r\nHost: x\n\r\n", errBareLF},
		{"a bare LF ending the head", "GET / HTTP/1.1\r\nHost: x\r\n\n", errBareLF},
		{"a bare CR", "GET / HTTP/1.1\r\nHost: x\rX: y\r\n\r\n", errFieldValue},
		{"no target", "GET HTTP/1.1\r\nHost: x\r\n\r\n", errRequestLine},
		{"two spaces", "GET  / HTTP/1.1\r\nHost: x\r\n\r\n", errVersion},
		{"an empty target", "GET  HTTP/1.1\r\nHost: x\r\n\r\n", errTarget},
		{"a space after the version", "GET / HTTP/1.1 \r\nHost: x\r\n\r\n", errVersion},
		{"a tab for a space", "GET\t/ HTTP/1.1\r\nHost: x\r\n\r\n", errRequestLine},
		{"a method that is not a token", "G@T / HTTP/1.1\r\nHost: x\r\n\r\n", errMethod},
		{"a target that is not a path", "GET a/b HTTP/1.1\r\nHost: x\r\n\r\n", errTarget},
		{"a NUL in the target", "GET /\x00 HTTP/1.1\r\nHost: x\r\n\r\n", errTarget},
		{"a version in lower case", "GET / http/1.1\r\nHost: x\r\n\r\n", errVersion},
		{"a version of two digits", "GET / HTTP/1.10\r\nHost: x\r\n\r\n", errVersion},
		{"HTTP/1.2", "GET / HTTP/1.2\r\nHost: x\r\n\r\n", errVersionNotSupported},
		{"HTTP/2.0", "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", errVersionNotSupported},
		{"HTTP/0.9", "GET / HTTP/0.9\r\n\r\n", errVersionNotSupported},
		{"obs-fold", "GET / HTTP/1.1\r\nHost: x\r\nX: a\r\n b\r\n\r\n", errObsFold},
		{"a first field folded", "GET / HTTP/1.1\r\n\tHost: x\r\n\r\n", errObsFold},
		{"a space before the colon", "GET / HTTP/1.1\r\nHost : x\r\n\r\n", errFieldName},
		{"a tab before the colon", "GET / HTTP/1.1\r\nHost\t: x\r\n\r\n", errFieldName},
		{"a space in a name", "GET / HTTP/1.1\r\nHost: x\r\nX Y: 1\r\n\r\n", errFieldName},
		{"no name", "GET / HTTP/1.1\r\nHost: x\r\n: 1\r\n\r\n", errFieldName},
		{"no colon", "GET / HTTP/1.1\r\nHost: x\r\nX\r\n\r\n", errFieldLine},
		{"a NUL in a value", "GET / HTTP/1.1\r\nHost: x\r\nX: a\x00b\r\n\r\n", errFieldValue},
		{"a DEL in a value", "GET / HTTP/1.1\r\nHost: x\r\nX: a\x7fb\r\n\r\n", errFieldValue},
		{"two Hosts", "GET / HTTP/1.1\r\nHost: x\r\nHost: y\r\n\r\n", errManyHosts},
		{"two Hosts, one target", "GET http://a/ HTTP/1.1\r\nHost: x\r\nHost: x\r\n\r\n", errManyHosts},
		{"gzip", "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n", errEncoding},
		{"chunked twice", "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n", errEncoding},
		{"chunked twice in a list", "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked, chunked\r\n\r\n", errEncoding},
		{"chunked after another coding", "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: identity, chunked\r\n\r\n", errEncoding},
		{"no coding", "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding:\r\n\r\n", errEncoding},
		{"a Kelvin sign for a k", "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chun\u212aed\r\n\r\n", errEncoding},
		{"chunked in HTTP/1.0", "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\nabc", errEncoding10},
		{"a length with a sign", "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: +1\r\n\r\nZ", errLength},
		{"a negative length", "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\nZ", errLength},
		{"a list of lengths", "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1, 1\r\n\r\nZ", errLength},
		{"a space in a length", "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1 1\r\n\r\nZ", errLength},
		{"a length in hex", "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 0x1\r\n\r\nZ", errLength},
		{"an empty length", "POST / HTTP/1.1\r\nHost: x\r\nContent-Length:\r\n\r\n", errLength},
		{"a length past int64", "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 9223372036854775808\r\n\r\n", errLength},
		{"lengths that differ", "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nZZ", errLengths},
		{"a bad length beside chunked", "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Length: x\r\n\r\n0\r\n\r\n", errLength},
		{"a framing field announced as trailer", "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nTrailer: X, content-length\r\n\r\n0\r\n\r\n", errTrailerField},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := readHead(tt.in)
			require.Equal(t, tt.want, err)
		})
	}
}

func TestReadRequestStatusCodes(t *testing.T) {
	for err, code := range map[error]int{
		errBareLF:              http.StatusBadRequest,
		errFieldName:           http.StatusBadRequest,
		errVersionNotSupported: http.StatusHTTPVersionNotSupported,
		errEncoding:            http.StatusNotImplemented, // as net/http's server answers
		errEncoding10:          http.StatusBadRequest,
	} {
		var re *requestError
		require.ErrorAs(t, err, &re)
		require.Equal(t, code, re.code, "%v", err)
	}
}

func TestReadRequestEndsAtTheConnectionsEnd(t *testing.T) {
	for _, in := range []string{"", "GET / HTTP/1.1", "GET / HTTP/1.1\r\nHost: x\r\n", "GET / HTTP/1.1\r\nHost: x\r"} {
		_, _, err := readHead(in)
		require.ErrorIs(t, err, io.EOF, "%q", in)
	}
}

func TestRequestBodyFraming(t *testing.T) {
	const next = "GET /next HTTP/1.1\r\nHost: x\r\n\r\n"
	tests := []struct {
		name, in, body string
		err            error // after the body's bytes; nil: io.EOF, then the next request
	}{
		{"by length", "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello" + next, "hello", nil},
		{"shorter than its length", "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nhello", "hello", io.ErrUnexpectedEOF},
		{"chunked", "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3;x=y\r\nabc\r\n2\r\nde\r\n0\r\n\r\n" + next, "abcde", nil},
		{"chunked with a trailer", "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n1\r\na\r\n0\r\nX-Sum: 1\r\nX-Other: 2\r\n\r\n" + next, "a", nil},
		{"chunked, cut short", "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab", "ab", io.ErrUnexpectedEOF},
		{"chunked, its trailer cut short", "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nX-Sum: 1\r\n", "", io.ErrUnexpectedEOF},
		{"a trailer line that ends in a bare LF", "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nX: 1\n\r\n" + next, "", errBareLF},
		{"a folded trailer line", "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nX: 1\r\n 2\r\n\r\n" + next, "", errObsFold},
		{"a trailer line with no colon", "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nGET / HTTP/1.1\r\n\r\n", "", errFieldLine},
		{"a trailer past its bound", "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n" +
			strings.Repeat("X: "+strings.Repeat("v", 100)+"\r\n", 41) + "\r\n", "", errTrailerTooLong},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, h, err := readHead(tt.in)
			require.NoError(t, err)
			b, err := io.ReadAll(r.Body)
			require.Equal(t, tt.body, string(b))
			if tt.err != nil {
				require.Equal(t, tt.err, err)
				_, err = r.Body.Read(make([]byte, 1))
				require.Equal(t, tt.err, err, "the error stays")
				return
			}
			require.NoError(t, err)
			r, err = h.readRequest(context.Background())
			require.NoError(t, err, "the body ends where the next request starts")
			require.Equal(t, "/next", r.URL.Path)
		})
	}
}

func TestAShortHeadIsOneString(t *testing.T) {
	// follows reports whether s lies in memory within n bytes after the
	// start of from.
	follows := func(s, from string, n int) bool {
		p, start := uintptr(unsafe.Pointer(unsafe.StringData(s))), uintptr(unsafe.Pointer(unsafe.StringData(from)))
		return start <= p && p < start+uintptr(n)
	}
	r, _, err := readHead("GET /p HTTP/1.1\r\nHost: x\r\nIdempotency-Key: k1\r\n\r\n")
	require.NoError(t, err)
	require.True(t, follows(r.Header.Get("Idempotency-Key"), r.RequestURI, 16), "the target and values share one string")
	require.True(t, follows(r.Host, r.RequestURI, 16))

	// Past the bound, a value kept does not keep the rest: a head of a
	// few KiB is not kept for a key.
	pad := strings.Repeat("p", 2<<10)
	r, _, err = readHead("GET /p HTTP/1.1\r\nHost: x\r\nX-Pad: " + pad + "\r\nIdempotency-Key: k1\r\n\r\n")
	require.NoError(t, err)
	require.Equal(t, pad, r.Header.Get("X-Pad"))
	require.Equal(t, "k1", r.Header.Get("Idempotency-Key"))
	require.False(t, follows(r.Header.Get("Idempotency-Key"), r.Header.Get("X-Pad"), len(pad)+16), "each value is a string of its own")
	require.Equal(t, "x", r.Host)
}

func TestFixedBodyEndsWithItsLastBytes(t *testing.T) {
	r, _, err := readHead("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc")
	require.NoError(t, err)
	n, err := r.Body.Read(make([]byte, 10))
	require.Equal(t, 3, n)
	require.Equal(t, io.EOF, err, "no further read is needed to know the body ended")
}

func TestCommonNamesAreInterned(t *testing.T) {
	for _, name := range []string{
		"Host", "Content-Type", "Content-Length", "Transfer-Encoding", "Connection", "Expect",
		"Prefer", "Idempotency-Key", "Authorization", "User-Agent", "Accept", "Accept-Encoding",
		"Last-Event-ID", "If-None-Match", "Cache-Control",
	} {
		canonical := http.CanonicalHeaderKey(name)
		require.Equal(t, canonical, commonName([]byte(canonical)), "%s is interned as net/http spells it", name)
		lower := []byte(strings.ToLower(name))
		require.Zero(t, testing.AllocsPerRun(10, func() { canonicalName(lower) }), name)
	}
	require.Empty(t, commonName([]byte("X-Other")))
}

func TestReadingAHeadAllocatesLittle(t *testing.T) {
	const in = "POST /v1/carts/c1/items HTTP/1.1\r\nHost: bench\r\nContent-Type: application/json\r\n" +
		"Content-Length: 25\r\nidempotency-key: k1\r\n\r\n"
	src := strings.NewReader(in)
	h := &headReader{br: bufio.NewReaderSize(src, 4<<10)}
	ctx := context.Background()
	allocs := testing.AllocsPerRun(100, func() {
		src.Reset(in)
		h.br.Reset(src)
		if _, err := h.readRequest(ctx); err != nil {
			t.Fatal(err)
		}
	})
	// The one string of the target and values; the request, its URL,
	// header map and body reader are the connection's.
	require.LessOrEqual(t, allocs, 1.0)
}

func TestAServerClosesAfterARequestWithLengthAndChunked(t *testing.T) {
	_, addr := startServer(t, echoBody, nil)
	c := dialRaw(t, addr)
	c.send("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 30\r\nTransfer-Encoding: chunked\r\n\r\n" +
		"1\r\nZ\r\n0\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n")
	resp, body := c.answer("POST")
	require.Equal(t, "Z", body, "the body is chunked")
	require.True(t, resp.Close)
	c.requireClosed() // the request after it is not served
}

func TestAServerReadsAHeaderLineLongerThanItsBuffer(t *testing.T) {
	_, addr := startServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, r.Header.Get("X-Long"))
	}), nil)
	long := strings.Repeat("v", 20<<10)
	c := dialRaw(t, addr)
	c.send("GET / HTTP/1.1\r\nHost: x\r\nX-Long: " + long + "\r\n\r\n")
	_, body := c.answer("GET")
	require.Equal(t, long, body)
}

func TestARequestHasTheContextItIsReadWith(t *testing.T) {
	type key struct{}
	ctx := context.WithValue(context.Background(), key{}, "v")
	h := &headReader{br: bufio.NewReader(strings.NewReader("GET / HTTP/1.1\r\nHost: x\r\n\r\n"))}
	r, err := h.readRequest(ctx)
	require.NoError(t, err)
	require.Equal(t, "v", r.Context().Value(key{}))
}
