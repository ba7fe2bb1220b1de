package h1

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"reflect"
	"slices"
	"strings"
	"testing"
)

// smugglingSeeds are heads that proxies and servers have read in
// different ways (request smuggling), and other edges of the grammar.
var smugglingSeeds = []string{
	// Content-Length and Transfer-Encoding together, either order.
	"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 6\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n",
	"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Length: 4\r\n\r\n1\r\nZ\r\n0\r\n\r\n",
	"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Length: x\r\n\r\n0\r\n\r\n",
	// Transfer-Encoding spelled in ways some read as chunked.
	"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
	"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding:  chunked\r\n\r\n0\r\n\r\n",
	"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding:\tchunked \r\n\r\n0\r\n\r\n",
	"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding : chunked\r\n\r\n0\r\n\r\n",
	"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding:\r\n chunked\r\n\r\n0\r\n\r\n",
	"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked, identity\r\n\r\n0\r\n\r\n",
	"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: identity, chunked\r\n\r\n0\r\n\r\n",
	"POST / HTTP/1.1\r\nHost: x\r\nTransfer-encoding: CHUNKED\r\n\r\n0\r\n\r\n",
	"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: xchunked\r\n\r\n0\r\n\r\n",
	"POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\nabc",
	// Content-Length that is not plain digits, or not one number.
	"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: +1\r\n\r\nZ",
	"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\nZ",
	"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1, 1\r\n\r\nZ",
	"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1 1\r\n\r\nZ",
	"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 0x1\r\n\r\nZ",
	"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1_0\r\n\r\nZ",
	"POST / HTTP/1.1\r\nHost: x\r\nContent-Length:\r\n\r\nZ",
	"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999999999999\r\n\r\nZ",
	"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nZZ",
	"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\nZZ",
	"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 007\r\n\r\nabcdefg",
	"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nshort",
	// Line ends and bytes that some take for something else.
	"GET / HTTP/1.1\nHost: x\n\n",
	"GET / HTTP/1.1\r\nHost: x\n\r\n",
	"GET / HTTP/1.1\r\nHost: x\rX: y\r\n\r\n",
	"GET / HTTP/1.1\r\nHost: x\r\nX: a\x00b\r\n\r\n",
	"GET /\x00 HTTP/1.1\r\nHost: x\r\n\r\n",
	"GET / HTTP/1.1\r\nHost: x\r\nX: a\r\n b\r\n\r\n",
	"GET / HTTP/1.1\r\n Host: x\r\n\r\n",
	"GET / HTTP/1.1\r\nHost : x\r\n\r\n",
	"GET / HTTP/1.1\r\nHost\t: x\r\n\r\n",
	"GET / HTTP/1.1\r\nHost: x\r\nHost: y\r\n\r\n",
	"0 /header?v=0%00 HTTP/1.0\n0000:0\n\n",
	// Request targets and versions.
	"GET http://a.example/p?q HTTP/1.1\r\nHost: b.example\r\n\r\n",
	"CONNECT a.example:443 HTTP/1.1\r\nHost: a.example:443\r\n\r\n",
	"CONNECT /rpc HTTP/1.1\r\nHost: x\r\n\r\n",
	"OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n",
	"GET  / HTTP/1.1\r\nHost: x\r\n\r\n",
	"GET / HTTP/1.2\r\nHost: x\r\n\r\n",
	"GET / HTTP/0.9\r\n\r\n",
	"GET / http/1.1\r\nHost: x\r\n\r\n",
	"G@T / HTTP/1.1\r\nHost: x\r\n\r\n",
	// Chunked bodies: extensions, trailers, bare LFs.
	"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3;ext=1\r\nabc\r\n0\r\nX-T: 1\r\n\r\nGET / HTTP/1.1\r\n\r\n",
	"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\nabc\r\n0\r\n\r\n",
	"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nX-T: 1\n\r\n\r\n\r\n",
	"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nTrailer: Content-Length\r\n\r\n0\r\n\r\n",
	"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nTrailer: X-T\r\n\r\n0\r\nX-T: 1\r\n\r\n",
	// Connection and Pragma.
	"GET / HTTP/1.0\r\nConnection: keep-alive, close\r\n\r\n",
	"GET / HTTP/1.1\r\nHost: x\r\nConnection: Close\r\n\r\n",
	"GET / HTTP/1.1\r\nHost: x\r\nPragma: no-cache\r\n\r\n",
	"GET / HTTP/1.1\r\nhost: x\r\ncontent-type: a\r\nx-LONG-name: b\r\n\r\n",
}

