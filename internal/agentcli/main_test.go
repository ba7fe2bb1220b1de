package agentcli

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/crdtd/crdtd/internal/daemon"
	"github.com/crdtd/crdtd/internal/store"
)

func TestMainExitCodes(t *testing.T) {
	corrupt := &store.CorruptError{Path: "/data/crdtd.db", Err: errors.New("invalid page type")}
	tests := []struct {
		name       string
		args       []string
		daemonErr  error
		want       ExitCode
		wantStdout string // substring
		wantStderr string // substring; "" means stderr must be empty
	}{
		{name: "help", args: []string{"--help"}, want: ExitOK, wantStdout: "Exit status"},
		{name: "no command", args: nil, want: ExitOK, wantStdout: "Available Commands"},
		{name: "agent stopped", args: []string{"agent"}, want: ExitOK},
		{name: "unknown command", args: []string{"agnet"}, want: ExitUsage,
			wantStderr: "Error: unknown command \"agnet\" for \"crdtd\"\n\nDid you mean this?\n\tagent\nRun 'crdtd --help' for usage.\n"},
		{name: "unknown flag", args: []string{"agent", "--nmae", "x"}, want: ExitUsage,
			wantStderr: "Error: unknown flag: --nmae\nRun 'crdtd agent --help' for usage.\n"},
		{name: "bad enum", args: []string{"agent", "--profile", "wan"}, want: ExitUsage, wantStderr: "valid values are {lan|local}"},
		{name: "extra argument", args: []string{"keygen", "x"}, want: ExitUsage, wantStderr: "takes no arguments"},
		{name: "invalid configuration", args: []string{"agent"}, daemonErr: fmt.Errorf("%w: gossip key is 3 bytes", daemon.ErrConfig),
			want: ExitUsage, wantStderr: "Error: invalid configuration: gossip key is 3 bytes\nRun 'crdtd agent --help' for usage.\n"},
		{name: "corrupt data file", args: []string{"agent"}, daemonErr: fmt.Errorf("open data directory /data: %w", corrupt),
			want: ExitFailure, wantStderr: "Error: " + corrupt.Error() + "\n"},
		{name: "other failure", args: []string{"agent"}, daemonErr: errors.New("listen tcp 127.0.0.1:7070: bind: address already in use"),
			want: ExitFailure, wantStderr: "Error: listen tcp 127.0.0.1:7070: bind: address already in use\n"},
		{name: "cluster bad nodes", args: []string{"cluster", "--nodes", "51"}, want: ExitUsage, wantStderr: "--nodes 51 out of range 1..50"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			f := &factory{Out: &stdout, ErrOut: &stderr, RunDaemon: func(context.Context, daemon.Config) error { return tt.daemonErr }}
			code := run(t.Context(), tt.args, f)
			if code != tt.want {
				t.Errorf("run(%q) = %d, want %d; stderr:\n%s", tt.args, code, tt.want, stderr.String())
			}
			if !strings.Contains(stdout.String(), tt.wantStdout) {
				t.Errorf("run(%q) stdout:\n%s\nwant it to contain %q", tt.args, stdout.String(), tt.wantStdout)
			}
			switch {
			case tt.wantStderr == "" && stderr.Len() != 0:
				t.Errorf("run(%q) stderr:\n%s\nwant it empty", tt.args, stderr.String())
			case tt.want != ExitOK && !strings.HasPrefix(stderr.String(), "Error: "):
				t.Errorf("run(%q) stderr:\n%s\nwant it to start with \"Error: \"", tt.args, stderr.String())
			case !strings.Contains(stderr.String(), tt.wantStderr):
				t.Errorf("run(%q) stderr:\n%s\nwant it to contain %q", tt.args, stderr.String(), tt.wantStderr)
			}
			if tt.want != ExitOK && stdout.Len() != 0 {
				t.Errorf("run(%q) failed but wrote to stdout:\n%s", tt.args, stdout.String())
			}
		})
	}
}

// TestMainRealDaemon runs the agent against the real daemon.Run for the outcomes that do not need
// a running node: a configuration the daemon rejects, and a corrupt data file.
func TestMainRealDaemon(t *testing.T) {
	dataDir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dataDir, "crdtd.db"), bytes.Repeat([]byte("garbage!"), 1024), 0o600); err != nil {
		t.Fatal(err)
	}
	local := []string{"--api-addr", "127.0.0.1:0", "--gossip-addr", "127.0.0.1:0", "--log-level", "error"}
	notPEM := filepath.Join(t.TempDir(), "api.pem")
	if err := os.WriteFile(notPEM, []byte("not PEM\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name       string
		args       []string
		want       ExitCode
		wantStderr string
	}{
		{name: "public API without token", args: []string{"agent", "--data-dir", t.TempDir(), "--api-addr", "0.0.0.0:0"},
			want: ExitUsage, wantStderr: "an API token is required"},
		{name: "corrupt data file", args: append([]string{"agent", "--data-dir", dataDir}, local...),
			want: ExitFailure, wantStderr: "Error: data file " + filepath.Join(dataDir, "crdtd.db") + " is corrupt or unreadable"},
		{name: "TLS certificate without key", args: append([]string{"agent", "--data-dir", t.TempDir(), "--api-tls-cert-file", "/etc/crdtd/api.crt"}, local...),
			want: ExitUsage, wantStderr: "API TLS needs both a certificate and a key file"},
		{name: "TLS certificate that is not one", args: append([]string{"agent", "--data-dir", t.TempDir(),
			"--api-tls-cert-file", notPEM, "--api-tls-key-file", notPEM}, local...),
			want: ExitUsage, wantStderr: "API TLS certificate " + notPEM},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := Main(t.Context(), tt.args, &stdout, &stderr)
			if code != tt.want {
				t.Errorf("Main(%q) = %d, want %d; stderr:\n%s", tt.args, code, tt.want, stderr.String())
			}
			if !strings.Contains(stderr.String(), tt.wantStderr) {
				t.Errorf("Main(%q) stderr:\n%s\nwant it to contain %q", tt.args, stderr.String(), tt.wantStderr)
			}
		})
	}
}
