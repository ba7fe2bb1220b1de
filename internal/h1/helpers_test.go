package h1

import (
	"bufio"
	"crypto/tls"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/crdtd/crdtd/internal/testbin"
	"github.com/crdtd/crdtd/internal/testpki"
)

// startServer serves h on a loopback port until the test ends and returns
// the server and its address. configure, if not nil, sets the server's
// fields before it starts.
func startServer(t *testing.T, h http.Handler, configure func(*Server)) (*Server, string) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	s := &Server{Handler: h}
	if configure != nil {
		configure(s)
	}
	served := make(chan error, 1)
	go func() { served <- s.Serve(ln) }()
	t.Cleanup(func() {
		s.Close()
		require.ErrorIs(t, <-served, http.ErrServerClosed)
	})
	return s, ln.Addr().String()
}

// rawConn is a client connection that writes bytes as given and reads
// answers one by one.
type rawConn struct {
	t  *testing.T
	c  net.Conn
	br *bufio.Reader
}

func dialRaw(t *testing.T, addr string) *rawConn {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	require.NoError(t, err)
	t.Cleanup(func() { c.Close() })
	require.NoError(t, c.SetDeadline(time.Now().Add(10*time.Second)))
	return &rawConn{t: t, c: c, br: bufio.NewReader(c)}
}

func (r *rawConn) send(s string) {
	r.t.Helper()
	_, err := io.WriteString(r.c, s)
	require.NoError(r.t, err)
}

// answer reads the next answer, to a request of the given method, and its
// whole body.
func (r *rawConn) answer(method string) (*http.Response, string) {
	r.t.Helper()
	resp, err := http.ReadResponse(r.br, &http.Request{Method: method})
	require.NoError(r.t, err)
	b, err := io.ReadAll(resp.Body)
	require.NoError(r.t, err)
	return resp, string(b)
}

// requireClosed asserts that the server closed the connection: a read
// ends with EOF (or a reset), not with the test's deadline.
func (r *rawConn) requireClosed() {
	r.t.Helper()
	_, err := r.br.ReadByte()
	require.Error(r.t, err)
	var ne net.Error
	require.False(r.t, errors.As(err, &ne) && ne.Timeout(), "the connection stayed open: %v", err)
}

// echoPath answers with the request's method and path.
var echoPath = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	io.WriteString(w, r.Method+" "+r.URL.Path)
})

// stateLog records the connection states a server reports.
type stateLog struct {
	mu     sync.Mutex
	states []http.ConnState
}

func (l *stateLog) record(_ net.Conn, s http.ConnState) {
	l.mu.Lock()
	l.states = append(l.states, s)
	l.mu.Unlock()
}

func (l *stateLog) get() []http.ConnState {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]http.ConnState(nil), l.states...)
}

// eventually polls cond until it holds or 10 seconds pass.
func eventually(t *testing.T, cond func() bool, msg string) {
	t.Helper()
	require.Eventually(t, cond, 10*time.Second, 5*time.Millisecond, msg)
}

// testLogger logs to buf, at every level.
func testLogger(buf *testbin.SyncBuffer) *slog.Logger {
	return slog.New(slog.NewTextHandler(buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// rawHead reads an answer's status line and header as sent.
func (r *rawConn) rawHead() string {
	r.t.Helper()
	var head strings.Builder
	for {
		line, err := r.br.ReadString('\n')
		require.NoError(r.t, err)
		head.WriteString(line)
		if line == "\r\n" {
			return head.String()
		}
	}
}

// startTLSServer serves s over TLS on a loopback port, with a certificate
// from a throwaway authority, until the test ends; it returns the address
// and a client that trusts the authority.
func startTLSServer(t *testing.T, s *Server) (string, *http.Client) {
	t.Helper()
	ca := testpki.NewCA(t, "h1 test CA")
	cert := ca.Server(t, "127.0.0.1").TLSCertificate(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	go s.Serve(tls.NewListener(ln, &tls.Config{Certificates: []tls.Certificate{cert}, NextProtos: []string{"http/1.1"}}))
	t.Cleanup(func() { s.Close() })
	transport := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: ca.Pool()}}
	t.Cleanup(transport.CloseIdleConnections)
	return ln.Addr().String(), &http.Client{Transport: transport}
}
