package loadgen

import (
	"context"
	"errors"
	"math"
	"math/rand/v2"
	"slices"
	"sync"
	"time"

	"github.com/crdtd/crdtd/client"
)

// maxLatencySamples bounds the latencies a run keeps (16 bytes each): up to this many operations
// every latency is kept and percentiles are exact; beyond, they come from a uniform sample.
const maxLatencySamples = 1_000_000

// percentile returns the p-th percentile (0 < p <= 100) of sorted, which is in increasing order,
// by the nearest-rank method: the smallest value that at least p% of the values do not exceed.
// It returns 0 for no values.
func percentile(sorted []time.Duration, p int) time.Duration {
	n := len(sorted)
	if n == 0 {
		return 0
	}
	rank := (p*n + 99) / 100 // ceil(p/100 * n), in integers so that 99% of 100 is exactly 99
	rank = max(1, min(rank, n))
	return sorted[rank-1]
}

// summarize sorts ds in place and returns its percentiles. max is the true maximum, which a
// sample may have missed; it is ignored when smaller than the sample's.
func summarize(ds []time.Duration, maxD time.Duration) Latency {
	slices.Sort(ds)
	if len(ds) > 0 {
		maxD = max(maxD, ds[len(ds)-1])
	}
	return Latency{
		P50: millis(percentile(ds, 50)),
		P90: millis(percentile(ds, 90)),
		P99: millis(percentile(ds, 99)),
		Max: millis(maxD),
	}
}

// millis converts d to milliseconds, rounded to the microsecond.
func millis(d time.Duration) float64 {
	return math.Round(float64(d)/float64(time.Microsecond)) / 1000
}

// latencySample is the latency of one successful operation.
type latencySample struct {
	d  time.Duration
	op Op
}

// opTally counts the outcomes of one kind of operation.
type opTally struct {
	ok, failed int64
	max        time.Duration // of the successful ones
}

// recorder collects the outcome of every operation: counts and exact maxima per operation, errors
// by kind, and a reservoir of at most limit latencies (algorithm R), uniform over all successful
// operations, so that each operation's share of it is a uniform sample of that operation too.
// It is safe for concurrent use.
type recorder struct {
	mu      sync.Mutex
	rng     *rand.Rand
	limit   int
	seen    int64 // successful operations offered to the reservoir
	samples []latencySample
	ops     [numOps]opTally
	errors  map[string]int64
}

func newRecorder(limit int, seed uint64) *recorder {
	return &recorder{
		rng:    rand.New(rand.NewPCG(seed, 0x5eed)),
		limit:  limit,
		errors: map[string]int64{},
	}
}

// record adds the outcome of one operation: its latency if err is nil, else the kind of err.
func (r *recorder) record(op Op, d time.Duration, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	t := &r.ops[op]
	if err != nil {
		t.failed++
		r.errors[errorKind(err)]++
		return
	}
	t.ok++
	t.max = max(t.max, d)
	r.seen++
	s := latencySample{d: d, op: op}
	if len(r.samples) < r.limit {
		r.samples = append(r.samples, s)
		return
	}
	if j := r.rng.Int64N(r.seen); j < int64(r.limit) {
		r.samples[j] = s
	}
}

// errorKind names the kind of a failed operation for the report: the API error code, "timeout"
// when Config.OpTimeout ran out, "unreachable" when the node did not answer, else "other".
func errorKind(err error) string {
	var apiErr *client.APIError
	switch {
	case errors.As(err, &apiErr):
		return string(apiErr.Code)
	case errors.Is(err, context.DeadlineExceeded):
		return "timeout"
	case errors.Is(err, client.ErrUnreachable):
		return "unreachable"
	}
	return "other"
}
