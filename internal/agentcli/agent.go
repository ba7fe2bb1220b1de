package agentcli

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"strings"
	"time"
	"unicode"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/crdtd/crdtd/gossip"
	"github.com/crdtd/crdtd/internal/buildinfo"
	"github.com/crdtd/crdtd/internal/cmdutil"
	"github.com/crdtd/crdtd/internal/daemon"
)

// Defaults of the agent flags that package daemon does not already define.
const (
	defaultDataDir   = "./crdtd-data"
	maxSecretBytes   = 64 << 10 // a key or token file larger than this is not one
	logFormatText    = "text"
	logFormatJSON    = "json"
	defaultLogLevel  = "info"
	defaultLogFormat = logFormatText
)

var (
	profiles   = []string{string(daemon.ProfileLAN), string(daemon.ProfileLocal)}
	logLevels  = []string{"debug", "info", "warn", "error"}
	logFormats = []string{logFormatText, logFormatJSON}
)

type agentOptions struct {
	Name           string
	DataDir        string
	GossipAddr     string
	AdvertiseAddr  string
	APIAddr        string
	Join           []string
	GossipKeyFile  string
	APITokenFile   string
	APITLSCert     string
	APITLSKey      string
	APITLSClientCA string
	ClusterLabel   string
	Profile        string
	LogLevel       string
	LogFormat      string
	MaxDrift       time.Duration
	ClockOffset    time.Duration
	Checkpoint     time.Duration
	Pprof          bool
	InsecureGossip bool
	MaxConns       int
	CacheSize      cmdutil.ByteSize

	fromEnv map[string]string // flag name -> the environment variable that set it
}

