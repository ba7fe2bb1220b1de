package loadgen

import (
	"maps"
	"slices"
	"strconv"
	"time"
)

// Report is the result of a run. Its JSON is the output of cartctl bench -o json, which scripts
// read: keep the field names stable. Latencies are in milliseconds, rounded to the microsecond.
// A Report is a plain value; [Run] keeps no reference to it.
type Report struct {
	Nodes       []string `json:"nodes"`
	Concurrency int      `json:"concurrency"`
	Rate        float64  `json:"rate"` // target ops/s; 0 for closed loop
	Mix         string   `json:"mix"`  // in the syntax of ParseMix
	Seed        uint64   `json:"seed"`
	Interrupted bool     `json:"interrupted"` // the run's context ended before the load did

	DurationSeconds float64             `json:"duration_seconds"` // of the load, from start to the last operation's end
	Ops             int64               `json:"ops"`              // operations finished, successful or failed
	Failed          int64               `json:"failed"`
	Errors          map[string]int64    `json:"errors"`     // failed operations by kind
	Throughput      float64             `json:"throughput"` // successful operations per second
	LatencySamples  int                 `json:"latency_samples"`
	Latency         Latency             `json:"latency_ms"` // of successful operations
	ByOp            map[string]OpReport `json:"by_op"`      // operations with a share of the mix, by Op.String
	Convergence     ConvergenceReport   `json:"convergence_ms"`
	Cleanup         CleanupReport       `json:"cleanup,omitzero"` // absent unless Config.Cleanup
}

// CleanupReport says what [Config.Cleanup] did: Carts carts were cleared on every node, and
// Failed clears of a cart on a node failed, leaving that cart behind (see [CartPrefix]).
type CleanupReport struct {
	Carts  int `json:"carts"`
	Failed int `json:"failed"`
}

// Latency is a distribution of latencies in milliseconds: percentiles by the nearest-rank method
// (p99 is the smallest latency that 99% of the operations did not exceed) and the maximum.
type Latency struct {
	P50 float64 `json:"p50"`
	P90 float64 `json:"p90"`
	P99 float64 `json:"p99"`
	Max float64 `json:"max"`
}

// OpReport is the part of a [Report] about one kind of operation.
type OpReport struct {
	Ops        int64   `json:"ops"`
	Failed     int64   `json:"failed"`
	Throughput float64 `json:"throughput"`
	Latency    Latency `json:"latency_ms"`
}

// ConvergenceReport is the distribution of convergence times: Samples markers were seen on every
// node within 10 s of their write's acknowledgment, Timeouts were not, and Errors could not be
// written. All three are 0 when the run did not measure convergence.
type ConvergenceReport struct {
	Samples  int `json:"samples"`
	Timeouts int `json:"timeouts"`
	Errors   int `json:"errors"`
	Latency
}

// OpNames returns the keys of ByOp in the order of [Op]: add, set, remove, get.
func (rep *Report) OpNames() []string {
	var names []string
	for _, name := range opNames {
		if _, ok := rep.ByOp[name]; ok {
			names = append(names, name)
		}
	}
	return names
}

// report builds the report of a run whose load lasted elapsed; call it once every goroutine of
// the run has ended.
func (r *run) report(elapsed time.Duration, interrupted bool) Report {
	rec := r.rec
	rec.mu.Lock()
	defer rec.mu.Unlock()
	secs := elapsed.Seconds()
	rep := Report{
		Nodes:           slices.Clone(r.cfg.Nodes),
		Concurrency:     r.cfg.Concurrency,
		Rate:            r.cfg.Rate,
		Mix:             r.cfg.Mix.String(),
		Seed:            r.cfg.Seed,
		Interrupted:     interrupted,
		DurationSeconds: roundTo(secs, 3),
		Errors:          maps.Clone(rec.errors),
		LatencySamples:  len(rec.samples),
		ByOp:            map[string]OpReport{},
	}
	perOp := make([][]time.Duration, numOps)
	all := make([]time.Duration, 0, len(rec.samples))
	for _, s := range rec.samples {
		perOp[s.op] = append(perOp[s.op], s.d)
		all = append(all, s.d)
	}
	var ok int64
	var maxAll time.Duration
	for op, t := range rec.ops {
		rep.Ops += t.ok + t.failed
		rep.Failed += t.failed
		ok += t.ok
		maxAll = max(maxAll, t.max)
		if r.cfg.Mix[op] == 0 {
			continue
		}
		rep.ByOp[Op(op).String()] = OpReport{
			Ops:        t.ok + t.failed,
			Failed:     t.failed,
			Throughput: rate(t.ok, secs),
			Latency:    summarize(perOp[op], t.max),
		}
	}
	rep.Throughput = rate(ok, secs)
	rep.Latency = summarize(all, maxAll)
	rep.Convergence = ConvergenceReport{
		Samples:  len(r.conv.times),
		Timeouts: r.conv.timeouts,
		Errors:   r.conv.failed,
		Latency:  summarize(r.conv.times, 0),
	}
	return rep
}

func rate(n int64, secs float64) float64 {
	if secs <= 0 {
		return 0
	}
	return roundTo(float64(n)/secs, 1)
}

func roundTo(f float64, digits int) float64 {
	v, _ := strconv.ParseFloat(strconv.FormatFloat(f, 'f', digits, 64), 64)
	return v
}
