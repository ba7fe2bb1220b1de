package loadgen

import (
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"strconv"
	"strings"
	"time"

	"github.com/crdtd/crdtd/client"
)

// CartPrefix starts the name of every cart a run writes: the workers' carts are CartPrefix0,
// CartPrefix1, ... and the convergence carts CartPrefix + "conv-RUN-K". Other carts are never
// touched, so a cluster's own carts and a run's leftovers are told apart by name.
const CartPrefix = "bench-"

// Limits of a [Config]. They keep a mistyped number from exhausting the machine the run shares
// with the nodes it measures.
const (
	MaxConcurrency        = 10_000
	MaxCarts              = 1_000_000
	MaxItems              = 10_000 // the API's limit of lines per cart (api.MaxLines)
	MaxRate               = 1e9    // operations per second
	MaxConvergenceSamples = 1_000_000
	MaxConvergencePoll    = time.Second
)

// Config describes one run. The zero value of every field but Nodes means its default, as
// [DefaultConfig] spells out; where 0 means something else (Rate, Seed, Requests), the field says
// so. [Run] copies the Config; changing it afterwards has no effect.
type Config struct {
	// Nodes are the API addresses of the nodes under load, as URLs or host:port (the form of
	// client.Config.BaseURL). Workers cycle through them; with two or more, the run also
	// measures convergence. Required.
	Nodes []string

	// Token is the bearer token sent to every node; empty sends none.
	Token string

	// TLS is the TLS configuration for https nodes: the CAs to trust and the client certificate
	// to present. Nil means Go's defaults (the system's CAs, no client certificate).
	TLS *tls.Config

	// Concurrency is the number of workers, each with one operation in flight. 0 means 16,
	// several requests in flight for each core of a small node.
	Concurrency int

	// Duration is how long the load runs. Give Duration or Requests, not both; when both are 0,
	// the run lasts 10 s, long enough for stable percentiles at a few thousand operations a second.
	Duration time.Duration

	// Requests is the number of operations to run instead of a Duration. 0 means a timed run.
	Requests int64

	// Carts is the number of distinct carts, named bench-0, bench-1, ... ([CartPrefix]). 0 means 100: few enough
	// that writes to one cart meet on different nodes, which is what convergence is about.
	Carts int

	// Items is the number of distinct items per cart, named item-0, item-1, ... 0 means 20, a
	// large order; a cart view's size, and so the cost of a get, grows with it.
	Items int

	// Mix is the share of each operation. The zero Mix means add=70,set=10,remove=10,get=10: a
	// shop's carts are mostly added to.
	Mix Mix

	// Rate is the target of operations per second over all workers. 0 (the default) runs a closed
	// loop: each worker starts its next operation when the last one ends. A positive Rate runs an
	// open loop: operations are scheduled at fixed intervals and latency counts from the
	// scheduled start, so a node that falls behind shows it in the percentiles.
	Rate float64

	// ConvergenceSamples is the number of convergence markers timed over the run, when there are
	// two or more Nodes. 0 means 200, which gives a p99 from two samples beyond it; a negative
	// value measures no convergence.
	ConvergenceSamples int

	// ConvergencePoll is the pause between two reads of one node waiting for a marker: the
	// resolution of the convergence figures. 0 means 1 ms. With many nodes on one machine,
	// raise it so that polling leaves the nodes the CPU they need to replicate.
	ConvergencePoll time.Duration

	// Seed seeds each worker's random choices of operation, cart and item: worker w of two runs
	// with the same Seed makes the same sequence of choices. Every value is a seed, 0 included.
	Seed uint64

	// Retries is how many times an operation is repeated after a failure that may be transient
	// (client.Config.Retries). 0 means client.DefaultRetries (3); a negative value means none.
	Retries int

	// OpTimeout bounds one operation, retries included. 0 means 10 s, cartctl's --timeout: a node
	// that hangs fails the operation, not the run.
	OpTimeout time.Duration

	// Cleanup, when set, clears every cart the run wrote once the load has ended: the carts
	// [CartPrefix]0 ... of the workers and the convergence carts. Each cart is cleared on every
	// node, because a clear removes only what the node running it has seen, and every write of
	// the run was acknowledged by, so seen on, one of the Nodes. It runs also when ctx ended the
	// load early; each clear is bounded by OpTimeout. The default leaves the carts in place, for
	// a look at what the load did.
	Cleanup bool

	// Progress, when not nil, receives a progress line redrawn in place every 250 ms with a
	// carriage return and an ANSI erase, and erased at the end: give it a terminal. Nil draws
	// nothing.
	Progress io.Writer
}

// DefaultConfig returns the Config that the zero values of a Config stand for, without Nodes:
// 16 workers for 10 s in closed loop over 100 carts of 20 items, mix
// add=70,set=10,remove=10,get=10, seed 0, 200 convergence markers polled every millisecond, 3
// retries, 10 s per operation.
func DefaultConfig() Config {
	return Config{
		Concurrency:        16,
		Duration:           10 * time.Second,
		Carts:              100,
		Items:              20,
		Mix:                Mix{OpAdd: 70, OpSet: 10, OpRemove: 10, OpGet: 10},
		ConvergenceSamples: 200,
		ConvergencePoll:    time.Millisecond,
		Retries:            client.DefaultRetries,
		OpTimeout:          10 * time.Second,
	}
}