// newCmdAgent returns "crdtd agent". runF, if not nil, replaces f.RunDaemon: tests capture the
// daemon.Config the flags produce.
func newCmdAgent(f *factory, runF func(context.Context, daemon.Config) error) *cobra.Command {
	opts := &agentOptions{}
	cmd := &cobra.Command{
		Use:   "agent",
		Short: "Run a crdtd node",
		Long: `Run one crdtd node in the foreground: it stores carts in --data-dir, serves the
HTTP API on --api-addr and replicates by gossip on --gossip-addr, joining the
cluster through the --join seeds (unreachable seeds are retried, not fatal).

A write is acknowledged once it is in the write-ahead log in --data-dir; every
--checkpoint-interval the log is folded into the data file. After a crash the
node replays the log at start. /healthz answers 503 if the log fails (a full or
broken disk): restart the node.

On SIGINT or SIGTERM the node leaves the cluster, finishes in-flight requests,
checkpoints, closes its store and exits 0. Logs go to stderr. Unless GOGC is
set, the node runs the Go garbage collector at GOGC=200.

The API binds loopback by default; a non-loopback --api-addr requires
--api-token-file, and should have --api-tls-cert-file and --api-tls-key-file
(HTTPS; the node warns without them); --api-tls-client-ca-file also requires
client certificates. Give every node the same --gossip-key-file (see "crdtd
keygen") to encrypt and authenticate gossip; during a key rotation the file
holds more than one key, one per line, the first the one the node encrypts with.

Every flag can also be set by an environment variable, CRDTD_ and the flag's
name in upper case with - as _ (shown in brackets below); a flag on the command
line wins over its variable, and an empty variable counts as unset.`,
		Example: `  crdtd agent --name node1 --data-dir /var/lib/crdtd
  crdtd agent --name node2 --data-dir ./n2 --api-addr 127.0.0.1:7071 \
      --gossip-addr 127.0.0.1:7947 --join 127.0.0.1:7946 --profile local
  crdtd agent --name eu1 --gossip-addr 0.0.0.0:7946 --advertise-addr 10.0.0.5:7946 \
      --api-addr 10.0.0.5:7070 --api-token-file /etc/crdtd/token \
      --api-tls-cert-file /etc/crdtd/api.crt --api-tls-key-file /etc/crdtd/api.key \
      --gossip-key-file /etc/crdtd/gossip.key --join 10.0.0.6:7946,10.0.0.7:7946
  CRDTD_DATA_DIR=/var/lib/crdtd CRDTD_JOIN=10.0.0.6:7946 crdtd agent --name eu2`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			fromEnv, err := setFlagsFromEnv(cmd.Flags(), f.LookupEnv)
			if err != nil {
				return err
			}
			opts.fromEnv = fromEnv
			cfg, err := opts.config(f.ErrOut)
			if err != nil {
				return err
			}
			run := runF
			if run == nil {
				run = f.RunDaemon
			}
			return run(cmd.Context(), cfg)
		},
	}
	fs := cmd.Flags()
	fs.SortFlags = false
	fs.StringVar(&opts.Name, "name", hostName(), "node name in the cluster")
	fs.StringVar(&opts.DataDir, "data-dir", defaultDataDir, "directory of the node's durable state; a new one gets a fresh replica ID")
	fs.StringVar(&opts.GossipAddr, "gossip-addr", daemon.DefaultGossipAddr, "host:port gossip binds (UDP and TCP); port 0 picks a free port")
	fs.StringVar(&opts.AdvertiseAddr, "advertise-addr", "", "host:port peers reach the node at, if not --gossip-addr (NAT, 0.0.0.0)")
	fs.StringVar(&opts.APIAddr, "api-addr", daemon.DefaultAPIAddr, "host:port of the HTTP API; non-loopback requires --api-token-file")
	fs.StringSliceVar(&opts.Join, "join", nil, "host:port gossip seeds, repeated or comma-separated")
	fs.StringVar(&opts.GossipKeyFile, "gossip-key-file", "", "file holding the base64 gossip key (see crdtd keygen); keys on further lines are accepted too, for a key rotation")
	fs.StringVar(&opts.APITokenFile, "api-token-file", "", "file holding the bearer token the API requires")
	fs.StringVar(&opts.APITLSCert, "api-tls-cert-file", "", "PEM certificate chain: serve the API over HTTPS (with --api-tls-key-file)")
	fs.StringVar(&opts.APITLSKey, "api-tls-key-file", "", "PEM private key of --api-tls-cert-file (mode 600)")
	fs.StringVar(&opts.APITLSClientCA, "api-tls-client-ca-file", "", "PEM CA certificates: require API clients to present a certificate they signed (mutual TLS)")
	fs.StringVar(&opts.ClusterLabel, "cluster-label", daemon.DefaultClusterLabel, "label that keeps clusters sharing a network apart")
	cmdutil.StringEnumFlag(cmd, fs, &opts.Profile, "profile", "", string(daemon.ProfileLAN), profiles, "gossip timing")
	cmdutil.StringEnumFlag(cmd, fs, &opts.LogLevel, "log-level", "", defaultLogLevel, logLevels, "least severe level logged")
	cmdutil.StringEnumFlag(cmd, fs, &opts.LogFormat, "log-format", "", defaultLogFormat, logFormats, "log format")
	fs.DurationVar(&opts.MaxDrift, "max-drift", daemon.DefaultMaxDrift, "reject remote state timestamped further than this ahead of the local clock; refuse local writes (503) while this node's clock is that far ahead of its peers")
	fs.DurationVar(&opts.ClockOffset, "clock-offset", 0, "add this to the system clock (fault injection for skew tests)")
	_ = fs.MarkHidden("clock-offset")
	fs.DurationVar(&opts.Checkpoint, "checkpoint-interval", daemon.DefaultCheckpointInterval, "how often writes, durable in the write-ahead log, are folded into the data file; longer saves disk writes for hot carts, shorter makes restarts replay less")
	opts.CacheSize = daemon.DefaultCacheSize
	fs.Var(&opts.CacheSize, "cache-size", "memory for carts in memory (every cart is in the data file; past this the least recently used leave memory until used again), e.g. 256MiB, 2GiB")
	fs.BoolVar(&opts.InsecureGossip, "insecure-gossip", false, "allow gossip beyond loopback without --gossip-key-file (anyone who reaches it can rewrite carts)")
	fs.IntVar(&opts.MaxConns, "max-connections", daemon.DefaultMaxConnections, "most open API connections; at the cap the longest-idle one is closed")
	fs.BoolVar(&opts.Pprof, "pprof", false, "serve Go profiles under /debug/pprof/ on the API address (behind the API token, if any)")
	fs.VisitAll(func(fl *pflag.Flag) { fl.Usage += " [$" + envName(fl.Name) + "]" })
	return cmd
}

// envPrefix starts the environment variable of every agent flag.
const envPrefix = "CRDTD_"

