package h1

import (
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestKeepAliveServesRequestsOnOneConnection(t *testing.T) {
	var states stateLog
	_, addr := startServer(t, echoPath, func(s *Server) { s.ConnState = states.record })
	client := &http.Client{Transport: &http.Transport{MaxConnsPerHost: 1}}
	defer client.CloseIdleConnections()
	for i := range 20 {
		resp, err := client.Get("http://" + addr + "/n" + strconv.Itoa(i))
		require.NoError(t, err)
		b, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		resp.Body.Close()
		require.Equal(t, "GET /n"+strconv.Itoa(i), string(b))
		require.Equal(t, "text/plain; charset=utf-8", resp.Header.Get("Content-Type"), "sniffed")
		require.NotEmpty(t, resp.Header.Get("Date"))
	}
	eventually(t, func() bool { return len(states.get()) >= 1+2*20 }, "the last answer's idle state")
	got := states.get()
	require.Equal(t, http.StateNew, got[0])
	require.Len(t, got, 1+2*20, "one connection: new, then active and idle per request")
	for i, s := range got[1:] {
		want := http.StateActive
		if i%2 == 1 {
			want = http.StateIdle
		}
		require.Equal(t, want, s, "state %d", i+1)
	}
}

func TestPipelinedRequestsAnsweredInOrder(t *testing.T) {
	_, addr := startServer(t, echoPath, nil)
	c := dialRaw(t, addr)
	c.send("GET /a HTTP/1.1\r\nHost: x\r\n\r\nPOST /b HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabcGET /c HTTP/1.1\r\nHost: x\r\n\r\n")
	for _, want := range []string{"GET /a", "POST /b", "GET /c"} {
		resp, body := c.answer("GET")
		require.Equal(t, http.StatusOK, resp.StatusCode)
		require.Equal(t, want, body)
	}
}

func TestHeadAnswersTheLengthWithoutTheBody(t *testing.T) {
	_, addr := startServer(t, echoPath, nil)
	c := dialRaw(t, addr)
	c.send("HEAD /x HTTP/1.1\r\nHost: x\r\n\r\nGET /y HTTP/1.1\r\nHost: x\r\n\r\n")
	resp, body := c.answer("HEAD")
	require.Equal(t, int64(len("HEAD /x")), resp.ContentLength)
	require.Empty(t, body)
	// Were the body sent, it would be read as the next answer's start.
	_, body = c.answer("GET")
	require.Equal(t, "GET /y", body)
}

func TestHeadOfAFlushedAnswerSendsNoBody(t *testing.T) {
	_, addr := startServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "part")
		http.NewResponseController(w).Flush()
		io.WriteString(w, "rest")
	}), nil)
	c := dialRaw(t, addr)
	c.send("HEAD /x HTTP/1.1\r\nHost: x\r\n\r\n")
	head := c.rawHead()
	require.NotContains(t, head, "chunked")
	c.requireClosed() // no chunk, not even the last: the stream closes the connection
}

// echoBody answers with the request body.
var echoBody = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	b, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	w.Write(b)
})

func TestRequestBodies(t *testing.T) {
	_, addr := startServer(t, echoBody, nil)
	c := dialRaw(t, addr)
	c.send("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello")
	_, body := c.answer("POST")
	require.Equal(t, "hello", body)
	c.send("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n")
	_, body = c.answer("POST")
	require.Equal(t, "abcde", body)
}

func TestUnreadBodyDrainedOrConnectionClosed(t *testing.T) {
	_, addr := startServer(t, echoPath, nil) // reads no body
	c := dialRaw(t, addr)
	c.send("POST /small HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n0123456789GET /next HTTP/1.1\r\nHost: x\r\n\r\n")
	resp, body := c.answer("POST")
	require.Equal(t, "POST /small", body)
	require.False(t, resp.Close, "a small unread body is read past")
	_, body = c.answer("GET")
	require.Equal(t, "GET /next", body)

	big := maxDrainBytes + 1
	c = dialRaw(t, addr)
	go func() { // the server may close before reading it all
		io.WriteString(c.c, "POST /big HTTP/1.1\r\nHost: x\r\nContent-Length: "+strconv.Itoa(big)+"\r\n\r\n"+strings.Repeat("z", big))
	}()
	resp, body = c.answer("POST")
	require.Equal(t, "POST /big", body)
	require.True(t, resp.Close, "a body too long to read past closes the connection")
	c.requireClosed()
}

