package h1

import (
	"bufio"
	"bytes"
	"context"
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

// headReader reads the heads of the requests of one connection: the
// request line and the header fields (RFC 9112, 3 and 5), into the
// *http.Request that http.ReadRequest would return. Its buffers, and the
// request, header map, URL and body reader it fills, are kept from one
// request to the next, so that a small request costs one allocation: one
// string that holds the target and every value (see maxSharedText).
//
// It is stricter than http.ReadRequest where RFC 9112 allows a server to
// refuse what could be read two ways, so that a proxy in front of the
// server and the server cannot disagree on where a request ends: lines
// end with CRLF, never a bare LF; a field line that starts with white
// space (obs-fold) and a field name with white space before its colon
// are refused; only HTTP/1.0 and HTTP/1.1 are read; an HTTP/1.0 request
// with Transfer-Encoding is refused; a request with both
// Transfer-Encoding and Content-Length closes its connection.
type headReader struct {
	br *bufio.Reader
	// long holds a line longer than br's buffer, put together.
	long []byte
	// text holds the request target and then every field value, to be
	// made one string.
	text []byte
	// fields are the head's fields in order, until the header map is
	// made; but Host, which http.ReadRequest takes out of the header.
	fields []fieldSpan
	// host is the last Host field, and hosts their number.
	host  fieldSpan
	hosts int

	// The request a handler gets and what it points to are the
	// connection's, made once and filled again for each request (the
	// Server's contract: a handler keeps none of them after it returns).
	// blank is req as made, with the connection's context.
	req    *http.Request
	blank  http.Request
	header http.Header
	values []string
	url    url.URL
	fixed  fixedBody
}

// fieldSpan is a header field read: its canonical name, and where its
// value lies in the head's text.
type fieldSpan struct {
	name       string
	start, end int
}

// Errors of a malformed head, each answered with 400.
var (
	errBareLF       = badRequest("malformed HTTP request: a line ends in a bare LF")
	errRequestLine  = badRequest("malformed HTTP request")
	errMethod       = badRequest("invalid method")
	errTarget       = badRequest("malformed request target")
	errVersion      = badRequest("malformed HTTP version")
	errObsFold      = badRequest("malformed header: a line folded onto the one before")
	errFieldLine    = badRequest("malformed header line")
	errFieldName    = badRequest("invalid header name")
	errFieldValue   = badRequest("invalid header value")
	errManyHosts    = badRequest("too many Host headers")
	errLength       = badRequest("invalid Content-Length")
	errLengths      = badRequest("conflicting Content-Length headers")
	errEncoding10   = badRequest("Transfer-Encoding in an HTTP/1.0 request")
	errTrailerField = badRequest("invalid Trailer header")
)

// errVersionNotSupported is an HTTP version other than 1.0 and 1.1.
var errVersionNotSupported = &requestError{http.StatusHTTPVersionNotSupported, "unsupported protocol version"}

// errEncoding is a transfer coding other than chunked, or more than one:
// answered 501 as RFC 9112 (6.1) and net/http's server do.
var errEncoding = &requestError{http.StatusNotImplemented, "unsupported transfer encoding"}

// badRequest is a malformed request, answered with 400.
func badRequest(msg string) *requestError {
	return &requestError{http.StatusBadRequest, msg}
}

// readRequest reads the next request's head and returns the request,
// with ctx as its context and its body ready to read from the
// connection. A head the server does not serve is a *requestError; any
// other error is the connection's.
func (h *headReader) readRequest(ctx context.Context) (*http.Request, error) {
	defer h.trimBuffers()
	method, minor, err := h.readRequestLine()
	if err != nil {
		return nil, err
	}
	target := fieldSpan{end: len(h.text)}
	if err := h.readFields(); err != nil {
		return nil, err
	}
	text := h.sharedText()
	r := h.request(ctx)
	r.Method = method
	r.Proto = "HTTP/1.1"
	r.ProtoMajor, r.ProtoMinor = 1, minor
	r.Header = h.fillHeader(text)
	r.RequestURI = h.value(text, target)
	if minor == 0 {
		r.Proto = "HTTP/1.0"
	}
	if r.URL, err = h.parseTarget(method, r.RequestURI); err != nil {
		return nil, errTarget
	}
	if r.Host, err = h.hostOf(r.URL, text); err != nil {
		return nil, err
	}
	fixPragma(r.Header)
	if err := h.frame(r); err != nil {
		return nil, err
	}
	return r, nil
}

// request returns the connection's request, blank, with ctx as its
// context. (A request's context can only be set by copying it: the copy
// is made once per connection, not once per request.)
func (h *headReader) request(ctx context.Context) *http.Request {
	if h.req == nil || h.blank.Context() != ctx {
		h.req = (&http.Request{}).WithContext(ctx)
		h.blank = *h.req
	}
	*h.req = h.blank
	return h.req
}

// readRequestLine reads "method SP request-target SP HTTP-version"
// (RFC 9112, 3), leaves the target at the start of h.text, and returns
// the method and the version's minor number.
func (h *headReader) readRequestLine() (method string, minor int, err error) {
	line, err := h.readLine()
	if err != nil {
		return "", 0, err
	}
	m, rest, ok1 := bytes.Cut(line, []byte{' '})
	target, version, ok2 := bytes.Cut(rest, []byte{' '})
	if !ok1 || !ok2 {
		return "", 0, errRequestLine
	}
	if !isToken(m) {
		return "", 0, errMethod
	}
	if minor, err = parseVersion(version); err != nil {
		return "", 0, err
	}
	h.text = append(h.text[:0], target...)
	return methodName(m), minor, nil
}

// parseVersion returns the minor number of HTTP/1.0 and HTTP/1.1. Another
// version of the form HTTP/x.y is not supported (505), anything else is
// malformed (400).
func parseVersion(v []byte) (minor int, err error) {
	switch string(v) {
	case "HTTP/1.1":
		return 1, nil
	case "HTTP/1.0":
		return 0, nil
	}
	if len(v) == len("HTTP/x.y") && string(v[:5]) == "HTTP/" && isDigit(v[5]) && v[6] == '.' && isDigit(v[7]) {
		return 0, errVersionNotSupported
	}
	return 0, errVersion
}

func isDigit(b byte) bool { return '0' <= b && b <= '9' }

// methodName returns the method, a token, as a string: the common ones
// cost no allocation.
func methodName(m []byte) string {
	switch string(m) {
	case http.MethodGet:
		return http.MethodGet
	case http.MethodPost:
		return http.MethodPost
	case http.MethodPut:
		return http.MethodPut
	case http.MethodDelete:
		return http.MethodDelete
	case http.MethodHead:
		return http.MethodHead
	case http.MethodPatch:
		return http.MethodPatch
	case http.MethodOptions:
		return http.MethodOptions
	}
	return string(m)
}

// parseTarget is the package's parseTarget, but that a plain target
// (see plainTarget), what clients of an API send, is read into the
// connection's URL without an allocation.
func (h *headReader) parseTarget(method, target string) (*url.URL, error) {
	if path, query, ok := plainTarget(target); ok {
		h.url = url.URL{Path: path, RawQuery: query}
		return &h.url, nil
	}
	return parseTarget(method, target)
}

// plainTarget splits a target of the origin form that needs no decoding:
// a path of unreserved characters (RFC 3986, 2.3) and slashes, and, after
// a "?", a nonempty query of the same and "=&+%". url.ParseRequestURI
// reads such a target as the URL with that path and raw query, and no
// other field set.
func plainTarget(target string) (path, query string, ok bool) {
	if target == "" || target[0] != '/' {
		return "", "", false
	}
	path, query, hasQuery := strings.Cut(target, "?")
	for i := 0; i < len(path); i++ {
		if c := path[i]; !isUnreserved(c) && c != '/' {
			return "", "", false
		}
	}
	if !hasQuery {
		return path, "", true
	}
	if query == "" {
		return "", "", false // "/p?" sets ForceQuery
	}
	for i := 0; i < len(query); i++ {
		if c := query[i]; !isUnreserved(c) && c != '=' && c != '&' && c != '+' && c != '%' {
			return "", "", false
		}
	}
	return path, query, true
}

// isUnreserved reports whether c is an unreserved character of a URI
// (RFC 3986, 2.3): a letter, a digit, or one of "-._~".
func isUnreserved(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || isDigit(c) || c == '-' || c == '.' || c == '_' || c == '~'
}

// parseTarget parses the request target as http.ReadRequest does: the
// origin form ("/path?query"), the absolute form ("http://host/path") and
// "*" by url.ParseRequestURI; CONNECT's authority form ("host:port") as
// the host of a URL with no scheme. A CONNECT to a path, as net/rpc
// sends, is an origin form.
func parseTarget(method, target string) (*url.URL, error) {
	if method != http.MethodConnect || strings.HasPrefix(target, "/") {
		return url.ParseRequestURI(target)
	}
	u, err := url.ParseRequestURI("http://" + target)
	if err != nil {
		return nil, err
	}
	u.Scheme = ""
	return u, nil
}

// readFields reads the header's field lines up to the empty line that
// ends the head, appending each value to h.text. Host fields are kept
// apart: http.ReadRequest makes the Host field the request's Host, and
// leaves it out of the header.
func (h *headReader) readFields() error {
	h.fields = h.fields[:0]
	h.hosts = 0
	for {
		line, err := h.readLine()
		if err != nil {
			return err
		}
		if len(line) == 0 {
			return nil
		}
		name, value, err := splitField(line)
		if err != nil {
			return err
		}
		start := len(h.text)
		h.text = append(h.text, value...)
		f := fieldSpan{canonicalName(name), start, len(h.text)}
		if f.name == "Host" {
			h.host = f
			h.hosts++
			continue
		}
		h.fields = append(h.fields, f)
	}
}

// splitField splits a field line (RFC 9112, 5) into its name, a token,
// and its value, cut of the white space around it. A line that starts
// with white space would continue the field before (obs-fold), and a
// name followed by white space may be read as another field by a proxy:
// both are refused (RFC 9112, 5.1 and 5.2), as are control characters in
// the value.
func splitField(line []byte) (name, value []byte, err error) {
	if isOWS(line[0]) {
		return nil, nil, errObsFold
	}
	name, value, ok := bytes.Cut(line, []byte{':'})
	if !ok {
		return nil, nil, errFieldLine
	}
	if !isToken(name) {
		return nil, nil, errFieldName
	}
	value = trimOWS(value)
	if !validFieldValue(value) {
		return nil, nil, errFieldValue
	}
	return name, value, nil
}

// readLine returns the next line without its CRLF, up to the bound on
// the header's size that the connection's reader sets. The line is valid
// until the next read.
func (h *headReader) readLine() ([]byte, error) {
	line, err := h.br.ReadSlice('\n')
	if err == bufio.ErrBufferFull { // longer than the buffer: put it together
		h.long = append(h.long[:0], line...)
		for err == bufio.ErrBufferFull {
			line, err = h.br.ReadSlice('\n')
			h.long = append(h.long, line...)
		}
		line = h.long
	}
	if err != nil {
		return nil, err
	}
	return cutCRLF(line)
}

// cutCRLF returns line, which ends with LF, without its CRLF. A bare LF
// is refused: RFC 9112 (2.2) lets a server accept it, but a proxy that
// does not would read the next line as part of this one.
func cutCRLF(line []byte) ([]byte, error) {
	n := len(line)
	if n < 2 || line[n-2] != '\r' {
		return nil, errBareLF
	}
	return line[:n-2], nil
}

// commonName returns the string of a canonical field name that requests
// usually have, so that reading it costs no allocation, or "" for
// another name. (A switch on string(name) converts nothing, and is
// quicker than a map.)
func commonName(name []byte) string {
	switch string(name) {
	case "Host":
		return "Host"
	case "Content-Type":
		return "Content-Type"
	case "Content-Length":
		return "Content-Length"
	case "Transfer-Encoding":
		return "Transfer-Encoding"
	case "Connection":
		return "Connection"
	case "Expect":
		return "Expect"
	case "Prefer":
		return "Prefer"
	case "Idempotency-Key":
		return "Idempotency-Key"
	case "Authorization":
		return "Authorization"
	case "User-Agent":
		return "User-Agent"
	case "Accept":
		return "Accept"
	case "Accept-Encoding":
		return "Accept-Encoding"
	case "Last-Event-Id":
		return "Last-Event-Id"
	case "If-None-Match":
		return "If-None-Match"
	case "Cache-Control":
		return "Cache-Control"
	}
	return ""
}

// maxInternedName is the longest field name canonicalName makes
// canonical in place and looks up among the common names.
const maxInternedName = 64

// canonicalName returns the canonical form of a field name, a token, as
// http.CanonicalHeaderKey does: the first letter and each letter after
// a hyphen in upper case, the others in lower case.
func canonicalName(name []byte) string {
	if len(name) > maxInternedName {
		return http.CanonicalHeaderKey(string(name))
	}
	var buf [maxInternedName]byte
	c := buf[:len(name)]
	upper := true
	for i, b := range name {
		if upper && 'a' <= b && b <= 'z' {
			b -= 'a' - 'A'
		} else if !upper && 'A' <= b && b <= 'Z' {
			b += 'a' - 'A'
		}
		c[i] = b
		upper = b == '-'
	}
	if s := commonName(c); s != "" {
		return s
	}
	return string(c)
}

// maxKeptFields is the most header fields whose map and slices a
// connection keeps for its next request.
const maxKeptFields = 64

// maxSharedText bounds the text of a head (its target and field values)
// that is made one string, shared by the request's strings. A string a
// handler keeps (an idempotency key in an index) keeps all of that one
// from being freed: past the bound, each is a string of its own, as
// net/http makes them.
const maxSharedText = 1 << 10

// sharedText returns the head's text as one string, or "" when it is
// past maxSharedText.
func (h *headReader) sharedText() string {
	if len(h.text) > maxSharedText {
		return ""
	}
	return string(h.text)
}

// value returns the text of span: a part of the head's shared text, or a
// string of its own when there is none.
func (h *headReader) value(shared string, span fieldSpan) string {
	if len(h.text) > maxSharedText {
		return string(h.text[span.start:span.end])
	}
	return shared[span.start:span.end]
}

// fillHeader fills the connection's header map with the fields read,
// with shared, the head's shared text, and returns it. The values of
// fields with one value, most of them, share one slice.
func (h *headReader) fillHeader(shared string) http.Header {
	if h.header == nil {
		h.header = make(http.Header, len(h.fields))
	}
	header := h.header
	clear(header)
	if cap(h.values) < len(h.fields) {
		h.values = make([]string, len(h.fields))
	}
	values := h.values[:len(h.fields)]
	clear(values)
	for i, f := range h.fields {
		v := h.value(shared, f)
		if vs, ok := header[f.name]; ok {
			header[f.name] = append(vs, v)
			continue
		}
		values[i] = v
		header[f.name] = values[i : i+1 : i+1]
	}
	return header
}

// hostOf returns the host of a request whose target is u, with shared,
// the head's shared text, as http.ReadRequest does: the absolute
// target's, or else the Host field's (RFC 9112, 3.2.2). More than one
// Host field is refused (RFC 9112, 3.2).
func (h *headReader) hostOf(u *url.URL, shared string) (string, error) {
	switch {
	case h.hosts > 1:
		return "", errManyHosts
	case u.Host != "" || h.hosts == 0:
		return u.Host, nil
	}
	return h.value(shared, h.host), nil
}

// fixPragma reads "Pragma: no-cache" as "Cache-Control: no-cache" when
// there is no Cache-Control (RFC 9111, 5.4), as http.ReadRequest does.
func fixPragma(header http.Header) {
	if p := header["Pragma"]; len(p) > 0 && p[0] == "no-cache" {
		if _, ok := header["Cache-Control"]; !ok {
			header["Cache-Control"] = []string{"no-cache"}
		}
	}
}

// frame decides where r's body ends (RFC 9112, 6) as http.ReadRequest
// does, and sets r's ContentLength, TransferEncoding, Close and Body, the
// body to be read from h's reader. Transfer-Encoding is taken out of the header;
// it must be chunked, alone. Content-Length must be decimal digits, the
// same in each of its fields; it is kept once, unless the body is
// chunked: then it is dropped and the connection closes after the
// answer, since the client or a proxy between may have meant it.
func (h *headReader) frame(r *http.Request) error {
	chunked, err := transferEncoding(r)
	if err != nil {
		return err
	}
	length, hasLength, err := contentLength(r.Header)
	if err != nil {
		return err
	}
	r.Close = wantsClose(r.ProtoMinor, r.Header["Connection"])
	switch {
	case chunked:
		if err := dropTrailer(r.Header); err != nil {
			return err
		}
		delete(r.Header, "Content-Length")
		r.Close = r.Close || hasLength
		r.ContentLength = -1
		r.TransferEncoding = []string{"chunked"}
		r.Body = newChunkedBody(h.br)
	case length > 0:
		r.ContentLength = length
		h.fixed = fixedBody{r: h.br, n: length}
		r.Body = &h.fixed
	default:
		r.Body = http.NoBody
	}
	return nil
}

// transferEncoding takes Transfer-Encoding out of r's header and reports
// whether it is chunked. Another coding, or more than one, is not
// supported. HTTP/1.0 has no transfer codings: one sent with such a
// request means a sender between that framed the body otherwise (RFC
// 9112, 6.1), and is refused.
func transferEncoding(r *http.Request) (chunked bool, err error) {
	te, ok := r.Header["Transfer-Encoding"]
	if !ok {
		return false, nil
	}
	delete(r.Header, "Transfer-Encoding")
	switch {
	case r.ProtoMinor == 0:
		return false, errEncoding10
	case len(te) != 1 || !equalFoldASCII(te[0], "chunked"):
		return false, errEncoding
	}
	return true, nil
}

// contentLength returns the body's length the header declares, if it
// does. Several Content-Length fields must agree, and are kept as one.
func contentLength(header http.Header) (n int64, ok bool, err error) {
	cl := header["Content-Length"]
	if len(cl) == 0 {
		return 0, false, nil
	}
	for _, v := range cl[1:] {
		if v != cl[0] {
			return 0, false, errLengths
		}
	}
	if len(cl) > 1 {
		header["Content-Length"] = cl[:1]
	}
	// Digits only, as net/http reads it: no sign, no list, no space.
	u, err := strconv.ParseUint(cl[0], 10, 63)
	if err != nil {
		return 0, false, errLength
	}
	return int64(u), true, nil
}

// wantsClose reports whether the client asks to close the connection
// after the answer, as net/http reads it: HTTP/1.1 with
// "Connection: close", HTTP/1.0 without "Connection: keep-alive".
func wantsClose(minor int, connection []string) bool {
	if hasToken(connection, "close") {
		return true
	}
	return minor == 0 && !hasToken(connection, "keep-alive")
}

// dropTrailer takes the Trailer field out of a chunked request's header,
// as net/http does. The trailer fields are read and dropped after the
// body; those that would change how the body was framed may not be
// announced (RFC 9110, 6.5.1).
func dropTrailer(header http.Header) error {
	for _, v := range header["Trailer"] {
		for name := range strings.SplitSeq(v, ",") {
			name = trimOWS(name)
			for _, framing := range []string{"Content-Length", "Transfer-Encoding", "Trailer"} {
				if equalFoldASCII(name, framing) {
					return errTrailerField
				}
			}
		}
	}
	delete(header, "Trailer")
	return nil
}

// trimBuffers lets go of buffers a long head grew, so that an idle
// connection holds little.
func (h *headReader) trimBuffers() {
	if cap(h.long) > keptBuffer {
		h.long = nil
	}
	if cap(h.text) > keptBuffer {
		h.text = nil
	}
	if cap(h.fields) > maxKeptFields {
		h.fields, h.values, h.header = nil, nil, nil // the request keeps its map
	}
}
