package cli

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/crdtd/crdtd/client"
	"github.com/crdtd/crdtd/internal/loadgen"
)

// defaultBenchSeed is the default of --seed. loadgen's default is 0; cartctl has always used 1,
// and keeps it so that runs stay comparable with earlier ones.
const defaultBenchSeed = 1

type benchOptions struct {
	baseOptions

	ErrOut io.Writer // the progress bar and notes
	ErrTTY bool      // ErrOut is a terminal: draw the progress bar

	Nodes              []string      // API addresses; workers cycle through them
	Concurrency        int           // workers
	Duration           time.Duration // run length; 0 when Requests is given
	Requests           int64         // operations to run; 0 when the run is timed
	Carts              int           // distinct carts
	Items              int           // distinct items per cart
	Mix                benchMix      // percentage of each operation
	Rate               float64       // target ops/s, open loop; 0 means closed loop
	ConvergenceSamples int           // convergence markers to time; 0 disables
	ConvergencePoll    time.Duration // pause between two reads of one node waiting for a marker
	Seed               uint64        // seeds the workers' choices of operation, cart and item
	Retries            int           // retries per operation after a transient failure
	OpTimeout          time.Duration // bound of one operation, retries included (global --timeout)
	Cleanup            bool          // clear the run's carts on every node at the end

	// Token returns the nodes' bearer token, from --token-file or $CARTCTL_TOKEN; set by
	// complete, called when the run starts.
	Token func() (string, error)
	// TLS returns the TLS settings for https nodes, from --ca-file, --cert-file and --key-file
	// or their variables; set by complete, called when the run starts.
	TLS func() (*tls.Config, error)
}

func newCmdBench(f *factory, runF func(*benchOptions) error) *cobra.Command {
	opts := &benchOptions{
		baseOptions: newBaseOptions(f),
		ErrOut:      f.ErrOut,
		ErrTTY:      isTerminal(f.ErrOut),
	}
	d := loadgen.DefaultConfig()
	opts.Mix = benchMix(d.Mix)
	cmd := &cobra.Command{
		Use:   "bench",
		Short: "Generate load against nodes and measure throughput, latency and convergence",
		Long: `Run a mix of cart operations against one or more nodes and report throughput,
latency percentiles (overall and per operation), errors by kind, and how long a
write takes to become visible on every node.

Workers (--concurrency) each cycle through the nodes round-robin, picking a
random cart among --carts (named bench-0, bench-1, ...) and a random item among
--items for each operation, according to --mix: add (quantity 1), set (a
quantity of 1 to 10), remove, get. --seed makes each worker's choices repeatable.

The run lasts --duration or --requests operations. --timeout bounds each
operation, retries included, not the run. Without --rate the workers run as
fast as the nodes answer (closed loop). With --rate the operations are scheduled
at fixed intervals (open loop), and latency counts from the scheduled start, so
a node that falls behind shows it in the percentiles instead of hiding it.

A failed operation (after --retries retries) is counted under its kind, such as
unreachable, timeout or an API error code, and the run goes on. Latency is that
of successful operations; percentiles are exact up to 1,000,000 operations and
taken from a uniform sample of that many beyond.

With two or more nodes, a sampler spreads --convergence-samples markers over the
run: it adds an item bench-marker-RUN-K to a new cart bench-conv-RUN-K on one
node (in turn), polls every other node every --convergence-poll, and records
the time from the write's acknowledgment until the marker is seen everywhere.
A marker not seen everywhere within 10s counts as a timeout. Markers are not
counted as operations. The poll pause is the measurement's resolution; with
many nodes on one machine, raise it so that the polling does not take the CPU
the nodes need to replicate (50 nodes polled every millisecond is 49,000
reads a second).

Every cart a run writes is named bench-...; other carts are never touched. The
run leaves its carts in place unless --cleanup is given, which clears each of
them on every node at the end (also after Ctrl-C). To clear an earlier run's
carts: cartctl list | grep '^bench-' | xargs -n1 cartctl clear

A progress line is drawn on stderr when it is a terminal. Ctrl-C stops the run
early and prints the report of what ran.`,
		Example: `  cartctl bench
  cartctl bench --nodes http://127.0.0.1:7070,http://127.0.0.1:7071 -c 64 -d 30s
  cartctl bench -n 100000 --mix add=100 --convergence-samples 0 -o json
  cartctl bench --rate 2000 -d 1m --carts 10000 --items 5
  cartctl bench -d 30s --cleanup`,
		Args: requireArgs(),
		// Replaces the root's hook, which would cap the whole run with --timeout.
		PersistentPreRunE: func(cmd *cobra.Command, _ []string) error {
			return nil
		},
		RunE: func(cmd *cobra.Command, _ []string) error {
			opts.Output = outputFormat(cmd)
			if err := opts.complete(cmd); err != nil {
				return err
			}
			if runF != nil {
				return runF(opts)
			}
			return runBench(cmd.Context(), opts)
		},
	}
	fs := cmd.Flags()
	fs.StringSliceVar(&opts.Nodes, "nodes", nil, "comma-separated API addresses of the nodes (default: --node)")
	fs.IntVarP(&opts.Concurrency, "concurrency", "c", d.Concurrency, "concurrent workers")
	fs.DurationVarP(&opts.Duration, "duration", "d", d.Duration, "how long to run (exclusive with --requests)")
	fs.Int64VarP(&opts.Requests, "requests", "n", 0, "number of operations to run instead of a duration")
	fs.IntVar(&opts.Carts, "carts", d.Carts, "number of distinct carts")
	fs.IntVar(&opts.Items, "items", d.Items, "number of distinct items per cart")
	fs.Var(&opts.Mix, "mix", "percentage of each operation, summing to 100: add, set, remove, get")
	fs.Float64Var(&opts.Rate, "rate", 0, "target operations per second, open loop (0: as fast as possible)")
	fs.IntVar(&opts.ConvergenceSamples, "convergence-samples", d.ConvergenceSamples, "convergence markers to time (0: none)")
	fs.DurationVar(&opts.ConvergencePoll, "convergence-poll", d.ConvergencePoll, "pause between two reads of one node while waiting for a marker (the measurement's resolution)")
	fs.Uint64Var(&opts.Seed, "seed", defaultBenchSeed, "seed of the random choices")
	fs.IntVar(&opts.Retries, "retries", d.Retries, "retries of an operation after a transient failure")
	fs.BoolVar(&opts.Cleanup, "cleanup", false, "clear the run's carts (bench-...) on every node at the end")
	return cmd
}