func TestExpectContinue(t *testing.T) {
	_, addr := startServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/read" {
			echoBody(w, r)
			return
		}
		w.WriteHeader(http.StatusForbidden)
	}), nil)

	c := dialRaw(t, addr)
	c.send("POST /read HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\n")
	line, err := c.br.ReadString('\n')
	require.NoError(t, err)
	require.Equal(t, "HTTP/1.1 100 Continue\r\n", line, "sent when the handler reads, before the client sends the body")
	line, err = c.br.ReadString('\n')
	require.NoError(t, err)
	require.Equal(t, "\r\n", line)
	c.send("body")
	resp, body := c.answer("POST")
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Equal(t, "body", body)

	c = dialRaw(t, addr)
	c.send("POST /refuse HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\n")
	resp, _ = c.answer("POST")
	require.Equal(t, http.StatusForbidden, resp.StatusCode, "no 100 Continue when the handler does not read")
	require.True(t, resp.Close, "the client may still send the body: the connection cannot be reused")
	c.requireClosed()
}

func TestRequestsTheServerRefuses(t *testing.T) {
	_, addr := startServer(t, echoPath, func(s *Server) { s.MaxHeaderBytes = 1 << 10 })
	tests := []struct {
		name, request string
		code          int
		says          string
	}{
		{"malformed request line", "GET\r\n\r\n", http.StatusBadRequest, "malformed HTTP request"},
		{"no Host in HTTP/1.1", "GET / HTTP/1.1\r\n\r\n", http.StatusBadRequest, "missing required Host header"},
		{"two Hosts", "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", http.StatusBadRequest, "too many Host headers"},
		{"a Host with a space", "GET / HTTP/1.1\r\nHost: a b\r\n\r\n", http.StatusBadRequest, "malformed Host header"},
		{"a control byte in a value", "GET / HTTP/1.1\r\nHost: a\r\nX: a\x01b\r\n\r\n", http.StatusBadRequest, "invalid header value"},
		{"a header name with a space", "GET / HTTP/1.1\r\nHost: a\r\nX Y: 1\r\n\r\n", http.StatusBadRequest, "invalid header name"},
		{"HTTP/2 preface", "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", http.StatusHTTPVersionNotSupported, "unsupported protocol version"},
		{"another expectation", "GET / HTTP/1.1\r\nHost: a\r\nExpect: 200-ok\r\n\r\n", http.StatusExpectationFailed, "unsupported expectation"},
		{"a header over the bound", "GET / HTTP/1.1\r\nHost: a\r\nX: " + strings.Repeat("a", 6<<10) + "\r\n\r\n",
			http.StatusRequestHeaderFieldsTooLarge, "request header too large"},
		{"a transfer coding other than chunked", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\n\r\n", http.StatusNotImplemented, "unsupported transfer encoding"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := dialRaw(t, addr)
			c.send(tt.request)
			resp, body := c.answer("GET")
			require.Equal(t, tt.code, resp.StatusCode)
			require.Contains(t, body, tt.says)
			require.Equal(t, "nosniff", resp.Header.Get("X-Content-Type-Options"))
			require.True(t, resp.Close)
			c.requireClosed()
		})
	}
}

func TestAnErrorEchoesNoControlBytes(t *testing.T) {
	_, addr := startServer(t, echoPath, nil)
	c := dialRaw(t, addr)
	c.send("GET / HTTP/9\x1b[31m\r\nHost: a\r\n\r\n")
	resp, body := c.answer("GET")
	require.Equal(t, http.StatusBadRequest, resp.StatusCode)
	require.Contains(t, body, "malformed HTTP version")
	for _, b := range []byte(strings.TrimSuffix(body, "\n")) {
		require.True(t, b >= ' ' && b <= '~', "byte %#x in %q", b, body)
	}
}

func TestPrintable(t *testing.T) {
	require.Equal(t, "a?b?c", printable("a\x1bb\nc", 10))
	require.Equal(t, "abc", printable("abcdef", 3))
	require.Equal(t, "?", printable("é", 10), "a character past ASCII")
}

func TestAnAnswerReachesAClientStillSendingItsBody(t *testing.T) {
	_, addr := startServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "too large", http.StatusRequestEntityTooLarge) // and reads none of it
	}), nil)
	client := &http.Client{}
	defer client.CloseIdleConnections()
	for i := range 5 {
		resp, err := client.Post("http://"+addr+"/", "application/octet-stream", strings.NewReader(strings.Repeat("z", 4<<20)))
		require.NoError(t, err, "attempt %d: the answer was lost to a reset", i)
		resp.Body.Close()
		require.Equal(t, http.StatusRequestEntityTooLarge, resp.StatusCode)
	}
}
