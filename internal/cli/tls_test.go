package cli

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/crdtd/crdtd/internal/daemon"
	"github.com/crdtd/crdtd/internal/testpki"
)

// startTLSNode starts an in-process node whose API serves HTTPS with a
// certificate of ca for 127.0.0.1 and requires token, and client
// certificates of clientCA when that is not nil. It returns the node's
// https URL.
func startTLSNode(t *testing.T, ca, clientCA *testpki.CA, token string) string {
	t.Helper()
	dir := t.TempDir()
	cert, key := ca.Server(t, "127.0.0.1").Write(t, dir, "node")
	cfg := daemon.Config{
		Name:            "tls-node",
		DataDir:         filepath.Join(dir, "data"),
		GossipAddr:      "127.0.0.1:0",
		APIAddr:         "127.0.0.1:0",
		ClusterLabel:    "cli-tls-" + t.Name(),
		Profile:         daemon.ProfileLocal,
		ShutdownTimeout: 2 * time.Second,
		APIToken:        token,
		APITLSCertFile:  cert,
		APITLSKeyFile:   key,
	}
	if clientCA != nil {
		cfg.APITLSClientCAFile = clientCA.WriteCert(t, dir, "clients")
	}
	d, err := daemon.Start(context.Background(), cfg)
	if err != nil {
		t.Fatalf("start node: %v", err)
	}
	t.Cleanup(func() { _ = d.Close() })
	return "https://" + d.APIAddr()
}

// TestTLSEndToEnd runs cartctl's Main against nodes serving HTTPS, with and
// without mutual TLS: the right flags or variables work, and each TLS
// problem is a failure (exit 1) whose message names the problem and says
// what to pass, never "unreachable" (exit 3).
func TestTLSEndToEnd(t *testing.T) {
	for _, env := range []string{envNode, envToken, envCAFile, envCertFile, envKeyFile} {
		t.Setenv(env, "")
	}
	dir := t.TempDir()
	ca, clients, other := testpki.NewCA(t, "node CA"), testpki.NewCA(t, "client CA"), testpki.NewCA(t, "another CA")
	caFile := ca.WriteCert(t, dir, "ca")
	otherCA := other.WriteCert(t, dir, "other-ca")
	clientCert, clientKey := clients.Client(t, "cartctl").Write(t, dir, "client")
	tokenFile := filepath.Join(dir, "token")
	if err := os.WriteFile(tokenFile, []byte("s3cret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tlsNode := startTLSNode(t, ca, nil, "s3cret")
	mtlsNode := startTLSNode(t, ca, clients, "s3cret")

	tests := []struct {
		name       string
		env        map[string]string
		args       []string
		want       ExitCode
		wantStdout string
		wantStderr []string // substrings
	}{
		{name: "https with the CA", args: []string{"--node", tlsNode, "--ca-file", caFile, "--token-file", tokenFile,
			"add", "alice", "apple", "--qty", "2"}, want: ExitOK, wantStdout: "apple"},
		{name: "CA and token from the environment", env: map[string]string{envCAFile: caFile, envToken: "s3cret", envNode: tlsNode},
			args: []string{"show", "alice"}, want: ExitOK, wantStdout: "apple"},
		{name: "status over https", args: []string{"--node", tlsNode, "--ca-file", caFile, "--token-file", tokenFile, "status"},
			want: ExitOK, wantStdout: "tls-node"},
		{name: "without the CA", args: []string{"--node", tlsNode, "--token-file", tokenFile, "list"}, want: ExitFailure,
			wantStderr: []string{"TLS handshake failed", "certificate signed by unknown authority", "pass --ca-file"}},
		{name: "another CA", args: []string{"--node", tlsNode, "--ca-file", otherCA, "--token-file", tokenFile, "list"}, want: ExitFailure,
			wantStderr: []string{"certificate signed by unknown authority", "pass --ca-file"}},
		{name: "plain http to the https node", args: []string{"--node", strings.Replace(tlsNode, "https:", "http:", 1),
			"--token-file", tokenFile, "list"}, want: ExitFailure, wantStderr: []string{"use an https:// URL"}},
		{name: "missing CA file", args: []string{"--node", tlsNode, "--ca-file", filepath.Join(dir, "nope.crt"), "list"},
			want: ExitFailure, wantStderr: []string{"read CA file", "nope.crt"}},
		{name: "CA file without certificates", args: []string{"--node", tlsNode, "--ca-file", tokenFile, "list"},
			want: ExitFailure, wantStderr: []string{"holds no PEM certificate"}},

		{name: "mutual TLS with a client certificate", args: []string{"--node", mtlsNode, "--ca-file", caFile,
			"--cert-file", clientCert, "--key-file", clientKey, "--token-file", tokenFile, "add", "bob", "pear"},
			want: ExitOK, wantStdout: "pear"},
		{name: "client certificate from the environment", env: map[string]string{envCAFile: caFile, envCertFile: clientCert,
			envKeyFile: clientKey, envToken: "s3cret"}, args: []string{"--node", mtlsNode, "show", "bob"}, want: ExitOK, wantStdout: "pear"},
		{name: "mutual TLS without a client certificate", args: []string{"--node", mtlsNode, "--ca-file", caFile,
			"--token-file", tokenFile, "show", "bob"}, want: ExitFailure,
			wantStderr: []string{"certificate required", "pass --cert-file and --key-file"}},
		{name: "certificate without key", args: []string{"--node", mtlsNode, "--ca-file", caFile, "--cert-file", clientCert,
			"show", "bob"}, want: ExitUsage, wantStderr: []string{"needs both --cert-file and --key-file"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			code, stdout, stderr := runMain(t, tt.args...)
			if code != tt.want {
				t.Fatalf("Main(%q) = %d, want %d; stderr:\n%s", tt.args, code, tt.want, stderr)
			}
			if !strings.Contains(stdout, tt.wantStdout) {
				t.Errorf("Main(%q) stdout:\n%s\nwant it to contain %q", tt.args, stdout, tt.wantStdout)
			}
			for _, w := range tt.wantStderr {
				if !strings.Contains(stderr, w) {
					t.Errorf("Main(%q) stderr:\n%s\nwant it to contain %q", tt.args, stderr, w)
				}
			}
			if strings.Contains(stderr, "unreachable") || strings.Contains(stderr, "Is crdtd running") {
				t.Errorf("Main(%q) stderr:\n%s\nspeaks of an unreachable node; the node answered", tt.args, stderr)
			}
		})
	}
}