// complete validates the flags and fills in what comes from the global flags: the default node,
// the per-operation timeout and the token.
func (o *benchOptions) complete(cmd *cobra.Command) error {
	fs := cmd.Flags()
	if fs.Changed("requests") {
		if fs.Changed("duration") {
			return flagErrorf("--duration and --requests are exclusive: give one")
		}
		o.Duration = 0
		if o.Requests < 1 {
			return flagErrorf("--requests %d: want at least 1", o.Requests)
		}
	} else if o.Duration <= 0 {
		return flagErrorf("--duration %v: want a positive duration", o.Duration)
	}
	switch {
	case o.Concurrency < 1 || o.Concurrency > loadgen.MaxConcurrency:
		return flagErrorf("--concurrency %d out of range 1..%d", o.Concurrency, loadgen.MaxConcurrency)
	case o.Carts < 1 || o.Carts > loadgen.MaxCarts:
		return flagErrorf("--carts %d out of range 1..%d", o.Carts, loadgen.MaxCarts)
	case o.Items < 1 || o.Items > loadgen.MaxItems:
		return flagErrorf("--items %d out of range 1..%d", o.Items, loadgen.MaxItems)
	case o.Rate < 0 || o.Rate > loadgen.MaxRate:
		return flagErrorf("--rate %v out of range 0..1e9", o.Rate)
	case o.ConvergenceSamples < 0 || o.ConvergenceSamples > loadgen.MaxConvergenceSamples:
		return flagErrorf("--convergence-samples %d out of range 0..%d", o.ConvergenceSamples, loadgen.MaxConvergenceSamples)
	case o.ConvergencePoll <= 0 || o.ConvergencePoll > loadgen.MaxConvergencePoll:
		return flagErrorf("--convergence-poll %v out of range (0s, %v]", o.ConvergencePoll, loadgen.MaxConvergencePoll)
	case o.Retries < 0:
		return flagErrorf("--retries %d: want 0 or more", o.Retries)
	}

	timeout, err := fs.GetDuration("timeout")
	if err != nil {
		return err
	}
	if timeout <= 0 {
		return flagErrorf("--timeout must be positive, got %v", timeout)
	}
	o.OpTimeout = timeout

	g := &globalOptions{}
	if fl := cmd.Flag("node"); fl != nil {
		g.Node = fl.Value.String()
	}
	if fl := cmd.Flag("token-file"); fl != nil {
		g.TokenFile = fl.Value.String()
	}
	for name, v := range map[string]*string{"ca-file": &g.CAFile, "cert-file": &g.CertFile, "key-file": &g.KeyFile} {
		if fl := cmd.Flag(name); fl != nil {
			*v = fl.Value.String()
		}
	}
	if len(o.Nodes) == 0 {
		o.Nodes = []string{g.node()}
	}
	for i, n := range o.Nodes {
		n = strings.TrimSpace(n)
		if _, err := client.New(client.Config{BaseURL: n}); err != nil {
			return flagErrorf("--nodes %q: %v", n, err)
		}
		o.Nodes[i] = n
	}
	o.Token = g.token
	o.TLS = g.tlsConfig
	return nil
}

