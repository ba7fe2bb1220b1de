package h1

import (
	"context"
	"io"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestAnAnswerThatClosesDoesNotWaitForTheBody(t *testing.T) {
	_, addr := startServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/close" {
			w.Header().Set("Connection", "close")
		}
		w.WriteHeader(http.StatusUnauthorized) // reads none of the body
	}), func(s *Server) { s.ReadTimeout = time.Minute })
	for _, request := range []string{
		"POST /close HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n",                 // the handler closes
		"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\nConnection: close\r\n\r\n", // the client does
		"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1048576\r\n\r\n0123456789",         // too long to read past
	} {
		c := dialRaw(t, addr) // its deadline (10 s) is far below the server's read timeout
		c.send(request)
		resp, _ := c.answer("POST")
		require.Equal(t, http.StatusUnauthorized, resp.StatusCode, "%q", request)
		require.True(t, resp.Close)
	}
}

func TestIdleConnectionsKeepSmallBuffers(t *testing.T) {
	var kept atomic.Int64
	kept.Store(-1)
	_, addr := startServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, strings.Repeat("x", 60<<10)) // buffered whole: under bufferLimit
	}), func(srv *Server) {
		srv.ConnState = func(nc net.Conn, st http.ConnState) {
			if st != http.StateIdle {
				return
			}
			srv.mu.Lock() // on the connection's own goroutine: its buffers are at rest
			for c := range srv.conns {
				if c.rwc == nc {
					kept.Store(int64(cap(c.out) + cap(c.body)))
				}
			}
			srv.mu.Unlock()
		}
	})
	c := dialRaw(t, addr)
	c.send("GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	_, body := c.answer("GET")
	require.Len(t, body, 60<<10)
	eventually(t, func() bool { return kept.Load() >= 0 }, "the idle state was reported")
	require.LessOrEqual(t, kept.Load(), int64(16<<10), "a 60 KiB answer's buffers are not kept")
}

func TestClosingTheBody(t *testing.T) {
	_, addr := startServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer r.Body.Close()
		if r.URL.Path == "/read" {
			b, _ := io.ReadAll(r.Body)
			w.Write(b)
		}
	}), func(s *Server) { s.ReadTimeout = time.Minute })

	c := dialRaw(t, addr)
	c.send("POST /read HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nhiPOST /read HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nho")
	_, body := c.answer("POST")
	require.Equal(t, "hi", body)
	_, body = c.answer("POST")
	require.Equal(t, "ho", body, "a body read to its end and closed keeps the connection")

	c = dialRaw(t, addr)
	c.send("POST /ignore HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n") // and more to come
	resp, _ := c.answer("POST")
	require.True(t, resp.Close, "closing an unread body reads nothing, and the connection closes")
}

func TestNoReadTimeoutLiftsTheHeaderDeadline(t *testing.T) {
	const header = 50 * time.Millisecond
	_, addr := startServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(3 * header) // a slow handler: the header's deadline passes meanwhile
		b, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		w.Write(b)
	}), func(s *Server) { s.ReadHeaderTimeout = header })
	c := dialRaw(t, addr)
	c.send("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\n\r\n")
	time.Sleep(2 * header) // the body comes after the header's deadline
	c.send("body")
	resp, body := c.answer("POST")
	require.Equal(t, http.StatusOK, resp.StatusCode, body)
	require.Equal(t, "body", body)
	c.send("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nok")
	_, body = c.answer("POST")
	require.Equal(t, "ok", body, "the connection stays open with no idle timeout")
}

func TestTLSHandshakeDeadlineIsLifted(t *testing.T) {
	const header = 50 * time.Millisecond
	addr, client := startTLSServer(t, &Server{ReadHeaderTimeout: header, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(3 * header) // the answer is written after the handshake's deadline
		io.WriteString(w, "late")
	})})
	resp, err := client.Get("https://" + addr + "/")
	require.NoError(t, err)
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.NoError(t, err)
	require.Equal(t, "late", string(b))
}

