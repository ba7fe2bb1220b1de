package agentcli

import (
	"bytes"
	"context"
	"encoding/base64"
	"io"
	"net/http"
	"os"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/spf13/pflag"

	"github.com/crdtd/crdtd/internal/buildinfo"
	"github.com/crdtd/crdtd/internal/daemon"
	"github.com/crdtd/crdtd/internal/testbin"
)

func TestNewCmdAgent(t *testing.T) {
	dir := t.TempDir()
	key32 := bytes.Repeat([]byte{7}, 32)
	key16 := bytes.Repeat([]byte{9}, 16)
	keyFile := writeFile(t, dir, "gossip.key", base64.StdEncoding.EncodeToString(key32)+"\n")
	key16File := writeFile(t, dir, "gossip16.key", "  "+base64.StdEncoding.EncodeToString(key16)+"\r\n")
	badBase64 := writeFile(t, dir, "bad.key", "not base64!\n")
	shortKey := writeFile(t, dir, "short.key", base64.StdEncoding.EncodeToString([]byte("0123456789"))+"\n")
	emptyKey := writeFile(t, dir, "empty.key", "")
	rotationKeys := writeFile(t, dir, "rotation.key", "# new key first since the second step\n"+
		base64.StdEncoding.EncodeToString(key16)+"\n\n"+base64.StdEncoding.EncodeToString(key32)+"\n")
	badSecondKey := writeFile(t, dir, "bad2.key", base64.StdEncoding.EncodeToString(key16)+"\nnot base64!\n")
	onlyComments := writeFile(t, dir, "comments.key", "# no key yet\n\n")
	tokenFile := writeFile(t, dir, "token", "\n  s3cret-Token_1 \n")
	emptyToken := writeFile(t, dir, "empty.token", " \n\t\n")
	missing := dir + "/missing"
	tlsCert := writeFile(t, dir, "api.crt", "certificate\n") // the daemon parses it, not the flags
	tlsKey := writeFile(t, dir, "api.key", "key\n")
	tlsKeyShared := writeFile(t, dir, "shared.key", "key\n")
	if err := os.Chmod(tlsKeyShared, 0o644); err != nil {
		t.Fatal(err)
	}

	defaults := daemon.Config{
		Name:         hostName(),
		DataDir:      "./crdtd-data",
		GossipAddr:   daemon.DefaultGossipAddr,
		APIAddr:      daemon.DefaultAPIAddr,
		ClusterLabel: daemon.DefaultClusterLabel,
		Profile:      daemon.ProfileLAN,
		MaxDrift:     daemon.DefaultMaxDrift,
		Version:      buildinfo.Read().Short(),

		CheckpointInterval: daemon.DefaultCheckpointInterval,
		MaxConnections:     daemon.DefaultMaxConnections,
		CacheSize:          daemon.DefaultCacheSize,
	}
	with := func(f func(*daemon.Config)) daemon.Config {
		c := defaults
		f(&c)
		return c
	}

	tests := []struct {
		name    string
		argv    []string
		want    daemon.Config
		wantErr bool
	}{
		{name: "defaults", argv: nil, want: defaults},
		{name: "every flag", argv: []string{
			"--name", "eu1", "--data-dir", "/var/lib/crdtd", "--gossip-addr", "0.0.0.0:8946",
			"--advertise-addr", "10.0.0.5:8946", "--api-addr", "10.0.0.5:8080", "--join", "10.0.0.6:7946",
			"--gossip-key-file", keyFile, "--api-token-file", tokenFile, "--cluster-label", "shop",
			"--profile", "local", "--log-level", "debug", "--log-format", "json", "--max-drift", "30s",
			"--clock-offset", "-2m", "--checkpoint-interval", "5s", "--insecure-gossip", "--max-connections", "100",
			"--cache-size", "2GiB",
			"--api-tls-cert-file", tlsCert, "--api-tls-key-file", tlsKey, "--api-tls-client-ca-file", tlsCert},
			want: daemon.Config{
				Name: "eu1", DataDir: "/var/lib/crdtd", GossipAddr: "0.0.0.0:8946",
				AdvertiseAddr: "10.0.0.5:8946", APIAddr: "10.0.0.5:8080", Join: []string{"10.0.0.6:7946"},
				GossipKey: key32, APIToken: "s3cret-Token_1", ClusterLabel: "shop",
				Profile: daemon.ProfileLocal, MaxDrift: 30 * time.Second, ClockOffset: -2 * time.Minute,
				CheckpointInterval: 5 * time.Second, Version: buildinfo.Read().Short(),
				InsecureGossip: true, MaxConnections: 100, CacheSize: 2 << 30,
				APITLSCertFile: tlsCert, APITLSKeyFile: tlsKey, APITLSClientCAFile: tlsCert,
			}},
		{name: "join repeated and comma-separated",
			argv: []string{"--join", "a:1,b:2", "--join", " c:3 ", "--join", "d:4,", "--join", "[::1]:5"},
			want: with(func(c *daemon.Config) { c.Join = []string{"a:1", "b:2", "c:3", "d:4", "[::1]:5"} })},
		{name: "16-byte key with white space", argv: []string{"--gossip-key-file", key16File},
			want: with(func(c *daemon.Config) { c.GossipKey = key16 })},
		{name: "rotation: a primary and a secondary key", argv: []string{"--gossip-key-file", rotationKeys},
			want: with(func(c *daemon.Config) { c.GossipKey, c.GossipSecondaryKeys = key16, [][]byte{key32} })},
		{name: "port 0", argv: []string{"--api-addr", "127.0.0.1:0", "--gossip-addr", "127.0.0.1:0"},
			want: with(func(c *daemon.Config) { c.APIAddr, c.GossipAddr = "127.0.0.1:0", "127.0.0.1:0" })},

		{name: "join without port", argv: []string{"--join", "seed.example"}, wantErr: true},
		{name: "join empty port", argv: []string{"--join", "seed.example:"}, wantErr: true},
		{name: "unknown profile", argv: []string{"--profile", "wan"}, wantErr: true},
		{name: "unknown log level", argv: []string{"--log-level", "trace"}, wantErr: true},
		{name: "cache size without a number", argv: []string{"--cache-size", "lots"}, wantErr: true},
		{name: "cache size zero", argv: []string{"--cache-size", "0"}, wantErr: true},
		{name: "unknown log format", argv: []string{"--log-format", "xml"}, wantErr: true},
		{name: "zero max drift", argv: []string{"--max-drift", "0"}, wantErr: true},
		{name: "negative max drift", argv: []string{"--max-drift", "-1s"}, wantErr: true},
		{name: "bad duration", argv: []string{"--max-drift", "soon"}, wantErr: true},
		{name: "zero checkpoint interval", argv: []string{"--checkpoint-interval", "0"}, wantErr: true},
		{name: "empty data dir", argv: []string{"--data-dir", ""}, wantErr: true},
		{name: "positional argument", argv: []string{"node1"}, wantErr: true},
		{name: "unknown flag", argv: []string{"--bogus"}, wantErr: true},
		{name: "missing key file", argv: []string{"--gossip-key-file", missing}, wantErr: true},
		{name: "key not base64", argv: []string{"--gossip-key-file", badBase64}, wantErr: true},
		{name: "key of 10 bytes", argv: []string{"--gossip-key-file", shortKey}, wantErr: true},
		{name: "empty key file", argv: []string{"--gossip-key-file", emptyKey}, wantErr: true},
		{name: "bad second key", argv: []string{"--gossip-key-file", badSecondKey}, wantErr: true},
		{name: "key file of comments only", argv: []string{"--gossip-key-file", onlyComments}, wantErr: true},
		{name: "key file is a directory", argv: []string{"--gossip-key-file", dir}, wantErr: true},
		{name: "missing token file", argv: []string{"--api-token-file", missing}, wantErr: true},
		{name: "empty token file", argv: []string{"--api-token-file", emptyToken}, wantErr: true},
		{name: "missing TLS key file", argv: []string{"--api-tls-cert-file", tlsCert, "--api-tls-key-file", missing}, wantErr: true},
		{name: "TLS key others may read", argv: []string{"--api-tls-cert-file", tlsCert, "--api-tls-key-file", tlsKeyShared}, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got *daemon.Config
			f := testFactory(t)
			cmd := newCmdAgent(f, func(_ context.Context, cfg daemon.Config) error { got = &cfg; return nil })
			err := runTestCmd(t, cmd, tt.argv...)
			checkUsageError(t, tt.argv, err, tt.wantErr)
			if tt.wantErr || err != nil {
				return
			}
			if got.Logger == nil {
				t.Fatalf("argv %q: got a nil Logger", tt.argv)
			}
			got.Logger = nil
			if !reflect.DeepEqual(*got, tt.want) {
				t.Errorf("argv %q:\ngot  %+v\nwant %+v", tt.argv, *got, tt.want)
			}
		})
	}
}

