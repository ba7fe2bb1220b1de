package cli

import (
	"context"
	"crypto/rand"
	"fmt"
	mathrand "math/rand/v2"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/crdtd/crdtd/api"
	"github.com/crdtd/crdtd/client"
)

const (
	// convergenceDeadline bounds the wait for one marker to be seen on every node.
	convergenceDeadline = 10 * time.Second
	// samplerTick is how often the sampler checks whether the next marker is due.
	samplerTick = time.Millisecond
)

// benchClients returns a constructor of clients for the bench, all sharing one HTTP connection
// pool (benchTransport) that keeps up to idlePerHost idle connections per node (the default of 2
// would make most workers open a new connection per request), and a function that closes the
// idle connections. Clients have no per-attempt timeout: every operation's context carries
// --timeout.
func benchClients(g *globalOptions, idlePerHost int) (func(node string, retries int, views bool) (*client.Client, error), func()) {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConns = 0
	tr.MaxIdleConnsPerHost = idlePerHost
	bt := newBenchTransport(tr, idlePerHost)
	hc := &http.Client{
		Transport: bt,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}
	token := sync.OnceValues(g.token) // read a token file once, not once per node
	newClient := func(node string, retries int, views bool) (*client.Client, error) {
		token, err := token()
		if err != nil {
			return nil, err
		}
		if retries == 0 {
			retries = -1 // the client's 0 means its default
		}
		return client.New(client.Config{BaseURL: node, Token: token, HTTPClient: hc, Retries: retries, SkipCartViews: !views})
	}
	return newClient, bt.CloseIdleConnections
}

// benchRun is one run of the bench. Workers claim operation numbers from next; the sampler,
// when there is one, times convergence markers; the progress line reads done. Fields set before
// the goroutines start are read-only after.
type benchRun struct {
	opts     *benchOptions
	clients  []*client.Client // one per node, with retries, not decoding views
	pollers  []*client.Client // one per node, without retries: the sampler polls
	carts    []string
	items    []string
	runID    string // makes this run's marker items unique
	rec      *recorder
	start    time.Time
	deadline time.Time     // end of a timed run; zero when counting operations
	interval time.Duration // between scheduled operations in open loop; 0 in closed loop

	next    atomic.Int64 // next operation number to claim
	done    atomic.Int64 // operations finished, successful or not
	samples atomic.Int64 // convergence markers finished

	conv convergence // written by the sampler only; read after it ends
}

// convergence collects what the sampler measured.
type convergence struct {
	times    []time.Duration // acknowledgment to seen on every node
	timeouts int             // markers not seen everywhere within convergenceDeadline
	failed   int             // marker writes that failed
}

func runBench(ctx context.Context, opts *benchOptions) error {
	if opts.closeIdle != nil {
		defer opts.closeIdle()
	}
	b := &benchRun{
		opts:  opts,
		carts: numbered("bench-", opts.Carts),
		items: numbered("item-", opts.Items),
		runID: strings.ToLower(rand.Text()[:10]),
		rec:   newRecorder(maxLatencySamples, opts.Seed),
	}
	for _, node := range opts.Nodes {
		c, err := opts.NewClient(node, opts.Retries, false) // workers need only the outcome
		if err != nil {
			return err
		}
		p, err := opts.NewClient(node, -1, true) // the sampler looks for its marker
		if err != nil {
			return err
		}
		b.clients = append(b.clients, c)
		b.pollers = append(b.pollers, p)
	}
	// Fail fast, with the usual exit code, on a node that cannot be reached or refuses us.
	for i, c := range b.clients {
		pctx, cancel := context.WithTimeout(ctx, opts.OpTimeout)
		_, err := c.GetCart(pctx, b.carts[0])
		cancel()
		if err != nil {
			return fmt.Errorf("bench: node %s: %w", opts.Nodes[i], err)
		}
	}

	b.start = time.Now()
	if opts.Duration > 0 {
		b.deadline = b.start.Add(opts.Duration)
	}
	if opts.Rate > 0 {
		b.interval = max(1, time.Duration(float64(time.Second)/opts.Rate))
	}

	loadDone := make(chan struct{})
	var samplerWG, progressWG sync.WaitGroup
	if opts.ConvergenceSamples > 0 && len(b.clients) > 1 {
		samplerWG.Go(func() { b.sampler(ctx, loadDone) })
	}
	stopProgress := make(chan struct{})
	if opts.ErrTTY {
		progressWG.Go(func() { b.progress(stopProgress) })
	}
	var workers sync.WaitGroup
	for w := range opts.Concurrency {
		workers.Go(func() { b.worker(ctx, w) })
	}
	workers.Wait()
	elapsed := time.Since(b.start)
	close(loadDone)
	samplerWG.Wait()
	close(stopProgress)
	progressWG.Wait()

	interrupted := ctx.Err() != nil
	if interrupted {
		fmt.Fprintf(opts.ErrOut, "Interrupted: reporting the %d operations that finished.\n", b.done.Load())
	}
	return printBenchReport(&opts.baseOptions, b.report(elapsed, interrupted))
}

// numbered returns prefix0, prefix1, ... prefix(n-1).
func numbered(prefix string, n int) []string {
	s := make([]string, n)
	for i := range s {
		s[i] = prefix + strconv.Itoa(i)
	}
	return s
}

