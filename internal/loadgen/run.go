package loadgen

import (
	"context"
	"crypto/rand"
	"fmt"
	mathrand "math/rand/v2"
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

// Run puts the load cfg describes on its nodes and returns the report of the run. It first reads
// a cart from every node and returns an error, wrapping the client's, if one cannot be reached
// or refuses the request; after that, failed operations are counted in the report, not
// returned. When ctx ends, the load stops early and Run returns the report of the operations
// that finished, with Interrupted set. An invalid cfg is an error.
//
// Run may be called from several goroutines at once; each call has its own connections.
func Run(ctx context.Context, cfg Config) (Report, error) {
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return Report{}, fmt.Errorf("load config: %v", err)
	}
	pool := newPool(cfg.Concurrency+len(cfg.Nodes)+1, cfg.TLS)
	defer pool.closeIdle()
	r := &run{
		cfg:   cfg,
		carts: numbered(CartPrefix, cfg.Carts),
		items: numbered("item-", cfg.Items),
		runID: strings.ToLower(rand.Text()[:10]),
		rec:   newRecorder(maxLatencySamples, cfg.Seed),
	}
	for _, node := range cfg.Nodes {
		c, err := pool.client(node, cfg.Token, cfg.Retries, false) // workers need only the outcome
		if err != nil {
			return Report{}, err
		}
		p, err := pool.client(node, cfg.Token, -1, true) // the sampler looks for its marker
		if err != nil {
			return Report{}, err
		}
		r.clients = append(r.clients, c)
		r.pollers = append(r.pollers, p)
	}
	// Fail fast, with the client's error, on a node that cannot be reached or refuses us.
	for i, c := range r.clients {
		pctx, cancel := context.WithTimeout(ctx, cfg.OpTimeout)
		_, err := c.GetCart(pctx, r.carts[0])
		cancel()
		if err != nil {
			return Report{}, fmt.Errorf("node %s: %w", cfg.Nodes[i], err)
		}
	}

	r.start = time.Now()
	if cfg.Duration > 0 {
		r.deadline = r.start.Add(cfg.Duration)
	}
	if cfg.Rate > 0 {
		r.interval = max(1, time.Duration(float64(time.Second)/cfg.Rate))
	}

	loadDone := make(chan struct{})
	var samplerWG, progressWG sync.WaitGroup
	if r.sampling() {
		samplerWG.Go(func() { r.sampler(ctx, loadDone) })
	}
	stopProgress := make(chan struct{})
	if cfg.Progress != nil {
		progressWG.Go(func() { r.progress(stopProgress) })
	}
	var workers sync.WaitGroup
	for w := range cfg.Concurrency {
		workers.Go(func() { r.worker(ctx, w) })
	}
	workers.Wait()
	elapsed := time.Since(r.start)
	close(loadDone)
	samplerWG.Wait()
	close(stopProgress)
	progressWG.Wait()

	rep := r.report(elapsed, ctx.Err() != nil)
	if cfg.Cleanup {
		rep.Cleanup = r.cleanup(ctx)
	}
	return rep, nil
}

