package daemon

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"os"
	"time"
)

// certExpiryWarning is how long before its certificate expires the node
// starts warning in /v1/status: enough for an operator who reads the
// status, or alerts on it, to renew without haste.
const certExpiryWarning = 14 * 24 * time.Hour

// apiTLS is the API's TLS setup: the server configuration and the validity
// of its certificate, for warnings.
type apiTLS struct {
	config   *tls.Config
	notAfter time.Time
	mutual   bool // clients must present a certificate of ClientCAs
}

// loadAPITLS reads the API's certificate, key and client CAs named in cfg,
// or returns nil when the API serves plain HTTP. Every problem is an
// ErrConfig naming the file: the node cannot serve as configured.
func loadAPITLS(cfg Config) (*apiTLS, error) {
	if cfg.APITLSCertFile == "" {
		return nil, nil
	}
	cert, err := tls.LoadX509KeyPair(cfg.APITLSCertFile, cfg.APITLSKeyFile)
	if err != nil {
		return nil, fmt.Errorf("%w: API TLS certificate %s with key %s: %v", ErrConfig, cfg.APITLSCertFile, cfg.APITLSKeyFile, err)
	}
	leaf := cert.Leaf
	if leaf == nil {
		if leaf, err = x509.ParseCertificate(cert.Certificate[0]); err != nil {
			return nil, fmt.Errorf("%w: API TLS certificate %s: %v", ErrConfig, cfg.APITLSCertFile, err)
		}
	}
	t := &apiTLS{
		config: &tls.Config{
			MinVersion:   tls.VersionTLS12,
			Certificates: []tls.Certificate{cert},
			// HTTP/1.1 only. The connection limit and the "one answer per
			// connection without the token" rule count connections; over
			// HTTP/2 one connection would carry any number of requests.
			NextProtos: []string{"http/1.1"},
		},
		notAfter: leaf.NotAfter,
	}
	if cfg.APITLSClientCAFile != "" {
		pem, err := os.ReadFile(cfg.APITLSClientCAFile)
		if err != nil {
			return nil, fmt.Errorf("%w: API TLS client CA file: %v", ErrConfig, err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("%w: API TLS client CA file %s holds no PEM certificate", ErrConfig, cfg.APITLSClientCAFile)
		}
		// Required on every connection, /healthz included: a client
		// without a certificate of the CA never reaches HTTP at all.
		t.config.ClientCAs = pool
		t.config.ClientAuth = tls.RequireAndVerifyClientCert
		t.mutual = true
	}
	return t, nil
}

// scheme returns the URL scheme the API serves.
func (t *apiTLS) scheme() string {
	if t == nil {
		return "http"
	}
	return "https"
}

// warning returns what the operator should know about the certificate at
// now, or "".
func (t *apiTLS) warning(now time.Time) string {
	switch {
	case t == nil:
		return ""
	case now.After(t.notAfter):
		return fmt.Sprintf("the API certificate expired at %s: clients refuse it; renew it and restart the node",
			t.notAfter.UTC().Format(time.RFC3339))
	case t.notAfter.Sub(now) < certExpiryWarning:
		return fmt.Sprintf("the API certificate expires at %s: renew it and restart the node",
			t.notAfter.UTC().Format(time.RFC3339))
	}
	return ""
}
