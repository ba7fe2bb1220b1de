package client_test

import (
	"crypto/tls"
	"errors"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/crdtd/crdtd/client"
)

// TestTLSFailuresAreNotRetried: a failed TLS handshake with a node that
// answered is a configuration problem, reported at once with its cause and
// not as an unreachable node.
func TestTLSFailuresAreNotRetried(t *testing.T) {
	var conns atomic.Int64
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_, _ = w.Write([]byte(`{"status":"ok"}`))
	}))
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	srv.Config.ErrorLog = discardLog()
	srv.TLS = &tls.Config{ClientAuth: tls.RequireAnyClientCert}
	srv.StartTLS()
	t.Cleanup(srv.Close)
	trusting := srv.Client().Transport.(*http.Transport).Clone() // trusts the server, has no client certificate

	tests := []struct {
		name string
		hc   *http.Client
		want string
	}{
		{"unknown authority", &http.Client{}, "certificate signed by unknown authority"},
		{"client certificate required", &http.Client{Transport: trusting}, "remote error: tls: certificate required"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := conns.Load()
			c := newTestClient(t, srv.URL, func(cfg *client.Config) { cfg.HTTPClient = tt.hc; cfg.Retries = 3 })
			_, err := c.Health(t.Context())
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Health: got error %v, want one containing %q", err, tt.want)
			}
			if errors.Is(err, client.ErrUnreachable) || !errors.Is(err, client.ErrTLS) {
				t.Errorf("Health: got %v, want it to wrap ErrTLS and not ErrUnreachable (the node answered)", err)
			}
			if n := conns.Load() - before; n != 1 {
				t.Errorf("Health made %d connections, want 1: a TLS failure was retried", n)
			}
		})
	}
}

// TestPlainHTTPToHTTPSNode: the answer of an HTTPS node to plain HTTP says
// what to change.
func TestPlainHTTPToHTTPSNode(t *testing.T) {
	srv := httptest.NewUnstartedServer(http.NotFoundHandler())
	srv.Config.ErrorLog = discardLog()
	srv.StartTLS()
	t.Cleanup(srv.Close)
	c := newTestClient(t, "http://"+srv.Listener.Addr().String(), nil)
	_, err := c.Health(t.Context())
	var apiErr *client.APIError
	if !errors.As(err, &apiErr) || apiErr.StatusCode != http.StatusBadRequest || !strings.Contains(err.Error(), "use an https:// URL") {
		t.Errorf("Health over http of an https node: got %v, want a 400 saying to use https", err)
	}
}

// discardLog silences the test server's TLS handshake errors, which these
// tests cause on purpose.
func discardLog() *log.Logger { return log.New(io.Discard, "", 0) }

// TestHTTPSToPlainNode: an https URL of a node that serves plain HTTP is a
// TLS failure that says so, not an unreachable node.
func TestHTTPSToPlainNode(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	t.Cleanup(srv.Close)
	c := newTestClient(t, "https://"+srv.Listener.Addr().String(), nil)
	_, err := c.Health(t.Context())
	if !errors.Is(err, client.ErrTLS) || !strings.Contains(err.Error(), "server gave HTTP response to HTTPS client") {
		t.Errorf("Health over https of an http node: got %v, want ErrTLS saying the server answered in HTTP", err)
	}
}