// config maps the options to the load generator's Config. The flags' 0 retries and 0 samples
// mean none, where loadgen's 0 means its default.
func (o *benchOptions) config(token string, tc *tls.Config) loadgen.Config {
	cfg := loadgen.Config{
		Nodes:              o.Nodes,
		Token:              token,
		TLS:                tc,
		Concurrency:        o.Concurrency,
		Duration:           o.Duration,
		Requests:           o.Requests,
		Carts:              o.Carts,
		Items:              o.Items,
		Mix:                loadgen.Mix(o.Mix),
		Rate:               o.Rate,
		ConvergenceSamples: o.ConvergenceSamples,
		ConvergencePoll:    o.ConvergencePoll,
		Seed:               o.Seed,
		Retries:            o.Retries,
		OpTimeout:          o.OpTimeout,
		Cleanup:            o.Cleanup,
	}
	if cfg.Retries == 0 {
		cfg.Retries = -1
	}
	if cfg.ConvergenceSamples == 0 {
		cfg.ConvergenceSamples = -1
	}
	if o.ErrTTY {
		cfg.Progress = o.ErrOut
	}
	return cfg
}

func runBench(ctx context.Context, opts *benchOptions) error {
	p, err := opts.printer()
	if err != nil {
		return err
	}
	token, err := opts.Token()
	if err != nil {
		return err
	}
	var tc *tls.Config
	if opts.TLS != nil {
		if tc, err = opts.TLS(); err != nil {
			return err
		}
	}
	rep, err := loadgen.Run(ctx, opts.config(token, tc))
	if err != nil {
		return fmt.Errorf("bench: %w", err)
	}
	if rep.Interrupted {
		fmt.Fprintf(opts.ErrOut, "Interrupted: reporting the %d operations that finished.\n", rep.Ops)
	}
	return p.benchReport(rep)
}

// node returns the node the global flags and the environment name.
func (g *globalOptions) node() string {
	switch {
	case g.Node != "":
		return g.Node
	case os.Getenv(envNode) != "":
		return os.Getenv(envNode)
	}
	return defaultNode
}

// benchMix is the flag value of --mix: the percentage of each operation, in the syntax of
// loadgen.ParseMix.
type benchMix loadgen.Mix

// Set parses "add=70,set=10,remove=10,get=10". Operations left out get 0%.
func (m *benchMix) Set(s string) error {
	mix, err := loadgen.ParseMix(s)
	if err != nil {
		return err
	}
	*m = benchMix(mix)
	return nil
}

// String returns the mix in the syntax of Set, without the operations at 0%.
func (m *benchMix) String() string { return loadgen.Mix(*m).String() }

// Type names the flag's value in the help.
func (m *benchMix) Type() string { return "mix" }