// run is one run of the load. Workers claim operation numbers from next; the sampler, when there
// is one, times convergence markers; the progress line reads done. Fields set before the
// goroutines start are read-only after.
type run struct {
	cfg      Config
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

// cleanup clears every cart the run wrote on every node, with up to Concurrency clears in
// flight, and reports how it went. It goes on when ctx has ended: an interrupted run is the one
// most likely to leave carts behind. Call it once the workers and the sampler have ended.
func (r *run) cleanup(ctx context.Context) CleanupReport {
	ctx = context.WithoutCancel(ctx)
	carts := append(slices.Clone(r.carts), r.conv.carts...)
	failed := make([]atomic.Bool, len(carts)) // a clear of the cart failed on some node
	var next atomic.Int64                     // next (cart, node) pair to clear
	var failedClears atomic.Int64
	var wg sync.WaitGroup
	jobs := len(carts) * len(r.clients)
	for range min(r.cfg.Concurrency, jobs) {
		wg.Go(func() {
			for {
				j := int(next.Add(1) - 1)
				if j >= jobs {
					return
				}
				i, node := j/len(r.clients), j%len(r.clients)
				if !r.clearOn(ctx, node, carts[i]) {
					failed[i].Store(true)
					failedClears.Add(1)
				}
			}
		})
	}
	wg.Wait()
	rep := CleanupReport{Failed: int(failedClears.Load())}
	for i := range carts {
		if !failed[i].Load() {
			rep.Carts++
		}
	}
	return rep
}

// cleanupRechecks is how many times cleanup looks again at a cleared cart.
const cleanupRechecks = 3

// clearOn clears cart on node, then looks at it there and clears it again
// while it still holds lines: a write in flight when the run was
// interrupted may land after the clear, which removes only what it saw. It
// reports whether a clear succeeded and the cart was then found empty.
func (r *run) clearOn(ctx context.Context, node int, cart string) bool {
	for range cleanupRechecks + 1 {
		cctx, cancel := context.WithTimeout(ctx, r.cfg.OpTimeout)
		_, err := r.clients[node].ClearCart(cctx, cart)
		if err != nil {
			cancel()
			return false
		}
		v, err := r.pollers[node].GetCart(cctx, cart) // the pollers decode views
		cancel()
		if err != nil || len(v.Items) == 0 {
			return true // a failed look is no evidence of a straggler
		}
	}
	return false
}

// sampling reports whether the run measures convergence: it needs markers and two nodes.
func (r *run) sampling() bool {
	return r.cfg.ConvergenceSamples > 0 && len(r.clients) > 1
}

// convergence collects what the sampler measured.
type convergence struct {
	times    []time.Duration // acknowledgment to seen on every node
	timeouts int             // markers not seen everywhere within convergenceDeadline
	failed   int             // marker writes that failed
	carts    []string        // carts of the markers written, or maybe written: for the cleanup
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
func (r *run) worker(ctx context.Context, w int) {
	rng := mathrand.New(mathrand.NewPCG(r.cfg.Seed, uint64(w)))
	node := w % len(r.clients)
	for ctx.Err() == nil {
		i := r.next.Add(1) - 1
		if r.cfg.Requests > 0 && i >= r.cfg.Requests {
			return
		}
		var start time.Time
		if r.interval > 0 {
			start = r.start.Add(time.Duration(i) * r.interval)
			if !r.deadline.IsZero() && !start.Before(r.deadline) {
				return
			}
			if sleepUntil(ctx, start) != nil {
				return
			}
		} else {
			start = time.Now()
			if !r.deadline.IsZero() && !start.Before(r.deadline) {
				return
			}
		}
		op := r.cfg.Mix.pick(rng)
		err := r.do(ctx, r.clients[node], op, rng)
		d := time.Since(start)
		node = (node + 1) % len(r.clients)
		if err != nil && ctx.Err() != nil {
			return // interrupted, not failed
		}
		r.rec.record(op, d, err)
		r.done.Add(1)
	}
}

// do runs one operation on a random line.
func (r *run) do(ctx context.Context, c *client.Client, op Op, rng *mathrand.Rand) error {
	ctx, cancel := context.WithTimeout(ctx, r.cfg.OpTimeout)
	defer cancel()
	cart := r.carts[rng.IntN(len(r.carts))]
	item := r.items[rng.IntN(len(r.items))]
	var err error
	switch op {
	case OpAdd:
		_, err = c.AddItem(ctx, cart, api.AddItemRequest{Item: item, Quantity: 1})
	case OpSet:
		q := 1 + rng.Int64N(10)
		_, err = c.SetItem(ctx, cart, item, api.SetItemRequest{Quantity: &q})
	case OpRemove:
		_, err = c.RemoveItem(ctx, cart, item)
	default:
		_, err = c.GetCart(ctx, cart)
	}
	return err
}

// sampler times the convergence markers one after another, each when it is due: spread evenly
// over the duration of a timed run, or over the operation count. Markers still due when the load
// ends are timed right away, so that a short run still gets all of them.
func (r *run) sampler(ctx context.Context, loadDone <-chan struct{}) {
	n := r.cfg.ConvergenceSamples
	tick := time.NewTicker(samplerTick)
	defer tick.Stop()
	for k := range n {
		for !r.sampleDue(k, n, loadDone) {
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
		r.sample(ctx, k)
		r.samples.Add(1)
	}
}

// sampleDue reports whether marker k of n is due: at the middle of its n-th of the run.
func (r *run) sampleDue(k, n int, loadDone <-chan struct{}) bool {
	select {
	case <-loadDone:
		return true
	default:
	}
	if r.cfg.Requests > 0 {
		return float64(r.done.Load()) >= (float64(k)+0.5)/float64(n)*float64(r.cfg.Requests)
	}
	due := r.start.Add(time.Duration((float64(k) + 0.5) / float64(n) * float64(r.cfg.Duration)))
	return !time.Now().Before(due)
}

// sample writes marker k on one node (in turn) and polls all the others until each has it.
func (r *run) sample(ctx context.Context, k int) {
	origin := k % len(r.clients)
	// A cart per marker keeps each poll's answer small however many markers the run writes.
	cart := fmt.Sprintf("%sconv-%s-%d", CartPrefix, r.runID, k)
	marker := fmt.Sprintf("bench-marker-%s-%d", r.runID, k)

	r.conv.carts = append(r.conv.carts, cart) // a failed write may still have been applied
	wctx, cancel := context.WithTimeout(ctx, r.cfg.OpTimeout)
	_, err := r.clients[origin].AddItem(wctx, cart, api.AddItemRequest{Item: marker, Quantity: 1})
	cancel()
	if err != nil {
		if ctx.Err() == nil {
			r.conv.failed++
		}
		return
	}
	acked := time.Now()

	pctx, cancel := context.WithDeadline(ctx, acked.Add(convergenceDeadline))
	defer cancel()
	var wg sync.WaitGroup
	var mu sync.Mutex
	last, missed := acked, false
	for i, c := range r.pollers {
		if i == origin {
			continue
		}
		wg.Go(func() {
			at, ok := pollMarker(pctx, c, cart, marker, r.cfg.ConvergencePoll)
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
		r.conv.timeouts++
	default:
		r.conv.times = append(r.conv.times, last.Sub(acked))
	}
}

func later(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

// pollMarker reads cart from c, pausing between reads, until it holds marker, and returns when it
// saw it; false if ctx ended first. Failed reads are retried like the reads that miss the marker.
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
