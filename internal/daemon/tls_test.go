package daemon

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/crdtd/crdtd/api"
	"github.com/crdtd/crdtd/client"
	"github.com/crdtd/crdtd/internal/testpki"
)

// tlsClient returns an API client for d over https that trusts roots and
// presents cert, if given, whichever CAs the node asks for (crypto/tls would
// otherwise send no certificate at all when the node names other CAs).
func tlsClient(t *testing.T, d *Daemon, token string, roots *x509.CertPool, cert ...tls.Certificate) *client.Client {
	t.Helper()
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12}
	if len(cert) > 0 {
		tr.TLSClientConfig.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
			return &cert[0], nil
		}
	}
	hc := &http.Client{Transport: tr, Timeout: 5 * time.Second}
	t.Cleanup(hc.CloseIdleConnections)
	c, err := client.New(client.Config{BaseURL: "https://" + d.APIAddr(), Token: token, HTTPClient: hc, Retries: -1})
	require.NoError(t, err)
	return c
}

// newTLSNode starts a node serving its API over TLS with a certificate of
// ca for 127.0.0.1, and with mutual TLS when clientCA is not nil.
func newTLSNode(t *testing.T, ca, clientCA *testpki.CA, f func(*Config)) *Daemon {
	t.Helper()
	dir := t.TempDir()
	cert, key := ca.Server(t, "127.0.0.1").Write(t, dir, "node")
	return newTestNode(t, func(c *Config) {
		c.APITLSCertFile, c.APITLSKeyFile = cert, key
		if clientCA != nil {
			c.APITLSClientCAFile = clientCA.WriteCert(t, dir, "clients")
		}
		if f != nil {
			f(c)
		}
	})
}

func TestAPITLS(t *testing.T) {
	t.Parallel()
	ca, other := testpki.NewCA(t, "crdtd test CA"), testpki.NewCA(t, "another CA")
	d := newTLSNode(t, ca, nil, nil)
	ctx := t.Context()

	t.Run("the right CA", func(t *testing.T) {
		c := tlsClient(t, d, "", ca.Pool())
		_, err := c.AddItem(ctx, "alice", api.AddItemRequest{Item: "apple", Quantity: 1})
		require.NoError(t, err)
		st, err := c.Status(ctx)
		require.NoError(t, err)
		require.Equal(t, d.APIAddr(), st.APIAddr, "api_addr stays host:port")
		require.Empty(t, st.Warnings)
		ms, err := c.Members(ctx)
		require.NoError(t, err)
		require.Len(t, ms.Members, 1)
		_, err = c.Health(ctx)
		require.NoError(t, err)
	})
	t.Run("a wrong CA", func(t *testing.T) {
		_, err := tlsClient(t, d, "", other.Pool()).Status(ctx)
		require.ErrorContains(t, err, "certificate signed by unknown authority")
		require.NotErrorIs(t, err, client.ErrUnreachable, "a node that answered with an untrusted certificate was reached")
	})
	t.Run("plain HTTP", func(t *testing.T) {
		_, err := newTestClient(t, d, "").Status(ctx)
		var apiErr *client.APIError
		require.ErrorAs(t, err, &apiErr)
		require.Equal(t, http.StatusBadRequest, apiErr.StatusCode)
		require.ErrorContains(t, err, "use an https:// URL")
	})
	t.Run("TLS 1.1", func(t *testing.T) {
		conn, err := tls.Dial("tcp", d.APIAddr(), &tls.Config{RootCAs: ca.Pool(), MaxVersion: tls.VersionTLS11})
		if err == nil {
			conn.Close()
		}
		require.Error(t, err, "a TLS 1.1 handshake succeeded")
	})
}