// envName returns the environment variable that sets the agent flag name: CRDTD_ and the name
// in upper case with - as _ (--data-dir is $CRDTD_DATA_DIR).
func envName(name string) string {
	return envPrefix + strings.ToUpper(strings.ReplaceAll(name, "-", "_"))
}

// setFlagsFromEnv sets each flag of fs not given on the command line from its environment
// variable, when that is set and not empty, and returns which flags it set, by name, with their
// variables. A value the flag refuses is a usage error naming the variable.
func setFlagsFromEnv(fs *pflag.FlagSet, lookup func(string) (string, bool)) (map[string]string, error) {
	if lookup == nil {
		return nil, nil
	}
	set := map[string]string{}
	var err error
	fs.VisitAll(func(fl *pflag.Flag) {
		if err != nil || fl.Changed || fl.Name == "help" {
			return
		}
		env := envName(fl.Name)
		v, ok := lookup(env)
		if !ok || v == "" {
			return
		}
		if serr := fs.Set(fl.Name, v); serr != nil {
			cause := serr
			var invalid *pflag.InvalidValueError
			if errors.As(serr, &invalid) {
				cause = invalid.Unwrap()
			}
			err = flagErrorf("$%s %q: %s (it sets --%s)", env, v, cmdutil.ValueProblem(fl, cause), fl.Name)
			return
		}
		set[fl.Name] = env
	})
	return set, err
}

// flag names the flag in an error: "--max-drift", or "--max-drift (from $CRDTD_MAX_DRIFT)" when
// the environment set it, so the user knows where to fix it.
func (o *agentOptions) flag(name string) string {
	if env, ok := o.fromEnv[name]; ok {
		return "--" + name + " (from $" + env + ")"
	}
	return "--" + name
}

// config turns the options into a daemon.Config, reading the key and token files. Problems with
// flag values or files are usage errors; the daemon checks the rest and reports ErrConfig.
func (o *agentOptions) config(logOut io.Writer) (daemon.Config, error) {
	logger, err := newLogger(logOut, o.LogLevel, o.LogFormat)
	if err != nil {
		return daemon.Config{}, err
	}
	if o.DataDir == "" {
		return daemon.Config{}, flagErrorf("--data-dir must not be empty")
	}
	if o.MaxDrift <= 0 {
		return daemon.Config{}, flagErrorf("%s must be positive, got %v", o.flag("max-drift"), o.MaxDrift)
	}
	if o.Checkpoint <= 0 {
		return daemon.Config{}, flagErrorf("%s must be positive, got %v", o.flag("checkpoint-interval"), o.Checkpoint)
	}
	if o.CacheSize <= 0 {
		return daemon.Config{}, flagErrorf("%s must be positive, got %v", o.flag("cache-size"), o.CacheSize)
	}
	join, err := parseJoin(o.Join)
	if err != nil {
		if env, ok := o.fromEnv["join"]; ok {
			return daemon.Config{}, flagErrorf("%v (from $%s)", err, env)
		}
		return daemon.Config{}, err
	}
	cfg := daemon.Config{
		Name:               o.Name,
		DataDir:            o.DataDir,
		GossipAddr:         o.GossipAddr,
		AdvertiseAddr:      o.AdvertiseAddr,
		APIAddr:            o.APIAddr,
		Join:               join,
		ClusterLabel:       o.ClusterLabel,
		Profile:            daemon.Profile(o.Profile),
		MaxDrift:           o.MaxDrift,
		ClockOffset:        o.ClockOffset,
		Pprof:              o.Pprof,
		InsecureGossip:     o.InsecureGossip,
		MaxConnections:     o.MaxConns,
		CheckpointInterval: o.Checkpoint,
		CacheSize:          int64(o.CacheSize),
		APITLSCertFile:     o.APITLSCert,
		APITLSKeyFile:      o.APITLSKey,
		APITLSClientCAFile: o.APITLSClientCA,
		Logger:             logger,
		Version:            buildinfo.Read().Short(),
	}
	if o.APITLSKey != "" {
		// The daemon reads the key at start; refuse here, as for the other
		// secrets, a key file other users may read.
		if _, err := readSecretFile(o.APITLSKey, logger); err != nil {
			return daemon.Config{}, flagErrorf("%s: %v", o.flag("api-tls-key-file"), err)
		}
	}
	if o.GossipKeyFile != "" {
		if cfg.GossipKey, cfg.GossipSecondaryKeys, err = readGossipKeys(o.GossipKeyFile, logger); err != nil {
			return daemon.Config{}, err
		}
	}
	if o.APITokenFile != "" {
		if cfg.APIToken, err = readToken(o.APITokenFile, logger); err != nil {
			return daemon.Config{}, err
		}
	}
	return cfg, nil
}