// FuzzReadRequest reads arbitrary bytes with the head's reader and with
// http.ReadRequest. What the head's reader accepts, http.ReadRequest
// must accept too, into the same request: method, URL, protocol, header,
// host, target, framing, connection, and a body that reads the same
// bytes, ends the same way and leaves the same bytes after it.
//
// The head's reader is stricter, refusing what http.ReadRequest accepts,
// in these cases only (see stricter):
//
//   - a line that ends in a bare LF (RFC 9112, 2.2: a server MAY accept
//     it; a proxy that does not sees another request);
//   - a field line that starts with white space, obs-fold (RFC 9112, 5.2:
//     reject with 400 or replace it);
//   - a field name with a space, before the colon or within (RFC 9112,
//     5.1: MUST reject with 400);
//   - an HTTP version other than 1.0 and 1.1 (505 rather than served);
//   - Transfer-Encoding in an HTTP/1.0 request (RFC 9112, 6.1: the
//     framing is faulty);
//   - in a chunked body's trailer section, the same line and field rules
//     as in the header (the body's read fails).
//
// It also differs in one field: a request with both Transfer-Encoding
// and Content-Length has Close set (RFC 9112, 6.3: the server MUST close
// the connection after answering it).
func FuzzReadRequest(f *testing.F) {
	for _, seed := range slices.Concat(serveSeeds, smugglingSeeds) {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		t.Run("alone", func(t *testing.T) { requireReadAsNetHTTP(t, nil, in) })
		t.Run("after another", func(t *testing.T) { requireReadAsNetHTTP(t, []byte(earlierRequest), in) })
	})
}

// earlierRequest is read before a fuzzed request on the same connection:
// its fields, target, length and Close must not show in the next request,
// which a connection reads into the same structures.
const earlierRequest = "POST /earlier/path?q=1 HTTP/1.1\r\nHost: earlier\r\nX-A: 1\r\nX-A: 2\r\nX-B: 3\r\n" +
	"Connection: close\r\nPragma: no-cache\r\nContent-Length: 3\r\n\r\nabc"

// requireReadAsNetHTTP reads the request in from a connection that sent
// first, read to the end of its body, and requires it to be
// http.ReadRequest's reading of in, or refused where this package is
// stricter.
func requireReadAsNetHTTP(t *testing.T, first, in []byte) {
	h := headReader{br: bufio.NewReaderSize(bytes.NewReader(slices.Concat(first, in)), 4<<10)}
	if first != nil {
		r, err := h.readRequest(context.Background())
		if err != nil {
			t.Fatalf("the earlier request: %v", err)
		}
		if _, err := io.Copy(io.Discard, r.Body); err != nil {
			t.Fatalf("the earlier request's body: %v", err)
		}
	}
	got, err := h.readRequest(context.Background())
	wantBR := bufio.NewReaderSize(bytes.NewReader(in), 4<<10)
	want, wantErr := http.ReadRequest(wantBR)
	if err != nil {
		if wantErr == nil && !stricter(err, want) {
			t.Fatalf("refused what net/http accepts, in no listed case: %v", err)
		}
		return
	}
	if wantErr != nil {
		t.Fatalf("accepted what net/http refuses: %v", wantErr)
	}
	if got.TransferEncoding != nil && slices.ContainsFunc(h.fields, func(f fieldSpan) bool { return f.name == "Content-Length" }) {
		want.Close = true
	}
	requireSameRequest(t, got, want)
	requireSameBody(t, got, h.br, want, wantBR)
}

