package daemon

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestWarnExposure: a node warns at start (and in /v1/status) of gossip in
// the clear and of an API without TLS, each only beyond loopback, and of an
// API certificate near or past its end; a node open to no one says
// nothing. The addresses are only words here: nothing listens on them.
func TestWarnExposure(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	fresh := &apiTLS{notAfter: now.Add(365 * 24 * time.Hour)}
	for _, tc := range []struct {
		name           string
		insecure       bool
		key            []byte
		tls            *apiTLS
		api, gossip    string
		wantGossip     bool
		wantAPI        bool
		wantCertExpiry bool
	}{
		{name: "all on loopback", insecure: true, api: "127.0.0.1:7070", gossip: "127.0.0.1:7946"},
		{name: "IPv6 loopback", insecure: true, api: "[::1]:7070", gossip: "[::1]:7946"},
		{name: "clear gossip beyond loopback", insecure: true, tls: fresh, api: "10.0.0.1:7070", gossip: "10.0.0.1:7946", wantGossip: true},
		{name: "keyed gossip beyond loopback", insecure: true, key: make([]byte, 32), tls: fresh, api: "10.0.0.1:7070", gossip: "10.0.0.1:7946"},
		{name: "API without TLS beyond loopback", api: "10.0.0.1:7070", gossip: "127.0.0.1:7946", wantAPI: true},
		{name: "certificate ending soon", tls: &apiTLS{notAfter: now.Add(time.Hour)}, api: "10.0.0.1:7070", gossip: "127.0.0.1:7946", wantCertExpiry: true},
		{name: "certificate expired", tls: &apiTLS{notAfter: now.Add(-time.Hour)}, api: "127.0.0.1:7070", gossip: "127.0.0.1:7946", wantCertExpiry: true},
	} {
		var out bytes.Buffer
		d := &Daemon{log: slog.New(slog.NewTextHandler(&out, nil)), tls: tc.tls}
		d.cfg.InsecureGossip, d.cfg.GossipKey = tc.insecure, tc.key
		d.warnExposure(tc.api, tc.gossip, now)
		logged := out.String()
		require.Equal(t, tc.wantGossip, strings.Contains(logged, "gossip is not encrypted"), "%s: %s", tc.name, logged)
		require.Equal(t, tc.wantAPI, strings.Contains(logged, "without TLS"), "%s: %s", tc.name, logged)
		require.Equal(t, tc.wantCertExpiry, strings.Contains(logged, "API certificate"), "%s: %s", tc.name, logged)
		warnings := strings.Count(logged, "level=WARN")
		require.Equal(t, b2i(tc.wantGossip)+b2i(tc.wantAPI)+b2i(tc.wantCertExpiry), warnings, "%s: %s", tc.name, logged)
	}
}

// TestAPIScheme: a node without TLS serves http, with it https.
func TestAPIScheme(t *testing.T) {
	t.Parallel()
	var none *apiTLS
	require.Equal(t, "http", none.scheme())
	require.Equal(t, "https", (&apiTLS{}).scheme())
}