// TestAgentEnv checks that CRDTD_<FLAG> variables set the agent's flags, that flags win, and
// that a bad value is a usage error naming the variable.
func TestAgentEnv(t *testing.T) {
	dir := t.TempDir()
	keyFile := writeFile(t, dir, "gossip.key", base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{7}, 16))+"\n")
	tests := []struct {
		name    string
		env     map[string]string
		argv    []string
		check   func(daemon.Config) bool
		wantErr string // substring of the usage error; "" for success
	}{
		{name: "every kind of flag from the environment",
			env: map[string]string{"CRDTD_NAME": "env-node", "CRDTD_DATA_DIR": "/srv/crdtd", "CRDTD_JOIN": "a:1, b:2",
				"CRDTD_MAX_DRIFT": "30s", "CRDTD_PROFILE": "local", "CRDTD_PPROF": "true", "CRDTD_GOSSIP_KEY_FILE": keyFile,
				"CRDTD_CHECKPOINT_INTERVAL": "5s", "CRDTD_API_ADDR": "127.0.0.1:8080",
				"CRDTD_API_TLS_CERT_FILE": "/etc/crdtd/api.crt", "CRDTD_API_TLS_CLIENT_CA_FILE": "/etc/crdtd/clients.crt"},
			check: func(c daemon.Config) bool {
				return c.Name == "env-node" && c.DataDir == "/srv/crdtd" && reflect.DeepEqual(c.Join, []string{"a:1", "b:2"}) &&
					c.MaxDrift == 30*time.Second && c.Profile == daemon.ProfileLocal && c.Pprof && len(c.GossipKey) == 16 &&
					c.CheckpointInterval == 5*time.Second && c.APIAddr == "127.0.0.1:8080" &&
					c.APITLSCertFile == "/etc/crdtd/api.crt" && c.APITLSClientCAFile == "/etc/crdtd/clients.crt"
			}},
		{name: "flags win", env: map[string]string{"CRDTD_NAME": "env-node", "CRDTD_JOIN": "a:1", "CRDTD_PPROF": "true"},
			argv: []string{"--name", "flag-node", "--join", "c:3", "--pprof=false"},
			check: func(c daemon.Config) bool {
				return c.Name == "flag-node" && reflect.DeepEqual(c.Join, []string{"c:3"}) && !c.Pprof
			}},
		{name: "empty is unset", env: map[string]string{"CRDTD_DATA_DIR": "", "CRDTD_PROFILE": ""},
			check: func(c daemon.Config) bool { return c.DataDir == defaultDataDir && c.Profile == daemon.ProfileLAN }},
		{name: "other variables are ignored", env: map[string]string{"CRDTD_BASE_API_PORT": "x", "CRDTD_BIN": "/tmp"},
			check: func(c daemon.Config) bool { return c.APIAddr == daemon.DefaultAPIAddr }},
		{name: "bad duration", env: map[string]string{"CRDTD_MAX_DRIFT": "soon"},
			wantErr: `$CRDTD_MAX_DRIFT "soon": want a duration such as 500ms, 10s or 1m30s (it sets --max-drift)`},
		{name: "bad enum", env: map[string]string{"CRDTD_PROFILE": "wan"},
			wantErr: `$CRDTD_PROFILE "wan": valid values are {lan|local} (it sets --profile)`},
		{name: "bad bool", env: map[string]string{"CRDTD_PPROF": "yes please"},
			wantErr: `$CRDTD_PPROF "yes please": want true or false (it sets --pprof)`},
		{name: "value out of range", env: map[string]string{"CRDTD_CHECKPOINT_INTERVAL": "0s"},
			wantErr: `--checkpoint-interval (from $CRDTD_CHECKPOINT_INTERVAL) must be positive, got 0s`},
		{name: "bad seed", env: map[string]string{"CRDTD_JOIN": "seed.example"},
			wantErr: `--join "seed.example": want host:port (from $CRDTD_JOIN)`},
		{name: "a bad variable is ignored when the flag is given", env: map[string]string{"CRDTD_MAX_DRIFT": "soon"},
			argv: []string{"--max-drift", "10s"}, check: func(c daemon.Config) bool { return c.MaxDrift == 10*time.Second }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got *daemon.Config
			f := testFactory(t)
			f.LookupEnv = func(k string) (string, bool) { v, ok := tt.env[k]; return v, ok }
			cmd := newCmdAgent(f, func(_ context.Context, cfg daemon.Config) error { got = &cfg; return nil })
			err := runTestCmd(t, cmd, tt.argv...)
			if tt.wantErr != "" {
				checkUsageError(t, tt.argv, err, true)
				if err == nil || err.Error() != tt.wantErr {
					t.Errorf("env %v: got error %v, want %q", tt.env, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("env %v, argv %q: %v", tt.env, tt.argv, err)
			}
			if got.Logger = nil; !tt.check(*got) {
				t.Errorf("env %v, argv %q: got config %+v", tt.env, tt.argv, *got)
			}
		})
	}
}