func TestClientGoneAfterALongFirstWrite(t *testing.T) {
	var ended atomic.Bool
	_, addr := startServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, strings.Repeat("v", bufferLimit+1)) // commits the answer before any flush
		http.NewResponseController(w).Flush()
		<-r.Context().Done()
		ended.Store(true)
	}), nil)
	c := dialRaw(t, addr)
	c.send("GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	resp, err := http.ReadResponse(c.br, nil)
	require.NoError(t, err)
	_, err = io.ReadFull(resp.Body, make([]byte, bufferLimit+1))
	require.NoError(t, err)
	c.c.Close()
	eventually(t, ended.Load, "the handler's context ended when the client went away")
}

func TestContinueIsNotSentInsideAnAnswer(t *testing.T) {
	var readErr atomic.Value
	_, addr := startServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "streamed")
		http.NewResponseController(w).Flush()
		_, err := r.Body.Read(make([]byte, 4))
		readErr.Store(err)
		io.WriteString(w, " on")
	}), nil)
	c := dialRaw(t, addr)
	c.send("POST / HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\n")
	resp, body := c.answer("POST")
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Equal(t, "streamed on", body, "the chunked answer is intact")
	require.ErrorIs(t, readErr.Load().(error), errBodyNotSent)

	_, addr = startServer(t, echoBody, nil) // reads before it answers
	c = dialRaw(t, addr)
	c.send("POST / HTTP/1.0\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\nbody")
	line, err := c.br.ReadString('\n')
	require.NoError(t, err)
	require.Equal(t, "HTTP/1.1 200 OK\r\n", line, "no 100 Continue to an HTTP/1.0 client")
}

func TestNoContentWithADeclaredLengthKeepsTheConnection(t *testing.T) {
	_, addr := startServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/none" {
			w.Header().Set("Content-Length", "5")
			w.WriteHeader(http.StatusNoContent)
			return
		}
		io.WriteString(w, "next")
	}), nil)
	c := dialRaw(t, addr)
	c.send("GET /none HTTP/1.1\r\nHost: x\r\n\r\nGET /next HTTP/1.1\r\nHost: x\r\n\r\n")
	resp, _ := c.answer("GET")
	require.Equal(t, http.StatusNoContent, resp.StatusCode)
	_, body := c.answer("GET")
	require.Equal(t, "next", body)
}

func TestRequestLineForms(t *testing.T) {
	_, addr := startServer(t, echoPath, nil)
	c := dialRaw(t, addr)
	c.send("\r\n\r\nGET /after-blank-lines HTTP/1.1\r\nHost: x\r\n\r\n")
	_, body := c.answer("GET")
	require.Equal(t, "GET /after-blank-lines", body)

	c = dialRaw(t, addr)
	c.send("GET http://a b/abs HTTP/1.1\r\nHost: x\r\n\r\n")
	resp, body := c.answer("GET")
	require.Equal(t, http.StatusBadRequest, resp.StatusCode, "an absolute URL's host is checked")
	require.Contains(t, body, "malformed")
}

func TestShutdownServesTheFirstRequestOfANewConnection(t *testing.T) {
	s, addr := startServer(t, echoPath, nil)
	c := dialRaw(t, addr)
	eventually(t, func() bool {
		s.mu.Lock()
		defer s.mu.Unlock()
		return len(s.conns) == 1
	}, "the connection is accepted")
	shut := make(chan error, 1)
	go func() { shut <- s.Shutdown(context.Background()) }()
	// The request is sent once the shutdown has begun: sent before, its
	// answer could go out without "Connection: close".
	eventually(t, s.inShutdown.Load, "the shutdown began")
	c.send("GET /raced HTTP/1.1\r\nHost: x\r\n\r\n")
	resp, body := c.answer("GET")
	require.Equal(t, "GET /raced", body)
	require.True(t, resp.Close)
	require.NoError(t, <-shut)
}
