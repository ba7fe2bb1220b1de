package h1

import (
	"bytes"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// socketPair returns both ends of a loopback TCP connection: the server's
// end, as the server accepts it, and the client's.
func socketPair(t *testing.T) (server, client net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	client, err = net.Dial("tcp", ln.Addr().String())
	require.NoError(t, err)
	server, err = ln.Accept()
	require.NoError(t, err)
	t.Cleanup(func() { server.Close(); client.Close() })
	return server, client
}

// eachSocketIO runs test with a socketIO over the server's end of a fresh
// loopback connection, once with raw calls and once with those the
// scheduler and the race detector are told of (what builds with the race
// detector use), so that every build tests both.
func eachSocketIO(t *testing.T, test func(t *testing.T, server, client net.Conn, sock *socketIO)) {
	for name, calls := range map[string]socketCalls{"raw": rawCalls, "told": toldCalls} {
		t.Run(name, func(t *testing.T) {
			server, client := socketPair(t)
			sock, ok := newSocketIO(server).(*socketIO)
			require.True(t, ok, "a TCP connection is read and written by a socketIO")
			sock.calls = calls
			test(t, server, client, sock)
		})
	}
}

func TestSocketIOReadsAndWritesAsTheConnWould(t *testing.T) {
	eachSocketIO(t, testSocketIOReadsAndWrites)
}

func testSocketIOReadsAndWrites(t *testing.T, server, client net.Conn, sock *socketIO) {
	// An answer over a hundred times the sockets' buffers (made small): the
	// write waits for the client to read, again and again, and every byte
	// arrives in order.
	require.NoError(t, server.(*net.TCPConn).SetWriteBuffer(64<<10))
	require.NoError(t, client.(*net.TCPConn).SetReadBuffer(64<<10))
	big := bytes.Repeat([]byte("0123456789abcdef"), 1<<19) // 8 MiB
	got := make(chan []byte)
	go func() {
		b, _ := io.ReadAll(io.LimitReader(client, int64(len(big))))
		got <- b
	}()
	n, err := sock.Write(big)
	require.NoError(t, err)
	require.Equal(t, len(big), n)
	require.True(t, bytes.Equal(big, <-got), "the client reads what was written")

	// A read gets the client's bytes (waiting for them if it comes
	// first), then sees the end of its side.
	go func() {
		client.Write([]byte("hello"))
		client.(*net.TCPConn).CloseWrite()
	}()
	b := make([]byte, 5)
	_, err = io.ReadFull(sock, b)
	require.NoError(t, err)
	require.Equal(t, "hello", string(b))
	n, err = sock.Read(make([]byte, 8))
	require.Equal(t, 0, n)
	require.Equal(t, io.EOF, err)
	n, err = sock.Read(nil)
	require.Equal(t, 0, n)
	require.NoError(t, err, "an empty read reads nothing")
}

func TestSocketIOKeepsTheConnsDeadlines(t *testing.T) {
	eachSocketIO(t, testSocketIODeadlines)
}

func testSocketIODeadlines(t *testing.T, server, client net.Conn, sock *socketIO) {
	require.NoError(t, server.SetReadDeadline(time.Now().Add(20*time.Millisecond)))
	_, err := sock.Read(make([]byte, 8))
	require.ErrorIs(t, err, os.ErrDeadlineExceeded, "nothing to read before the deadline")
	var ne net.Error
	require.True(t, errors.As(err, &ne) && ne.Timeout())

	require.NoError(t, server.SetWriteDeadline(time.Now().Add(-time.Second)))
	_, err = sock.Write([]byte("late"))
	require.ErrorIs(t, err, os.ErrDeadlineExceeded)
	require.NoError(t, server.SetWriteDeadline(time.Time{}))

	// A write that fills the buffers of a client that reads nothing ends
	// at the deadline, saying how much it wrote.
	big := make([]byte, 64<<20)
	require.NoError(t, server.SetWriteDeadline(time.Now().Add(50*time.Millisecond)))
	n, err := sock.Write(big)
	require.ErrorIs(t, err, os.ErrDeadlineExceeded)
	require.Less(t, n, len(big), "the client read nothing")
}

func TestSocketIOAfterThePeerOrTheConnCloses(t *testing.T) {
	eachSocketIO(t, testSocketIOAfterClose)
}

func testSocketIOAfterClose(t *testing.T, server, client net.Conn, sock *socketIO) {
	require.NoError(t, client.Close())
	// Writes to a closed peer fail once it has answered one with a reset,
	// as errors, not as a signal.
	var err error
	for deadline := time.Now().Add(5 * time.Second); err == nil && time.Now().Before(deadline); {
		_, err = sock.Write([]byte("answer"))
	}
	require.Error(t, err)

	require.NoError(t, server.Close())
	_, err = sock.Read(make([]byte, 8))
	require.ErrorIs(t, err, net.ErrClosed)
	_, err = sock.Write([]byte("x"))
	require.ErrorIs(t, err, net.ErrClosed)
}

func TestSocketIOOnlyForPlainSockets(t *testing.T) {
	server, _ := socketPair(t)
	tc := tls.Server(server, &tls.Config{})
	require.Same(t, tc, newSocketIO(tc).(*tls.Conn), "a TLS connection reads and writes through TLS")
}