// newLogger returns the node's logger, writing to w at level in format.
func newLogger(w io.Writer, level, format string) (*slog.Logger, error) {
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(level)); err != nil {
		return nil, flagErrorf("--log-level %q: %v", level, err)
	}
	hopts := &slog.HandlerOptions{Level: lv}
	switch format {
	case logFormatText:
		return slog.New(slog.NewTextHandler(w, hopts)), nil
	case logFormatJSON:
		return slog.New(slog.NewJSONHandler(w, hopts)), nil
	}
	return nil, flagErrorf("--log-format %q: valid values are {%s}", format, strings.Join(logFormats, "|"))
}

// parseJoin splits, trims and checks the --join seeds. pflag already split on commas; blanks
// between commas ("a:1,,b:2" or a trailing comma) are dropped.
func parseJoin(seeds []string) ([]string, error) {
	var out []string
	for _, s := range seeds {
		s = strings.TrimSpace(s)
		if s == "" {
			continue
		}
		if _, port, err := net.SplitHostPort(s); err != nil || port == "" {
			return nil, flagErrorf("--join %q: want host:port", s)
		}
		out = append(out, s)
	}
	return out, nil
}

// readGossipKeys reads and decodes the key file: one key per line, the first
// the one gossip encrypts with, any others accepted as well (a key rotation
// in progress). Blank lines and lines starting with # are skipped. Errors
// name the file and line, never a key.
func readGossipKeys(path string, logger *slog.Logger) (primary []byte, secondary [][]byte, err error) {
	b, err := readSecretFile(path, logger)
	if err != nil {
		return nil, nil, flagErrorf("--gossip-key-file: %v", err)
	}
	for i, line := range strings.Split(string(b), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		key, err := gossip.ParseKey([]byte(line))
		if err != nil {
			return nil, nil, flagErrorf("--gossip-key-file %s line %d: %v (make one with crdtd keygen)", path, i+1, err)
		}
		if primary == nil {
			primary = key
		} else {
			secondary = append(secondary, key)
		}
	}
	if primary == nil {
		return nil, nil, flagErrorf("--gossip-key-file %s holds no key (make one with crdtd keygen)", path)
	}
	return primary, secondary, nil
}

// readToken reads the API token file: its contents without surrounding white space. Errors name
// the file, never the token.
func readToken(path string, logger *slog.Logger) (string, error) {
	b, err := readSecretFile(path, logger)
	if err != nil {
		return "", flagErrorf("--api-token-file: %v", err)
	}
	token := string(bytes.TrimSpace(b))
	switch {
	case token == "":
		return "", flagErrorf("--api-token-file %s is empty", path)
	case strings.IndexFunc(token, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }) >= 0:
		return "", flagErrorf("--api-token-file %s: the token contains white space or control characters", path)
	}
	return token, nil
}

// readSecretFile reads a small file holding a secret. It refuses a file
// that users other than its owner may read or write (group or others), and
// warns about a file its group may read: a key or token anyone on the host
// can read is no secret.
func readSecretFile(path string, logger *slog.Logger) ([]byte, error) {
	fh, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer fh.Close()
	if fi, err := fh.Stat(); err == nil && fi.Mode().IsRegular() {
		switch perm := fi.Mode().Perm(); {
		case perm&0o007 != 0, perm&0o020 != 0:
			return nil, fmt.Errorf("%s has mode %s: other users may read or change the secret; chmod 600 it", path, perm)
		case perm&0o040 != 0:
			logger.Warn("secret file is readable by its group; chmod 600 it unless that is meant", "file", path, "mode", perm.String())
		}
	}
	b, err := io.ReadAll(io.LimitReader(fh, maxSecretBytes+1))
	if err != nil {
		return nil, fmt.Errorf("read %s: %v", path, err)
	}
	if len(b) > maxSecretBytes {
		return nil, fmt.Errorf("%s is larger than %d bytes", path, maxSecretBytes)
	}
	return b, nil
}

// hostName is the default node name.
func hostName() string {
	h, err := os.Hostname()
	if err != nil || h == "" {
		return "crdtd"
	}
	return h
}
