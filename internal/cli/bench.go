package cli

import (
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/crdtd/crdtd/client"
)

// Defaults and limits of the bench flags.
const (
	defaultBenchConcurrency = 16
	defaultBenchDuration    = 10 * time.Second
	defaultBenchCarts       = 100
	defaultBenchItems       = 20
	defaultBenchSamples     = 200
	defaultConvergencePoll  = time.Millisecond
	maxConvergencePoll      = time.Second
	defaultBenchSeed        = 1
	defaultBenchMix         = "add=70,set=10,remove=10,get=10"
	maxBenchConcurrency     = 10_000
	maxBenchCarts           = 1_000_000
	maxBenchSamples         = 1_000_000
	maxBenchItems           = 10_000 // the API's limit of lines per cart (docs/http-api.md)
)

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

	// NewClient returns a client for one node with the given number of retries (negative: none),
	// sharing one connection pool; set when the command runs. Without views, its cart calls do not
	// decode the node's answers (client.Config.SkipCartViews), so that the load generator leaves
	// more of a shared machine's CPU to the node it measures.
	NewClient func(node string, retries int, views bool) (*client.Client, error)
	// closeIdle releases the pool's idle connections when the run ends.
	closeIdle func()
}

func newCmdBench(f *factory, runF func(*benchOptions) error) *cobra.Command {
	opts := &benchOptions{
		baseOptions: newBaseOptions(f),
		ErrOut:      f.ErrOut,
		ErrTTY:      isTerminal(f.ErrOut),
	}
	_ = opts.Mix.Set(defaultBenchMix)
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

A progress line is drawn on stderr when it is a terminal. Ctrl-C stops the run
early and prints the report of what ran.`,
		Example: `  cartctl bench
  cartctl bench --nodes http://127.0.0.1:7070,http://127.0.0.1:7071 -c 64 -d 30s
  cartctl bench -n 100000 --mix add=100 --convergence-samples 0 -o json
  cartctl bench --rate 2000 -d 1m --carts 10000 --items 5`,
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
	fs.IntVarP(&opts.Concurrency, "concurrency", "c", defaultBenchConcurrency, "concurrent workers")
	fs.DurationVarP(&opts.Duration, "duration", "d", defaultBenchDuration, "how long to run (exclusive with --requests)")
	fs.Int64VarP(&opts.Requests, "requests", "n", 0, "number of operations to run instead of a duration")
	fs.IntVar(&opts.Carts, "carts", defaultBenchCarts, "number of distinct carts")
	fs.IntVar(&opts.Items, "items", defaultBenchItems, "number of distinct items per cart")
	fs.Var(&opts.Mix, "mix", "percentage of each operation, summing to 100: add, set, remove, get")
	fs.Float64Var(&opts.Rate, "rate", 0, "target operations per second, open loop (0: as fast as possible)")
	fs.IntVar(&opts.ConvergenceSamples, "convergence-samples", defaultBenchSamples, "convergence markers to time (0: none)")
	fs.DurationVar(&opts.ConvergencePoll, "convergence-poll", defaultConvergencePoll, "pause between two reads of one node while waiting for a marker (the measurement's resolution)")
	fs.Uint64Var(&opts.Seed, "seed", defaultBenchSeed, "seed of the random choices")
	fs.IntVar(&opts.Retries, "retries", client.DefaultRetries, "retries of an operation after a transient failure")
	return cmd
}

// complete validates the flags and fills in what comes from the global flags: the default node,
// the per-operation timeout and the client constructor.
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
	case o.Concurrency < 1 || o.Concurrency > maxBenchConcurrency:
		return flagErrorf("--concurrency %d out of range 1..%d", o.Concurrency, maxBenchConcurrency)
	case o.Carts < 1 || o.Carts > maxBenchCarts:
		return flagErrorf("--carts %d out of range 1..%d", o.Carts, maxBenchCarts)
	case o.Items < 1 || o.Items > maxBenchItems:
		return flagErrorf("--items %d out of range 1..%d", o.Items, maxBenchItems)
	case o.Rate < 0 || o.Rate > 1e9:
		return flagErrorf("--rate %v out of range 0..1e9", o.Rate)
	case o.ConvergenceSamples < 0 || o.ConvergenceSamples > maxBenchSamples:
		return flagErrorf("--convergence-samples %d out of range 0..%d", o.ConvergenceSamples, maxBenchSamples)
	case o.ConvergencePoll <= 0 || o.ConvergencePoll > maxConvergencePoll:
		return flagErrorf("--convergence-poll %v out of range (0s, %v]", o.ConvergencePoll, maxConvergencePoll)
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
	o.NewClient, o.closeIdle = benchClients(g, o.Concurrency+len(o.Nodes)+1)
	return nil
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

// benchOp is one kind of operation the bench runs.
type benchOp uint8

const (
	benchAdd benchOp = iota
	benchSet
	benchRemove
	benchGet
	numBenchOps
)

var benchOpNames = [numBenchOps]string{"add", "set", "remove", "get"}

func (op benchOp) String() string { return benchOpNames[op] }

// benchMix is the percentage of each operation; the flag value of --mix. The percentages sum to
// 100 once Set succeeded.
type benchMix [numBenchOps]int

// Set parses "add=70,set=10,remove=10,get=10". Operations left out get 0%.
func (m *benchMix) Set(s string) error {
	var mix benchMix
	var given [numBenchOps]bool
	sum := 0
	for part := range strings.SplitSeq(s, ",") {
		name, pct, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok {
			return fmt.Errorf("%q: want OP=PERCENT, such as add=70", part)
		}
		op, ok := parseBenchOp(name)
		if !ok {
			return fmt.Errorf("unknown operation %q: want add, set, remove or get", name)
		}
		if given[op] {
			return fmt.Errorf("operation %s given twice", name)
		}
		given[op] = true
		n, err := strconv.Atoi(pct)
		if err != nil || n < 0 || n > 100 {
			return fmt.Errorf("%s=%s: want a whole percentage 0..100", name, pct)
		}
		mix[op] = n
		sum += n
	}
	if sum != 100 {
		return fmt.Errorf("percentages sum to %d, want 100", sum)
	}
	*m = mix
	return nil
}

func parseBenchOp(name string) (benchOp, bool) {
	for op, n := range benchOpNames {
		if n == name {
			return benchOp(op), true
		}
	}
	return 0, false
}

// String returns the mix in the syntax of Set, without the operations at 0%.
func (m *benchMix) String() string {
	var parts []string
	for op, pct := range m {
		if pct > 0 {
			parts = append(parts, fmt.Sprintf("%s=%d", benchOp(op), pct))
		}
	}
	return strings.Join(parts, ",")
}

// Type names the flag's value in the help.
func (m *benchMix) Type() string { return "mix" }

// pick draws an operation according to the mix.
func (m *benchMix) pick(r *rand.Rand) benchOp {
	n := r.IntN(100)
	for op, pct := range m {
		if n < pct {
			return benchOp(op)
		}
		n -= pct
	}
	return benchGet // unreachable when the percentages sum to 100
}