// worker runs operations until the run ends: it claims an operation number, waits for its
// scheduled time in open loop, runs it on the next node in turn and records the outcome.
// Latency counts from the scheduled time (open loop) or the start (closed loop).
func (b *benchRun) worker(ctx context.Context, w int) {
	rng := mathrand.New(mathrand.NewPCG(b.opts.Seed, uint64(w)))
	node := w % len(b.clients)
	for ctx.Err() == nil {
		i := b.next.Add(1) - 1
		if b.opts.Requests > 0 && i >= b.opts.Requests {
			return
		}
		var start time.Time
		if b.interval > 0 {
			start = b.start.Add(time.Duration(i) * b.interval)
			if !b.deadline.IsZero() && !start.Before(b.deadline) {
				return
			}
			if sleepUntil(ctx, start) != nil {
				return
			}
		} else {
			start = time.Now()
			if !b.deadline.IsZero() && !start.Before(b.deadline) {
				return
			}
		}
		op := b.opts.Mix.pick(rng)
		err := b.do(ctx, b.clients[node], op, rng)
		d := time.Since(start)
		node = (node + 1) % len(b.clients)
		if err != nil && ctx.Err() != nil {
			return // interrupted, not failed
		}
		b.rec.record(op, d, err)
		b.done.Add(1)
	}
}

// do runs one operation on a random line.
func (b *benchRun) do(ctx context.Context, c *client.Client, op benchOp, rng *mathrand.Rand) error {
	ctx, cancel := context.WithTimeout(ctx, b.opts.OpTimeout)
	defer cancel()
	cart := b.carts[rng.IntN(len(b.carts))]
	item := b.items[rng.IntN(len(b.items))]
	var err error
	switch op {
	case benchAdd:
		_, err = c.AddItem(ctx, cart, api.AddItemRequest{Item: item, Quantity: 1})
	case benchSet:
		q := 1 + rng.Int64N(10)
		_, err = c.SetItem(ctx, cart, item, api.SetItemRequest{Quantity: &q})
	case benchRemove:
		_, err = c.RemoveItem(ctx, cart, item)
	default:
		_, err = c.GetCart(ctx, cart)
	}
	return err
}

// sampler times the convergence markers one after another, each when it is due: spread evenly
// over the duration of a timed run, or over the operation count. Markers still due when the load
// ends are timed right away, so that a short run still gets all of them.
func (b *benchRun) sampler(ctx context.Context, loadDone <-chan struct{}) {
	n := b.opts.ConvergenceSamples
	tick := time.NewTicker(samplerTick)
	defer tick.Stop()
	for k := range n {
		for !b.sampleDue(k, n, loadDone) {
			select {
			case <-ctx.Done():
				return
			case <-loadDone:
			case <-tick.C:
			}
		}
		if ctx.Err() != nil {
			return
		}
		b.sample(ctx, k)
		b.samples.Add(1)
	}
}

// sampleDue reports whether marker k of n is due: at the middle of its n-th of the run.
func (b *benchRun) sampleDue(k, n int, loadDone <-chan struct{}) bool {
	select {
	case <-loadDone:
		return true
	default:
	}
	if b.opts.Requests > 0 {
		return float64(b.done.Load()) >= (float64(k)+0.5)/float64(n)*float64(b.opts.Requests)
	}
	due := b.start.Add(time.Duration((float64(k) + 0.5) / float64(n) * float64(b.opts.Duration)))
	return !time.Now().Before(due)
}

// sample writes marker k on one node (in turn) and polls all the others until each has it.
func (b *benchRun) sample(ctx context.Context, k int) {
	origin := k % len(b.clients)
	// A cart per marker keeps each poll's answer small however many markers the run writes.
	cart := fmt.Sprintf("bench-conv-%s-%d", b.runID, k)
	marker := fmt.Sprintf("bench-marker-%s-%d", b.runID, k)

	wctx, cancel := context.WithTimeout(ctx, b.opts.OpTimeout)
	_, err := b.clients[origin].AddItem(wctx, cart, api.AddItemRequest{Item: marker, Quantity: 1})
	cancel()
	if err != nil {
		if ctx.Err() == nil {
			b.conv.failed++
		}
		return
	}
	acked := time.Now()

	pctx, cancel := context.WithDeadline(ctx, acked.Add(convergenceDeadline))
	defer cancel()
	var wg sync.WaitGroup
	var mu sync.Mutex
	last, missed := acked, false
	for i, c := range b.pollers {
		if i == origin {
			continue
		}
		wg.Go(func() {
			at, ok := pollMarker(pctx, c, cart, marker, b.opts.ConvergencePoll)
			mu.Lock()
			defer mu.Unlock()
			if !ok {
				missed = true
				return
			}
			last = later(last, at)
		})
	}
	wg.Wait()
	switch {
	case ctx.Err() != nil: // interrupted: neither converged nor timed out
	case missed:
		b.conv.timeouts++
	default:
		b.conv.times = append(b.conv.times, last.Sub(acked))
	}
}

func later(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

// pollMarker reads cart from c, pausing between reads, until it holds marker, and returns when it saw it; false if ctx
// ended first. Failed reads are retried like the reads that miss the marker.
func pollMarker(ctx context.Context, c *client.Client, cart, marker string, pause time.Duration) (time.Time, bool) {
	for {
		view, err := c.GetCart(ctx, cart)
		if err == nil && slices.ContainsFunc(view.Items, func(l api.Line) bool { return l.Item == marker }) {
			return time.Now(), true
		}
		if sleepCtx(ctx, pause) != nil {
			return time.Time{}, false
		}
	}
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// sleepUntil waits until t or until ctx ends.
func sleepUntil(ctx context.Context, t time.Time) error {
	d := time.Until(t)
	if d <= 0 {
		return ctx.Err()
	}
	return sleepCtx(ctx, d)
}
