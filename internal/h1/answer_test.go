package h1

import (
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/crdtd/crdtd/internal/testbin"
)

func TestAnswerFraming(t *testing.T) {
	long := strings.Repeat("0123456789", bufferLimit/10+100) // past the buffer
	_, addr := startServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/long":
			io.WriteString(w, long)
		case "/long-declared":
			w.Header().Set("Content-Length", strconv.Itoa(len(long)))
			io.WriteString(w, long)
		case "/short-of-declared":
			w.Header().Set("Content-Length", "10")
			io.WriteString(w, "12345")
		case "/over-declared":
			w.Header().Set("Content-Length", "3")
			io.WriteString(w, "12")
			_, err := io.WriteString(w, "34")
			require.ErrorIs(t, err, http.ErrContentLength)
			io.WriteString(w, "3")
		case "/no-content":
			w.WriteHeader(http.StatusNoContent)
			_, err := io.WriteString(w, "x")
			require.ErrorIs(t, err, http.ErrBodyNotAllowed)
		case "/empty":
		}
	}), nil)
	c := dialRaw(t, addr)

	c.send("GET /long HTTP/1.1\r\nHost: x\r\n\r\n")
	resp, body := c.answer("GET")
	require.Equal(t, []string{"chunked"}, resp.TransferEncoding, "a long answer of unknown length streams in chunks")
	require.Equal(t, long, body)

	c.send("GET /long-declared HTTP/1.1\r\nHost: x\r\n\r\n")
	resp, body = c.answer("GET")
	require.Empty(t, resp.TransferEncoding)
	require.Equal(t, int64(len(long)), resp.ContentLength)
	require.Equal(t, long, body)

	c.send("GET /over-declared HTTP/1.1\r\nHost: x\r\n\r\n")
	resp, body = c.answer("GET")
	require.Equal(t, int64(3), resp.ContentLength)
	require.Equal(t, "123", body, "a write past the declared length is refused whole")

	c.send("GET /no-content HTTP/1.1\r\nHost: x\r\n\r\n")
	resp, body = c.answer("GET")
	require.Equal(t, http.StatusNoContent, resp.StatusCode)
	require.Empty(t, resp.Header.Get("Content-Length"))
	require.Empty(t, body)

	c.send("GET /empty HTTP/1.1\r\nHost: x\r\n\r\n")
	resp, body = c.answer("GET")
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Equal(t, int64(0), resp.ContentLength)
	require.Empty(t, body)

	c.send("GET /short-of-declared HTTP/1.1\r\nHost: x\r\n\r\n")
	resp, err := http.ReadResponse(c.br, nil)
	require.NoError(t, err)
	require.Equal(t, int64(10), resp.ContentLength)
	got, err := io.ReadAll(resp.Body)
	require.ErrorIs(t, err, io.ErrUnexpectedEOF, "the server closes rather than leave the client waiting")
	require.Equal(t, "12345", string(got))
}

func TestHTTP10(t *testing.T) {
	_, addr := startServer(t, echoPath, nil)
	c := dialRaw(t, addr)
	c.send("GET /a HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
	resp, body := c.answer("GET")
	require.Equal(t, "GET /a", body)
	require.Equal(t, "keep-alive", resp.Header.Get("Connection"))
	c.send("GET /b HTTP/1.0\r\n\r\n")
	resp, body = c.answer("GET")
	require.Equal(t, "GET /b", body)
	require.True(t, resp.Close)
	c.requireClosed()
}

func TestConnectionClose(t *testing.T) {
	_, addr := startServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/bye" {
			w.Header().Set("Connection", "close")
		}
		w.Write(nil)
	}), nil)
	c := dialRaw(t, addr)
	c.send("GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
	resp, _ := c.answer("GET")
	require.True(t, resp.Close, "the client asked")
	c.requireClosed()

	c = dialRaw(t, addr)
	c.send("GET /bye HTTP/1.1\r\nHost: x\r\n\r\n")
	head := c.rawHead()
	require.Equal(t, 1, strings.Count(head, "\r\nConnection: close\r\n"), "the handler asked; said once:\n%s", head)
	c.requireClosed()
}

func TestHeaderSentAsItWasAtWriteHeader(t *testing.T) {
	_, addr := startServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Before", "1")
		w.WriteHeader(http.StatusAccepted)
		w.Header().Set("X-After", "1")
		w.Write([]byte("ok"))
	}), nil)
	c := dialRaw(t, addr)
	c.send("GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	resp, body := c.answer("GET")
	require.Equal(t, http.StatusAccepted, resp.StatusCode)
	require.Equal(t, "1", resp.Header.Get("X-Before"))
	require.Empty(t, resp.Header.Get("X-After"))
	require.Equal(t, "ok", body)
}

func TestHeaderValuesCannotStartFields(t *testing.T) {
	_, addr := startServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Echo", r.URL.Query().Get("v"))
		w.Header()["Bad Name"] = []string{"1"}
		w.Write([]byte("ok"))
	}), nil)
	c := dialRaw(t, addr)
	c.send("GET /?v=a%0d%0aX-Evil:%201%0d%0a%0d%0aHTTP/1.1%20200%00%7f HTTP/1.1\r\nHost: x\r\n\r\n")
	resp, body := c.answer("GET")
	require.Empty(t, resp.Header.Get("X-Evil"))
	require.Equal(t, "a  X-Evil: 1    HTTP/1.1 200", resp.Header.Get("X-Echo"), "line breaks, NUL and DEL become spaces")
	require.Empty(t, resp.Header.Values("Bad Name"))
	require.Equal(t, "ok", body)
}

func TestSniffedContentType(t *testing.T) {
	_, addr := startServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/none" {
			w.Header()["Content-Type"] = nil
		}
		io.WriteString(w, "<html><body>hi</body></html>")
	}), nil)
	c := dialRaw(t, addr)
	c.send("GET / HTTP/1.1\r\nHost: x\r\n\r\nGET /none HTTP/1.1\r\nHost: x\r\n\r\n")
	resp, _ := c.answer("GET")
	require.Equal(t, "text/html; charset=utf-8", resp.Header.Get("Content-Type"))
	resp, _ = c.answer("GET")
	require.Empty(t, resp.Header.Values("Content-Type"), "a nil value means none")
}

func TestPanicClosesTheConnectionAndIsLogged(t *testing.T) {
	var logged testbin.SyncBuffer
	_, addr := startServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/panic" {
			panic("boom")
		}
		w.Write([]byte("ok"))
	}), func(s *Server) { s.Logger = testLogger(&logged) })
	c := dialRaw(t, addr)
	c.send("GET /panic HTTP/1.1\r\nHost: x\r\n\r\n")
	c.requireClosed()
	eventually(t, func() bool { return strings.Contains(logged.String(), "boom") }, "the panic is logged")
	require.Contains(t, logged.String(), "panic serving a request")

	c = dialRaw(t, addr)
	c.send("GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	_, body := c.answer("GET")
	require.Equal(t, "ok", body, "the server goes on")
}
