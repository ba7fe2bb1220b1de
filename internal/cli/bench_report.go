package cli

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"
)

// benchReport is the result of a bench run; its JSON is the output of -o json, so keep the field
// names stable. Latencies are in milliseconds.
type benchReport struct {
	Nodes       []string `json:"nodes"`
	Concurrency int      `json:"concurrency"`
	Rate        float64  `json:"rate"` // target ops/s; 0 for closed loop
	Mix         string   `json:"mix"`
	Seed        uint64   `json:"seed"`
	Interrupted bool     `json:"interrupted"` // stopped early by Ctrl-C

	DurationSeconds float64             `json:"duration_seconds"` // of the load, from start to the last operation's end
	Ops             int64               `json:"ops"`              // operations finished, successful or failed
	Failed          int64               `json:"failed"`
	Errors          map[string]int64    `json:"errors"`     // failed operations by kind
	Throughput      float64             `json:"throughput"` // successful operations per second
	LatencySamples  int                 `json:"latency_samples"`
	Latency         latencySummary      `json:"latency_ms"` // of successful operations
	ByOp            map[string]opReport `json:"by_op"`      // operations with a share of the mix
	Convergence     convergenceReport   `json:"convergence_ms"`
}

// opReport is the part of a report about one kind of operation.
type opReport struct {
	Ops        int64          `json:"ops"`
	Failed     int64          `json:"failed"`
	Throughput float64        `json:"throughput"`
	Latency    latencySummary `json:"latency_ms"`
}

// convergenceReport is the distribution of convergence times: Samples markers were seen on every
// node within the deadline, Timeouts were not, and Errors could not be written.
type convergenceReport struct {
	Samples  int `json:"samples"`
	Timeouts int `json:"timeouts"`
	Errors   int `json:"errors"`
	latencySummary
}