// TestAgentEnvHelp: the help of every agent flag names its variable.
func TestAgentEnvHelp(t *testing.T) {
	cmd := newCmdAgent(testFactory(t), nil)
	n := 0
	cmd.Flags().VisitAll(func(fl *pflag.Flag) {
		n++
		want := " [$CRDTD_" + strings.ToUpper(strings.ReplaceAll(fl.Name, "-", "_")) + "]"
		if !strings.HasSuffix(fl.Usage, want) {
			t.Errorf("--%s usage %q, want it to end with %q", fl.Name, fl.Usage, want)
		}
	})
	var stdout bytes.Buffer
	if code := run(t.Context(), []string{"agent", "--help"}, &factory{Out: &stdout, ErrOut: &bytes.Buffer{}}); code != ExitOK ||
		n < 15 || !strings.Contains(stdout.String(), "[$CRDTD_DATA_DIR]") || !strings.Contains(stdout.String(), "CRDTD_ and the flag's") {
		t.Errorf("agent --help = %d (%d flags):\n%s\nwant the variables in the help", code, n, stdout.String())
	}
}

// TestAgentSecretsNeverPrinted checks that no error or log line shows a token or key.
func TestAgentSecretsNeverPrinted(t *testing.T) {
	const token = "tok en-9f8e7d" // the space makes it invalid
	dir := t.TempDir()
	badToken := writeFile(t, dir, "token", token+"\n")
	openToken := writeFile(t, dir, "open.token", "open-token-4c3b2a\n")
	if err := os.Chmod(openToken, 0o644); err != nil {
		t.Fatal(err)
	}
	groupToken := writeFile(t, dir, "group.token", "group-token-7d6e5f\n")
	if err := os.Chmod(groupToken, 0o640); err != nil {
		t.Fatal(err)
	}
	badKey := writeFile(t, dir, "key", "c2VjcmV0LWtleS1ieXRlcyE\n") // unpadded base64: invalid

	tests := []struct {
		name       string
		argv       []string
		want       ExitCode
		secret     string
		wantStderr string
	}{
		{name: "token with white space", argv: []string{"agent", "--api-token-file", badToken}, want: ExitUsage,
			secret: "en-9f8e7d", wantStderr: "contains white space"},
		{name: "token readable by others", argv: []string{"agent", "--api-token-file", openToken}, want: ExitUsage,
			secret: "open-token-4c3b2a", wantStderr: "chmod 600"},
		{name: "token readable by its group", argv: []string{"agent", "--api-token-file", groupToken}, want: ExitOK,
			secret: "group-token-7d6e5f", wantStderr: "chmod 600"},
		{name: "undecodable key", argv: []string{"agent", "--gossip-key-file", badKey}, want: ExitUsage,
			secret: "c2VjcmV0", wantStderr: "parse gossip key"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			f := &factory{Out: &stdout, ErrOut: &stderr, RunDaemon: func(_ context.Context, cfg daemon.Config) error {
				cfg.Logger.Info("started", "token_len", len(cfg.APIToken))
				return nil
			}}
			code := run(t.Context(), tt.argv, f)
			if code != tt.want {
				t.Errorf("run(%q) = %d, want %d; stderr:\n%s", tt.argv, code, tt.want, stderr.String())
			}
			if !strings.Contains(stderr.String(), tt.wantStderr) {
				t.Errorf("run(%q) stderr:\n%s\nwant it to contain %q", tt.argv, stderr.String(), tt.wantStderr)
			}
			if out := stdout.String() + stderr.String(); strings.Contains(out, tt.secret) {
				t.Errorf("run(%q) printed the secret %q:\n%s", tt.argv, tt.secret, out)
			}
		})
	}
}