func TestAPIMutualTLS(t *testing.T) {
	t.Parallel()
	ca, clients, other := testpki.NewCA(t, "server CA"), testpki.NewCA(t, "client CA"), testpki.NewCA(t, "another CA")
	d := newTLSNode(t, ca, clients, func(c *Config) { c.APIToken = "s3cret" })
	ctx := t.Context()

	t.Run("a certificate of the client CA", func(t *testing.T) {
		c := tlsClient(t, d, "s3cret", ca.Pool(), clients.Client(t, "cartctl").TLSCertificate(t))
		_, err := c.AddItem(ctx, "alice", api.AddItemRequest{Item: "apple", Quantity: 1})
		require.NoError(t, err)
		_, err = c.Members(ctx)
		require.NoError(t, err)
	})
	t.Run("the token is still required", func(t *testing.T) {
		c := tlsClient(t, d, "", ca.Pool(), clients.Client(t, "cartctl").TLSCertificate(t))
		_, err := c.Status(ctx)
		var apiErr *client.APIError
		require.ErrorAs(t, err, &apiErr)
		require.Equal(t, api.CodeUnauthorized, apiErr.Code)
	})
	for _, tc := range []struct {
		name  string
		certs []tls.Certificate
		want  string
	}{
		{"no certificate", nil, "certificate required"},
		{"a certificate of another CA", []tls.Certificate{other.Client(t, "intruder").TLSCertificate(t)}, "remote error: tls: unknown certificate authority"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := tlsClient(t, d, "s3cret", ca.Pool(), tc.certs...).Health(ctx)
			require.Error(t, err, "the node served a client without a certificate of its client CA")
			require.ErrorContains(t, err, tc.want)
			require.NotErrorIs(t, err, client.ErrUnreachable, "a node that refused the client's certificate was reached")
		})
	}
}

func TestAPITLSConfig(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	ca := testpki.NewCA(t, "crdtd test CA")
	cert, key := ca.Server(t, "127.0.0.1").Write(t, dir, "node")
	otherCert, _ := ca.Server(t, "127.0.0.1").Write(t, dir, "other")
	caFile := ca.WriteCert(t, dir, "ca")
	notPEM := filepath.Join(dir, "not.pem")
	require.NoError(t, os.WriteFile(notPEM, []byte("hello\n"), 0o644))
	missing := filepath.Join(dir, "missing.pem")

	for _, tc := range []struct {
		name           string
		cert, key, cas string
		want           string
	}{
		{"certificate without key", cert, "", "", "both a certificate and a key"},
		{"key without certificate", "", key, "", "both a certificate and a key"},
		{"client CA without TLS", "", "", caFile, "client CA file requires API TLS"},
		{"missing certificate", missing, key, "", "missing.pem"},
		{"key of another certificate", otherCert, key, "", "private key does not match public key"},
		{"missing client CA", cert, key, missing, "missing.pem"},
		{"client CA without certificates", cert, key, notPEM, "holds no PEM certificate"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := testConfig(t, "tls-config")
			cfg.APITLSCertFile, cfg.APITLSKeyFile, cfg.APITLSClientCAFile = tc.cert, tc.key, tc.cas
			d, err := Start(context.Background(), cfg)
			if err == nil {
				d.Close()
			}
			require.ErrorIs(t, err, ErrConfig)
			require.ErrorContains(t, err, tc.want)
		})
	}
}

// TestAPITLSWarnings: /v1/status warns about an API beyond loopback without
// TLS, and about a certificate about to expire.
func TestAPITLSWarnings(t *testing.T) {
	t.Parallel()
	plain := newTestNode(t, func(c *Config) { c.APIAddr, c.APIToken = "0.0.0.0:0", "s3cret" })
	c, err := client.New(client.Config{BaseURL: "http://" + plain.APIAddr(), Token: "s3cret", Retries: -1})
	require.NoError(t, err)
	st, err := c.Status(t.Context())
	require.NoError(t, err)
	require.Len(t, st.Warnings, 1)
	require.Contains(t, st.Warnings[0], "without TLS")

	ca := testpki.NewCA(t, "crdtd test CA")
	dir := t.TempDir()
	cert, key := ca.ServerUntil(t, time.Now().Add(48*time.Hour), "127.0.0.1").Write(t, dir, "node")
	expiring := newTestNode(t, func(c *Config) { c.APITLSCertFile, c.APITLSKeyFile = cert, key })
	st, err = tlsClient(t, expiring, "", ca.Pool()).Status(t.Context())
	require.NoError(t, err)
	require.Len(t, st.Warnings, 1)
	require.Contains(t, st.Warnings[0], "the API certificate expires at")
}