// withDefaults returns c with its zero values replaced by their defaults.
func (c Config) withDefaults() Config {
	d := DefaultConfig()
	if c.Concurrency == 0 {
		c.Concurrency = d.Concurrency
	}
	if c.Duration == 0 && c.Requests == 0 {
		c.Duration = d.Duration
	}
	if c.Carts == 0 {
		c.Carts = d.Carts
	}
	if c.Items == 0 {
		c.Items = d.Items
	}
	if c.Mix == (Mix{}) {
		c.Mix = d.Mix
	}
	if c.ConvergenceSamples == 0 {
		c.ConvergenceSamples = d.ConvergenceSamples
	}
	if c.ConvergencePoll == 0 {
		c.ConvergencePoll = d.ConvergencePoll
	}
	if c.Retries == 0 {
		c.Retries = d.Retries
	}
	if c.OpTimeout == 0 {
		c.OpTimeout = d.OpTimeout
	}
	return c
}

// validate checks a Config whose defaults are filled in.
func (c *Config) validate() error {
	switch {
	case len(c.Nodes) == 0:
		return errors.New("no nodes")
	case c.Duration > 0 && c.Requests > 0:
		return fmt.Errorf("duration %v and requests %d: give one", c.Duration, c.Requests)
	case c.Duration < 0:
		return fmt.Errorf("duration %v: want a positive duration", c.Duration)
	case c.Requests < 0:
		return fmt.Errorf("requests %d: want at least 1", c.Requests)
	case c.Concurrency < 1 || c.Concurrency > MaxConcurrency:
		return fmt.Errorf("concurrency %d out of range 1..%d", c.Concurrency, MaxConcurrency)
	case c.Carts < 1 || c.Carts > MaxCarts:
		return fmt.Errorf("carts %d out of range 1..%d", c.Carts, MaxCarts)
	case c.Items < 1 || c.Items > MaxItems:
		return fmt.Errorf("items %d out of range 1..%d", c.Items, MaxItems)
	case c.Rate < 0 || c.Rate > MaxRate:
		return fmt.Errorf("rate %v out of range 0..1e9", c.Rate)
	case c.ConvergenceSamples > MaxConvergenceSamples:
		return fmt.Errorf("convergence samples %d above %d", c.ConvergenceSamples, MaxConvergenceSamples)
	case c.ConvergencePoll < 0 || c.ConvergencePoll > MaxConvergencePoll:
		return fmt.Errorf("convergence poll %v out of range (0s, %v]", c.ConvergencePoll, MaxConvergencePoll)
	case c.OpTimeout < 0:
		return fmt.Errorf("operation timeout %v: want a positive duration", c.OpTimeout)
	}
	return c.Mix.validate()
}

// Op is one kind of operation of the load.
type Op uint8

// The operations of the load, in the order of a [Mix].
const (
	OpAdd    Op = iota // add 1 of an item (POST /v1/carts/{cart}/items)
	OpSet              // set an item's quantity to 1..10 (PUT /v1/carts/{cart}/items/{item})
	OpRemove           // remove an item's line (DELETE /v1/carts/{cart}/items/{item})
	OpGet              // read a cart (GET /v1/carts/{cart})
	numOps
)

var opNames = [numOps]string{"add", "set", "remove", "get"}

// String returns the operation's name in a Mix and a [Report]: add, set, remove or get.
func (op Op) String() string {
	if op >= numOps {
		return "op(" + strconv.Itoa(int(op)) + ")"
	}
	return opNames[op]
}

func parseOp(name string) (Op, bool) {
	for op, n := range opNames {
		if n == name {
			return Op(op), true
		}
	}
	return 0, false
}

// Mix is the percentage of each operation, indexed by [Op]. A valid Mix sums to 100.
type Mix [numOps]int

// ParseMix parses a mix such as "add=70,set=10,remove=10,get=10". Operations left out get 0%;
// the percentages must sum to 100.
func ParseMix(s string) (Mix, error) {
	var mix Mix
	var given [numOps]bool
	sum := 0
	for part := range strings.SplitSeq(s, ",") {
		name, pct, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok {
			return Mix{}, fmt.Errorf("%q: want OP=PERCENT, such as add=70", part)
		}
		op, ok := parseOp(name)
		if !ok {
			return Mix{}, fmt.Errorf("unknown operation %q: want add, set, remove or get", name)
		}
		if given[op] {
			return Mix{}, fmt.Errorf("operation %s given twice", name)
		}
		given[op] = true
		n, err := strconv.Atoi(pct)
		if err != nil || n < 0 || n > 100 {
			return Mix{}, fmt.Errorf("%s=%s: want a whole percentage 0..100", name, pct)
		}
		mix[op] = n
		sum += n
	}
	if sum != 100 {
		return Mix{}, fmt.Errorf("percentages sum to %d, want 100", sum)
	}
	return mix, nil
}

// String returns the mix in the syntax of [ParseMix], without the operations at 0%.
func (m Mix) String() string {
	var parts []string
	for op, pct := range m {
		if pct > 0 {
			parts = append(parts, fmt.Sprintf("%s=%d", Op(op), pct))
		}
	}
	return strings.Join(parts, ",")
}

func (m Mix) validate() error {
	sum := 0
	for op, pct := range m {
		if pct < 0 || pct > 100 {
			return fmt.Errorf("mix %s=%d: want a whole percentage 0..100", Op(op), pct)
		}
		sum += pct
	}
	if sum != 100 {
		return fmt.Errorf("mix %s: percentages sum to %d, want 100", m, sum)
	}
	return nil
}

// pick draws an operation according to the mix, which sums to 100.
func (m *Mix) pick(r *rand.Rand) Op {
	n := r.IntN(100)
	for op, pct := range m {
		if n < pct {
			return Op(op)
		}
		n -= pct
	}
	return OpGet // unreachable when the percentages sum to 100
}