func TestAgentLogger(t *testing.T) {
	tests := []struct {
		argv      []string
		wantLine  string // substring of the line logged at Warn
		infoShown bool
	}{
		{argv: nil, wantLine: `level=WARN msg=hello node=n1`, infoShown: true},
		{argv: []string{"--log-level", "warn", "--log-format", "json"}, wantLine: `"level":"WARN","msg":"hello","node":"n1"`},
		{argv: []string{"--log-level", "debug"}, wantLine: `level=WARN msg=hello`, infoShown: true},
		{argv: []string{"--log-level", "error"}},
	}
	for _, tt := range tests {
		var stderr bytes.Buffer
		f := &factory{Out: &bytes.Buffer{}, ErrOut: &stderr}
		cmd := newCmdAgent(f, func(_ context.Context, cfg daemon.Config) error {
			cfg.Logger.Info("info line")
			cfg.Logger.Warn("hello", "node", "n1")
			return nil
		})
		if err := runTestCmd(t, cmd, tt.argv...); err != nil {
			t.Fatalf("argv %q: %v", tt.argv, err)
		}
		got := stderr.String()
		if tt.wantLine == "" && strings.Contains(got, "hello") || !strings.Contains(got, tt.wantLine) {
			t.Errorf("argv %q: got log\n%s\nwant the warning as %q", tt.argv, got, tt.wantLine)
		}
		if shown := strings.Contains(got, "info line"); shown != tt.infoShown {
			t.Errorf("argv %q: info line shown = %v, want %v; log:\n%s", tt.argv, shown, tt.infoShown, got)
		}
	}
}

