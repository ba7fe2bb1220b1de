package h1

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/crdtd/crdtd/internal/testbin"
)

func TestFlushStreamsAndTheClientGoingAwayEndsTheContext(t *testing.T) {
	var ended atomic.Bool
	_, addr := startServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "first\n")
		require.NoError(t, http.NewResponseController(w).Flush())
		<-r.Context().Done()
		ended.Store(true)
	}), nil)
	c := dialRaw(t, addr)
	c.send("GET /events HTTP/1.1\r\nHost: x\r\n\r\n")
	resp, err := http.ReadResponse(c.br, nil)
	require.NoError(t, err)
	require.Equal(t, []string{"chunked"}, resp.TransferEncoding)
	line := make([]byte, len("first\n"))
	_, err = io.ReadFull(resp.Body, line)
	require.NoError(t, err)
	require.Equal(t, "first\n", string(line), "sent before the handler returned")
	require.False(t, ended.Load())
	c.c.Close()
	eventually(t, ended.Load, "the handler's context ended when the client went away")
}

func TestResponseControllerDeadlines(t *testing.T) {
	_, addr := startServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rc := http.NewResponseController(w)
		require.NoError(t, rc.SetReadDeadline(time.Now().Add(-time.Second)))
		_, err := r.Body.Read(make([]byte, 1))
		var ne net.Error
		require.True(t, errors.As(err, &ne) && ne.Timeout(), "the read deadline applies to the body: %v", err)
		require.NoError(t, rc.SetWriteDeadline(time.Now().Add(time.Second)))
		w.WriteHeader(http.StatusTeapot)
	}), nil)
	c := dialRaw(t, addr)
	c.send("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\n")
	resp, _ := c.answer("POST")
	require.Equal(t, http.StatusTeapot, resp.StatusCode)
	require.True(t, resp.Close, "the body was not read")
}

func TestIdleTimeoutClosesTheConnection(t *testing.T) {
	_, addr := startServer(t, echoPath, func(s *Server) {
		s.IdleTimeout = 50 * time.Millisecond
		s.ReadHeaderTimeout = time.Minute
	})
	idle := dialRaw(t, addr)
	idle.requireClosed()

	kept := dialRaw(t, addr)
	kept.send("GET /a HTTP/1.1\r\nHost: x\r\n\r\n")
	_, body := kept.answer("GET")
	require.Equal(t, "GET /a", body)
	kept.requireClosed()
}

func TestHeaderTimeoutClosesTheConnection(t *testing.T) {
	_, addr := startServer(t, echoPath, func(s *Server) {
		s.IdleTimeout = time.Minute
		s.ReadHeaderTimeout = 50 * time.Millisecond
	})
	slow := dialRaw(t, addr)
	slow.send("GET / HTTP/1.1\r\nHost: x\r\n") // and no end of header
	slow.requireClosed()
}

// A head that arrives whole needs no deadline of its own; one behind a
// whole request in the same read, but cut short, still has one.
func TestHeaderTimeoutBoundsAPipelinedHead(t *testing.T) {
	_, addr := startServer(t, echoPath, func(s *Server) {
		s.IdleTimeout = time.Minute
		s.ReadHeaderTimeout = 50 * time.Millisecond
	})
	c := dialRaw(t, addr)
	c.send("GET /a HTTP/1.1\r\nHost: x\r\n\r\nGET /b HTTP/1.1\r\nHost: x\r\n") // the second head is cut short
	_, body := c.answer("GET")
	require.Equal(t, "GET /a", body)
	c.requireClosed()
}

// A body that arrives with its head needs no deadline of its own; the
// rest of one cut short is still bounded by the read timeout.
func TestReadTimeoutBoundsABodyCutShort(t *testing.T) {
	read := make(chan error, 1)
	_, addr := startServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, err := io.ReadAll(r.Body)
		read <- err
	}), func(s *Server) {
		s.IdleTimeout = time.Minute
		s.ReadHeaderTimeout = time.Minute
		s.ReadTimeout = 50 * time.Millisecond
	})
	c := dialRaw(t, addr)
	c.send("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\n\r\nok")
	select {
	case err := <-read:
		var ne net.Error
		require.True(t, errors.As(err, &ne) && ne.Timeout(), "reading the body ended with %v, not its deadline", err)
	case <-time.After(5 * time.Second):
		t.Fatal("reading a body cut short never ended")
	}
}

func TestShutdownClosesIdleAndWaitsForAnswers(t *testing.T) {
	release := make(chan struct{})
	started := make(chan struct{})
	s, addr := startServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/slow" {
			close(started)
			<-release
		}
		io.WriteString(w, "done "+r.URL.Path)
	}), nil)
	idle := dialRaw(t, addr)
	idle.send("GET /first HTTP/1.1\r\nHost: x\r\n\r\n")
	_, body := idle.answer("GET")
	require.Equal(t, "done /first", body)
	busy := dialRaw(t, addr)
	busy.send("GET /slow HTTP/1.1\r\nHost: x\r\n\r\n")
	<-started

	shut := make(chan error, 1)
	go func() { shut <- s.Shutdown(context.Background()) }()
	idle.requireClosed()
	_, err := net.DialTimeout("tcp", addr, time.Second)
	require.Error(t, err, "no longer accepting")
	select {
	case err := <-shut:
		t.Fatalf("Shutdown returned %v with an answer in progress", err)
	default:
	}
	close(release)
	resp, body := busy.answer("GET")
	require.Equal(t, "done /slow", body)
	require.True(t, resp.Close, "the last answer says the connection closes")
	require.NoError(t, <-shut)
	busy.requireClosed()
}

func TestShutdownPastItsDeadlineEndsRequests(t *testing.T) {
	ended := make(chan struct{})
	started := make(chan struct{})
	s, addr := startServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(started)
		<-r.Context().Done()
		close(ended)
	}), nil)
	c := dialRaw(t, addr)
	c.send("GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	<-started
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	require.ErrorIs(t, s.Shutdown(ctx), context.DeadlineExceeded)
	<-ended
	c.requireClosed()
}

func TestServeAfterShutdown(t *testing.T) {
	s := &Server{Handler: echoPath}
	require.NoError(t, s.Shutdown(context.Background()))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	require.ErrorIs(t, s.Serve(ln), http.ErrServerClosed)
}

func TestTLS(t *testing.T) {
	var logged testbin.SyncBuffer
	addr, client := startTLSServer(t, &Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		require.NotNil(t, r.TLS)
		io.WriteString(w, "over TLS")
	}), Logger: testLogger(&logged)})
	resp, err := client.Get("https://" + addr + "/")
	require.NoError(t, err)
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.Equal(t, "over TLS", string(b))

	c := dialRaw(t, addr)
	c.send("GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	resp, body := c.answer("GET")
	require.Equal(t, http.StatusBadRequest, resp.StatusCode)
	require.Contains(t, body, "Client sent an HTTP request to an HTTPS server")
	eventually(t, func() bool { return strings.Contains(logged.String(), "TLS handshake failed") }, "a failed handshake is logged")
	require.NotContains(t, logged.String(), "level=DEBUG")
}