// stricter reports whether err refuses, in one of the cases
// FuzzReadRequest lists, a request that http.ReadRequest read as want.
func stricter(err error, want *http.Request) bool {
	switch err {
	case errBareLF, errObsFold:
		return true
	case errVersionNotSupported:
		return want.ProtoMajor != 1 || want.ProtoMinor > 1
	case errEncoding10:
		return want.ProtoMinor == 0
	case errFieldName:
		for k := range want.Header {
			if strings.Contains(k, " ") {
				return true
			}
		}
	}
	return false
}

// requireSameRequest fails unless got and want hold the same head.
func requireSameRequest(t *testing.T, got, want *http.Request) {
	t.Helper()
	for _, f := range []struct {
		name      string
		got, want any
	}{
		{"Method", got.Method, want.Method},
		{"URL", got.URL, want.URL},
		{"Proto", got.Proto, want.Proto},
		{"ProtoMajor", got.ProtoMajor, want.ProtoMajor},
		{"ProtoMinor", got.ProtoMinor, want.ProtoMinor},
		{"Header", got.Header, want.Header},
		{"Host", got.Host, want.Host},
		{"RequestURI", got.RequestURI, want.RequestURI},
		{"ContentLength", got.ContentLength, want.ContentLength},
		{"TransferEncoding", got.TransferEncoding, want.TransferEncoding},
		{"Close", got.Close, want.Close},
		{"no body", got.Body == http.NoBody, want.Body == http.NoBody},
	} {
		if !reflect.DeepEqual(f.got, f.want) {
			t.Fatalf("%s: got %#v, net/http has %#v", f.name, f.got, f.want)
		}
	}
}

// requireSameBody fails unless both bodies read the same bytes and end
// the same way (or got's fails where the head's reader is stricter), and,
// when both end well, leave the same bytes after them on their readers.
func requireSameBody(t *testing.T, got *http.Request, gotRest io.Reader, want *http.Request, wantRest io.Reader) {
	t.Helper()
	gotBytes, gotErr := io.ReadAll(got.Body)
	wantBytes, wantErr := io.ReadAll(want.Body)
	if !bytes.Equal(gotBytes, wantBytes) {
		t.Fatalf("body: got %q, net/http reads %q", gotBytes, wantBytes)
	}
	switch {
	case gotErr == nil && wantErr != nil:
		t.Fatalf("body: read to its end where net/http fails: %v", wantErr)
	case gotErr != nil && wantErr == nil && !stricterTrailer(gotErr, want.Trailer):
		t.Fatalf("body: failed where net/http reads to its end: %v", gotErr)
	case gotErr != nil && wantErr != nil && !sameFailure(gotErr, wantErr):
		t.Fatalf("body: fails with %v, net/http with %v", gotErr, wantErr)
	case gotErr == nil:
		gotAfter, _ := io.ReadAll(gotRest)
		wantAfter, _ := io.ReadAll(wantRest)
		if !bytes.Equal(gotAfter, wantAfter) {
			t.Fatalf("after the body: got %q, net/http leaves %q", gotAfter, wantAfter)
		}
	}
}

// sameFailure reports whether two bodies failed alike: both cut short by
// the connection's end, or both otherwise. In a trailer section, which
// net/http reads as a header, its errors are its own.
func sameFailure(got, want error) bool {
	if strings.Contains(want.Error(), "trailer") {
		return true
	}
	return errors.Is(got, io.ErrUnexpectedEOF) == errors.Is(want, io.ErrUnexpectedEOF)
}

// stricterTrailer reports whether err is a trailer section refused in
// one of the cases FuzzReadRequest lists, which net/http read as
// trailer.
func stricterTrailer(err error, trailer http.Header) bool {
	switch err {
	case errBareLF, errObsFold:
		return true
	case errFieldName:
		for k := range trailer {
			if strings.Contains(k, " ") {
				return true
			}
		}
	}
	return false
}