// report builds the report of a run whose load lasted elapsed; call it once every goroutine of
// the run has ended.
func (b *benchRun) report(elapsed time.Duration, interrupted bool) benchReport {
	r := b.rec
	r.mu.Lock()
	defer r.mu.Unlock()
	secs := elapsed.Seconds()
	rep := benchReport{
		Nodes:           b.opts.Nodes,
		Concurrency:     b.opts.Concurrency,
		Rate:            b.opts.Rate,
		Mix:             b.opts.Mix.String(),
		Seed:            b.opts.Seed,
		Interrupted:     interrupted,
		DurationSeconds: roundTo(secs, 3),
		Errors:          maps.Clone(r.errors),
		LatencySamples:  len(r.samples),
		ByOp:            map[string]opReport{},
	}
	perOp := make([][]time.Duration, numBenchOps)
	all := make([]time.Duration, 0, len(r.samples))
	for _, s := range r.samples {
		perOp[s.op] = append(perOp[s.op], s.d)
		all = append(all, s.d)
	}
	var ok int64
	var maxAll time.Duration
	for op, t := range r.ops {
		rep.Ops += t.ok + t.failed
		rep.Failed += t.failed
		ok += t.ok
		maxAll = max(maxAll, t.max)
		if b.opts.Mix[op] == 0 {
			continue
		}
		rep.ByOp[benchOp(op).String()] = opReport{
			Ops:        t.ok + t.failed,
			Failed:     t.failed,
			Throughput: rate(t.ok, secs),
			Latency:    summarize(perOp[op], t.max),
		}
	}
	rep.Throughput = rate(ok, secs)
	rep.Latency = summarize(all, maxAll)
	rep.Convergence = convergenceReport{
		Samples:        len(b.conv.times),
		Timeouts:       b.conv.timeouts,
		Errors:         b.conv.failed,
		latencySummary: summarize(b.conv.times, 0),
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

// printBenchReport prints rep in the format of opts: JSON, an aligned table on a terminal, or
// tab-separated rows when piped.
func printBenchReport(opts *baseOptions, rep benchReport) error {
	switch opts.Output {
	case formatJSON:
		enc := json.NewEncoder(opts.Out)
		enc.SetIndent("", "  ")
		return enc.Encode(rep)
	case formatTable:
		if opts.IsTTY {
			return printBenchTable(opts, rep)
		}
		return printBenchRows(opts, rep)
	}
	return fmt.Errorf("unknown output format %q", opts.Output)
}

// opNames returns the operations of rep in the order of the mix flag.
func (rep *benchReport) opNames() []string {
	var names []string
	for _, name := range benchOpNames {
		if _, ok := rep.ByOp[name]; ok {
			names = append(names, name)
		}
	}
	return names
}

func printBenchTable(opts *baseOptions, rep benchReport) error {
	t := newTable(opts.Out, true)
	t.row("Nodes:", strings.Join(rep.Nodes, ", "))
	load := fmt.Sprintf("%d workers, closed loop", rep.Concurrency)
	if rep.Rate > 0 {
		load = fmt.Sprintf("%d workers, open loop at %s ops/s", rep.Concurrency, formatFloat(rep.Rate))
	}
	t.row("Load:", fmt.Sprintf("%s, mix %s, seed %d", load, rep.Mix, rep.Seed))
	duration := formatSeconds(rep.DurationSeconds)
	if rep.Interrupted {
		duration += " (interrupted)"
	}
	t.row("Duration:", duration)
	t.row("Operations:", fmt.Sprintf("%d (%d failed)", rep.Ops, rep.Failed))
	t.row("Throughput:", fmt.Sprintf("%.1f ops/s", rep.Throughput))
	errs := "none"
	if len(rep.Errors) > 0 {
		var parts []string
		for _, kind := range slices.Sorted(maps.Keys(rep.Errors)) {
			parts = append(parts, fmt.Sprintf("%s %d", kind, rep.Errors[kind]))
		}
		errs = strings.Join(parts, ", ")
	}
	t.row("Errors:", errs)
	c := rep.Convergence
	conv := "not measured (needs --convergence-samples and two or more nodes)"
	if c.Samples+c.Timeouts+c.Errors > 0 {
		conv = fmt.Sprintf("p50 %s, p90 %s, p99 %s, max %s (%d samples, %d timed out, %d failed)",
			formatMillis(c.P50), formatMillis(c.P90), formatMillis(c.P99), formatMillis(c.Max),
			c.Samples, c.Timeouts, c.Errors)
	}
	t.row("Convergence:", conv)
	if err := t.flush(); err != nil {
		return err
	}
	if _, err := fmt.Fprintln(opts.Out); err != nil {
		return err
	}

	t = newTable(opts.Out, true)
	t.header("OP", "OPS", "FAILED", "OPS/S", "P50", "P90", "P99", "MAX")
	opRow := func(name string, ops, failed int64, tput float64, l latencySummary) {
		t.row(name, strconv.FormatInt(ops, 10), strconv.FormatInt(failed, 10), fmt.Sprintf("%.1f", tput),
			formatMillis(l.P50), formatMillis(l.P90), formatMillis(l.P99), formatMillis(l.Max))
	}
	for _, name := range rep.opNames() {
		o := rep.ByOp[name]
		opRow(name, o.Ops, o.Failed, o.Throughput, o.Latency)
	}
	opRow("all", rep.Ops, rep.Failed, rep.Throughput, rep.Latency)
	return t.flush()
}

// printBenchRows prints the report as rows of tab-separated fields, each led by a key:
// "duration_seconds", "ops", "failed", "throughput", then "error KIND COUNT" per kind of error,
// "op NAME OPS FAILED OPS/S P50 P90 P99 MAX" per operation and for "all", and
// "convergence SAMPLES TIMEOUTS ERRORS P50 P90 P99 MAX"; latencies in milliseconds.
func printBenchRows(opts *baseOptions, rep benchReport) error {
	t := newTable(opts.Out, false)
	t.row("duration_seconds", formatFloat(rep.DurationSeconds))
	t.row("ops", strconv.FormatInt(rep.Ops, 10))
	t.row("failed", strconv.FormatInt(rep.Failed, 10))
	t.row("throughput", formatFloat(rep.Throughput))
	for _, kind := range slices.Sorted(maps.Keys(rep.Errors)) {
		t.row("error", kind, strconv.FormatInt(rep.Errors[kind], 10))
	}
	opRow := func(name string, ops, failed int64, tput float64, l latencySummary) {
		t.row("op", name, strconv.FormatInt(ops, 10), strconv.FormatInt(failed, 10), formatFloat(tput),
			formatFloat(l.P50), formatFloat(l.P90), formatFloat(l.P99), formatFloat(l.Max))
	}
	for _, name := range rep.opNames() {
		o := rep.ByOp[name]
		opRow(name, o.Ops, o.Failed, o.Throughput, o.Latency)
	}
	opRow("all", rep.Ops, rep.Failed, rep.Throughput, rep.Latency)
	c := rep.Convergence
	t.row("convergence", strconv.Itoa(c.Samples), strconv.Itoa(c.Timeouts), strconv.Itoa(c.Errors),
		formatFloat(c.P50), formatFloat(c.P90), formatFloat(c.P99), formatFloat(c.Max))
	return t.flush()
}

// formatMillis formats a latency in milliseconds for people: "0.42ms", "12.3ms", "1.52s".
func formatMillis(ms float64) string {
	switch {
	case ms >= 1000:
		return strconv.FormatFloat(ms/1000, 'f', 2, 64) + "s"
	case ms >= 10:
		return strconv.FormatFloat(ms, 'f', 1, 64) + "ms"
	}
	return strconv.FormatFloat(ms, 'f', 2, 64) + "ms"
}