func TestParseJoin(t *testing.T) {
	got, err := parseJoin([]string{" a:1", "", "b:2 "})
	if err != nil || !reflect.DeepEqual(got, []string{"a:1", "b:2"}) {
		t.Errorf("parseJoin = %q, %v; want [a:1 b:2], nil", got, err)
	}
	if got, err := parseJoin(nil); err != nil || got != nil {
		t.Errorf("parseJoin(nil) = %q, %v; want nil, nil", got, err)
	}
}

// TestAgentEndToEnd runs "crdtd agent" in-process with the real daemon until its context is
// cancelled, as SIGTERM would.
func TestAgentEndToEnd(t *testing.T) {
	api := freePortRange(t, 1)
	gossipPort := freePortRange(t, 1, api)
	apiAddr := "127.0.0.1:" + strconv.Itoa(api)
	tokenFile := writeFile(t, t.TempDir(), "token", "e2e-token\n")
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	stderr := &testbin.SyncBuffer{}
	done := make(chan ExitCode, 1)
	args := []string{"agent", "--name", "solo", "--data-dir", t.TempDir(), "--api-addr", apiAddr,
		"--gossip-addr", "127.0.0.1:" + strconv.Itoa(gossipPort), "--profile", "local",
		"--api-token-file", tokenFile, "--log-format", "json"}
	go func() { done <- Main(ctx, args, io.Discard, stderr) }()

	testbin.WaitFor(t, 10*time.Second, "the node's API", func() bool {
		req, _ := http.NewRequest(http.MethodGet, "http://"+apiAddr+"/v1/status", nil)
		req.Header.Set("Authorization", "Bearer e2e-token")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode == http.StatusOK && strings.Contains(string(b), `"solo"`)
	})
	cancel()
	select {
	case code := <-done:
		if code != ExitOK {
			t.Errorf("agent = %d after cancel, want %d; stderr:\n%s", code, ExitOK, stderr.String())
		}
	case <-time.After(20 * time.Second):
		t.Fatalf("agent did not stop; stderr:\n%s", stderr.String())
	}
	if got := stderr.String(); !strings.Contains(got, `"level":"INFO"`) || strings.Contains(got, "e2e-token") {
		t.Errorf("stderr:\n%s\nwant JSON logs without the token", got)
	}
}
