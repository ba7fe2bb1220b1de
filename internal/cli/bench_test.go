package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/crdtd/crdtd/api"
	"github.com/crdtd/crdtd/client"
	"github.com/crdtd/crdtd/gossip"
	"github.com/crdtd/crdtd/internal/daemon"
)

func TestNewCmdBench(t *testing.T) {
	t.Setenv(envNode, "")
	type args struct {
		Nodes              string
		Concurrency        int
		Duration           time.Duration
		Requests           int64
		Carts, Items       int
		Mix                benchMix
		Rate               float64
		ConvergenceSamples int
		ConvergencePoll    time.Duration
		Seed               uint64
		Retries            int
		OpTimeout          time.Duration
		Output             string
	}
	defaults := args{
		Nodes: defaultNode, Concurrency: 16, Duration: 10 * time.Second, Carts: 100, Items: 20,
		Mix: benchMix{70, 10, 10, 10}, ConvergenceSamples: 200, ConvergencePoll: time.Millisecond,
		Seed: 1, Retries: 3, OpTimeout: defaultTimeout, Output: "table",
	}
	with := func(f func(*args)) args {
		a := defaults
		f(&a)
		return a
	}
	tests := []struct {
		argv    []string
		want    args
		wantErr bool
	}{
		{argv: nil, want: defaults},
		{argv: []string{"--node", "http://10.0.0.1:7070"}, want: with(func(a *args) { a.Nodes = "http://10.0.0.1:7070" })},
		{argv: []string{"--nodes", "127.0.0.1:7070, http://127.0.0.1:7071", "--node", "http://x:1"},
			want: with(func(a *args) { a.Nodes = "127.0.0.1:7070,http://127.0.0.1:7071" })},
		{argv: []string{"-c", "64", "-d", "30s", "--carts", "5", "--items", "10000", "--rate", "2000.5",
			"--convergence-samples", "0", "--seed", "42", "--retries", "0", "--timeout", "2s", "-o", "json"},
			want: with(func(a *args) {
				a.Concurrency, a.Duration, a.Carts, a.Items, a.Rate = 64, 30*time.Second, 5, 10000, 2000.5
				a.ConvergenceSamples, a.Seed, a.Retries, a.OpTimeout, a.Output = 0, 42, 0, 2*time.Second, "json"
			})},
		{argv: []string{"--convergence-poll", "20ms"}, want: with(func(a *args) { a.ConvergencePoll = 20 * time.Millisecond })},
		{argv: []string{"-n", "300"}, want: with(func(a *args) { a.Duration, a.Requests = 0, 300 })},
		{argv: []string{"--mix", "add=100"}, want: with(func(a *args) { a.Mix = benchMix{100, 0, 0, 0} })},
		{argv: []string{"--mix", "get=50, add=25,remove=0,set=25"}, want: with(func(a *args) { a.Mix = benchMix{25, 25, 0, 50} })},
		{argv: []string{"--mix", "add=70,set=10,remove=10"}, wantErr: true}, // sums to 90
		{argv: []string{"--mix", "add=70,set=40"}, wantErr: true},
		{argv: []string{"--mix", "add=100,clear=0"}, wantErr: true},
		{argv: []string{"--mix", "add=50,add=50"}, wantErr: true},
		{argv: []string{"--mix", "add"}, wantErr: true},
		{argv: []string{"--mix", "add=1.5,get=98.5"}, wantErr: true},
		{argv: []string{"--mix", "add=-10,get=110"}, wantErr: true},
		{argv: []string{"--mix", ""}, wantErr: true},
		{argv: []string{"-n", "100", "-d", "1s"}, wantErr: true},
		{argv: []string{"-n", "0"}, wantErr: true},
		{argv: []string{"-d", "0s"}, wantErr: true},
		{argv: []string{"-c", "0"}, wantErr: true},
		{argv: []string{"--carts", "0"}, wantErr: true},
		{argv: []string{"--items", "10001"}, wantErr: true},
		{argv: []string{"--rate", "-1"}, wantErr: true},
		{argv: []string{"--convergence-samples", "-1"}, wantErr: true},
		{argv: []string{"--convergence-poll", "0s"}, wantErr: true},
		{argv: []string{"--convergence-poll", "2s"}, wantErr: true},
		{argv: []string{"--retries", "-1"}, wantErr: true},
		{argv: []string{"--timeout", "0s"}, wantErr: true},
		{argv: []string{"--nodes", "ftp://x"}, wantErr: true},
		{argv: []string{"extra"}, wantErr: true},
		{argv: []string{"-o", "yaml"}, wantErr: true},
	}
	for _, tt := range tests {
		var got *benchOptions
		cmd := newCmdBench(testFactory(t), func(o *benchOptions) error { got = o; return nil })
		err := runTestCmd(t, cmd, tt.argv...)
		checkUsageError(t, tt.argv, err, tt.wantErr)
		if tt.wantErr || err != nil {
			continue
		}
		g := args{
			Nodes: strings.Join(got.Nodes, ","), Concurrency: got.Concurrency, Duration: got.Duration,
			Requests: got.Requests, Carts: got.Carts, Items: got.Items, Mix: got.Mix, Rate: got.Rate,
			ConvergenceSamples: got.ConvergenceSamples, ConvergencePoll: got.ConvergencePoll, Seed: got.Seed, Retries: got.Retries,
			OpTimeout: got.OpTimeout, Output: got.Output,
		}
		if g != tt.want {
			t.Errorf("argv %q:\ngot  %+v\nwant %+v", tt.argv, g, tt.want)
		}
		if got.NewClient == nil {
			t.Errorf("argv %q: NewClient not set", tt.argv)
		}
	}
}

func TestBenchMixString(t *testing.T) {
	tests := []struct{ in, want string }{
		{defaultBenchMix, defaultBenchMix},
		{"get=10,add=90", "add=90,get=10"},
		{"set=0,remove=100", "remove=100"},
	}
	for _, tt := range tests {
		var m benchMix
		if err := m.Set(tt.in); err != nil {
			t.Fatalf("Set(%q): %v", tt.in, err)
		}
		if got := m.String(); got != tt.want {
			t.Errorf("Set(%q).String() = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestBenchMixPick(t *testing.T) {
	var m benchMix
	if err := m.Set("add=70,set=0,remove=10,get=20"); err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	var counts [numBenchOps]int
	const n = 100_000
	for range n {
		counts[m.pick(rng)]++
	}
	for op, pct := range m {
		got := float64(counts[op]) * 100 / n
		if got < float64(pct)-1 || got > float64(pct)+1 {
			t.Errorf("mix %s: %s drawn %.2f%% of the time, want %d%% ± 1", m.String(), benchOp(op), got, pct)
		}
	}
}

func TestPercentile(t *testing.T) {
	seq := func(n int) []time.Duration { // 1..n ms
		ds := make([]time.Duration, n)
		for i := range ds {
			ds[i] = time.Duration(i+1) * time.Millisecond
		}
		return ds
	}
	ms := time.Millisecond
	tests := []struct {
		name string
		in   []time.Duration
		p    int
		want time.Duration
	}{
		{"empty", nil, 50, 0},
		{"one p50", seq(1), 50, 1 * ms},
		{"one p99", seq(1), 99, 1 * ms},
		{"two p50", seq(2), 50, 1 * ms},
		{"two p90", seq(2), 90, 2 * ms},
		{"ten p50", seq(10), 50, 5 * ms},
		{"ten p90", seq(10), 90, 9 * ms},
		{"ten p99", seq(10), 99, 10 * ms},
		{"hundred p50", seq(100), 50, 50 * ms},
		{"hundred p99", seq(100), 99, 99 * ms},
		{"hundred p100", seq(100), 100, 100 * ms},
		{"thousand p99", seq(1000), 99, 990 * ms},
		{"seven p90", seq(7), 90, 7 * ms}, // ceil(6.3) = 7
		{"seven p50", seq(7), 50, 4 * ms}, // ceil(3.5) = 4
		{"ties", []time.Duration{ms, ms, ms, 5 * ms}, 50, ms},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := percentile(tt.in, tt.p); got != tt.want {
				t.Errorf("percentile(%d values, p%d) = %v, want %v", len(tt.in), tt.p, got, tt.want)
			}
		})
	}
}

func TestSummarize(t *testing.T) {
	us := time.Microsecond
	tests := []struct {
		name string
		in   []time.Duration
		max  time.Duration
		want latencySummary
	}{
		{"empty", nil, 0, latencySummary{}},
		{"unsorted", []time.Duration{3000 * us, 1000 * us, 2000 * us, 4000 * us}, 0,
			latencySummary{P50: 2, P90: 4, P99: 4, Max: 4}},
		{"true max beyond the sample", []time.Duration{1500 * us}, 9 * time.Millisecond,
			latencySummary{P50: 1.5, P90: 1.5, P99: 1.5, Max: 9}},
		{"rounded to the microsecond", []time.Duration{1234567}, 0,
			latencySummary{P50: 1.235, P90: 1.235, P99: 1.235, Max: 1.235}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := summarize(slices.Clone(tt.in), tt.max); got != tt.want {
				t.Errorf("summarize(%v, max %v) = %+v, want %+v", tt.in, tt.max, got, tt.want)
			}
		})
	}
}

func TestRecorderReservoir(t *testing.T) {
	const limit, n = 1000, 20_000
	r := newRecorder(limit, 1)
	for i := range n {
		r.record(benchOp(i%2), time.Duration(i+1), nil) // adds and sets alternate; latency i+1 ns
	}
	r.record(benchGet, time.Second, fmt.Errorf("wrapped: %w", &client.APIError{StatusCode: 503, Code: api.CodeUnavailable}))
	r.record(benchGet, time.Second, fmt.Errorf("GET x: %w: connection refused", client.ErrUnreachable))

	if len(r.samples) != limit {
		t.Fatalf("reservoir holds %d samples after %d operations, want the limit %d", len(r.samples), n, limit)
	}
	if r.ops[benchAdd].ok != n/2 || r.ops[benchSet].ok != n/2 || r.ops[benchGet].failed != 2 {
		t.Errorf("tallies %+v, want %d adds, %d sets, 2 failed gets", r.ops, n/2, n/2)
	}
	if r.ops[benchSet].max != n {
		t.Errorf("max of sets = %v, want %v even when the sample missed it", r.ops[benchSet].max, time.Duration(n))
	}
	wantErrs := map[string]int64{"unavailable": 1, "unreachable": 1}
	if fmt.Sprint(r.errors) != fmt.Sprint(wantErrs) {
		t.Errorf("errors %v, want %v", r.errors, wantErrs)
	}
	// A uniform sample of 1..n has its median near n/2 and both kinds near half of it.
	ds := make([]time.Duration, 0, limit)
	adds := 0
	for _, s := range r.samples {
		ds = append(ds, s.d)
		if s.op == benchAdd {
			adds++
		}
	}
	slices.Sort(ds)
	if med := percentile(ds, 50); med < n*4/10 || med > n*6/10 {
		t.Errorf("median of the reservoir = %v, want about %v", med, time.Duration(n/2))
	}
	if adds < limit*4/10 || adds > limit*6/10 {
		t.Errorf("reservoir holds %d adds of %d samples, want about half", adds, limit)
	}
}

func TestErrorKind(t *testing.T) {
	tests := []struct {
		err  error
		want string
	}{
		{&client.APIError{StatusCode: 400, Code: api.CodeInvalidArgument}, "invalid_argument"},
		{fmt.Errorf("POST x: %w: %w", client.ErrUnreachable, context.DeadlineExceeded), "timeout"},
		{fmt.Errorf("GET x: bad gateway: %w", context.DeadlineExceeded), "timeout"},
		{fmt.Errorf("GET x: %w: connection refused (4 attempts)", client.ErrUnreachable), "unreachable"},
		{fmt.Errorf("decode response: unexpected EOF"), "other"},
	}
	for _, tt := range tests {
		if got := errorKind(tt.err); got != tt.want {
			t.Errorf("errorKind(%v) = %q, want %q", tt.err, got, tt.want)
		}
	}
}

func TestBenchProgressLine(t *testing.T) {
	tests := []struct {
		name    string
		opts    benchOptions
		nodes   int
		done    int64
		elapsed time.Duration
		rate    float64
		want    string
	}{
		{name: "count", opts: benchOptions{Requests: 1000}, nodes: 1, done: 250, elapsed: 1234 * time.Millisecond, rate: 201.4,
			want: "[=====               ]  25%  250 ops  1.2s  201 ops/s"},
		{name: "time with sampler", opts: benchOptions{Duration: 10 * time.Second, ConvergenceSamples: 200}, nodes: 2,
			done: 9000, elapsed: 5 * time.Second, rate: 1800,
			want: "[==========          ]  50%  9000 ops  5s  1800 ops/s  convergence 0/200"},
		{name: "overrun", opts: benchOptions{Duration: time.Second}, nodes: 1, done: 10, elapsed: 2 * time.Second,
			want: "[====================] 100%  10 ops  2s  0 ops/s"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := &benchRun{opts: &tt.opts, clients: make([]*client.Client, tt.nodes)}
			if got := b.progressLine(tt.done, tt.elapsed, tt.rate); got != tt.want {
				t.Errorf("progressLine(%d, %v, %v) =\n%q, want\n%q", tt.done, tt.elapsed, tt.rate, got, tt.want)
			}
		})
	}
}

func TestBenchReportOutput(t *testing.T) {
	rep := benchReport{
		Nodes:           []string{"http://127.0.0.1:7070", "http://127.0.0.1:7071"},
		Concurrency:     16,
		Mix:             "add=70,set=10,remove=10,get=10",
		Seed:            1,
		DurationSeconds: 10.004,
		Ops:             50012,
		Failed:          12,
		Errors:          map[string]int64{"unreachable": 10, "timeout": 2},
		Throughput:      4998,
		LatencySamples:  50000,
		Latency:         latencySummary{P50: 2.5, P90: 4.1, P99: 12.25, Max: 1520},
		ByOp: map[string]opReport{
			"add":    {Ops: 35000, Failed: 12, Throughput: 3497.4, Latency: latencySummary{P50: 2.6, P90: 4.2, P99: 12.5, Max: 1520}},
			"set":    {Ops: 5004, Throughput: 500.2, Latency: latencySummary{P50: 2.6, P90: 4.2, P99: 12.1, Max: 30}},
			"remove": {Ops: 5004, Throughput: 500.2, Latency: latencySummary{P50: 2.4, P90: 4, P99: 11.9, Max: 28}},
			"get":    {Ops: 5004, Throughput: 500.2, Latency: latencySummary{P50: 0.85, P90: 1.2, P99: 3, Max: 9.5}},
		},
		Convergence: convergenceReport{Samples: 199, Timeouts: 1, latencySummary: latencySummary{P50: 1.9, P90: 3.2, P99: 8.75, Max: 15}},
	}
	modes := []struct {
		suffix string
		tty    bool
		format string
	}{
		{"tty", true, formatTable},
		{"piped", false, formatTable},
		{"json", false, formatJSON},
	}
	for _, m := range modes {
		t.Run(m.suffix, func(t *testing.T) {
			var out bytes.Buffer
			if err := printBenchReport(&baseOptions{Out: &out, IsTTY: m.tty, Output: m.format}, rep); err != nil {
				t.Fatal(err)
			}
			assertGolden(t, "bench_"+m.suffix, out.String())
		})
	}
}

func TestBenchUnreachable(t *testing.T) {
	t.Setenv(envToken, "")
	code, stdout, stderr := runMain(t, "bench", "--nodes", closedAddr(t), "--retries", "0", "-n", "10")
	if code != ExitUnreachable || stdout != "" || !strings.Contains(stderr, "node unreachable") {
		t.Errorf("bench against a closed port: code %d, stdout %q, stderr %q; want %d, nothing, node unreachable",
			code, stdout, stderr, ExitUnreachable)
	}
}

// startBenchCluster starts n in-process nodes on loopback, the others joining the first, and
// waits until every node sees all n alive. It returns their API URLs.
func startBenchCluster(t *testing.T, n int) []string {
	t.Helper()
	label := fmt.Sprintf("bench-test-%d", time.Now().UnixNano())
	var nodes []*daemon.Daemon
	var urls []string
	for i := range n {
		cfg := daemon.Config{
			Name:              fmt.Sprintf("bench%d", i+1),
			DataDir:           t.TempDir(),
			GossipAddr:        "127.0.0.1:0",
			APIAddr:           "127.0.0.1:0",
			ClusterLabel:      label,
			Profile:           daemon.ProfileLocal,
			HeartbeatInterval: 200 * time.Millisecond,
			ShutdownTimeout:   2 * time.Second,
			TuneGossip: func(c *gossip.Config) {
				c.Memberlist.PushPullInterval = 500 * time.Millisecond
				c.ReconnectInterval = 500 * time.Millisecond
			},
		}
		if i > 0 {
			cfg.Join = []string{nodes[0].GossipAddr()}
		}
		d, err := daemon.Start(context.Background(), cfg)
		if err != nil {
			t.Fatalf("start node %d: %v", i+1, err)
		}
		t.Cleanup(func() { _ = d.Close() })
		nodes = append(nodes, d)
		urls = append(urls, "http://"+d.APIAddr())
	}
	deadline := time.Now().Add(10 * time.Second)
	for _, u := range urls {
		c, err := client.New(client.Config{BaseURL: u, Retries: -1})
		if err != nil {
			t.Fatal(err)
		}
		for {
			list, err := c.Members(t.Context())
			alive := 0
			if err == nil {
				for _, m := range list.Members {
					if m.State == "alive" {
						alive++
					}
				}
			}
			if alive == n {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("node %s sees %d of %d members alive (err %v)", u, alive, n, err)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	return urls
}

func TestBenchRun(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a cluster")
	}
	t.Setenv(envNode, "")
	t.Setenv(envToken, "")
	urls := startBenchCluster(t, 2)
	code, stdout, stderr := runMain(t, "bench", "--nodes", strings.Join(urls, ","),
		"-n", "300", "-c", "4", "--convergence-samples", "10", "-o", "json")
	if code != ExitOK || stderr != "" {
		t.Fatalf("bench: code %d, stderr:\n%s", code, stderr)
	}
	var rep benchReport
	if err := json.Unmarshal([]byte(stdout), &rep); err != nil {
		t.Fatalf("bench -o json printed invalid JSON: %v\n%s", err, stdout)
	}
	if rep.Ops != 300 || rep.Failed != 0 || len(rep.Errors) != 0 {
		t.Errorf("ops %d, failed %d, errors %v; want 300 operations, none failed\n%s", rep.Ops, rep.Failed, rep.Errors, stdout)
	}
	var byOp int64
	for _, o := range rep.ByOp {
		byOp += o.Ops
	}
	if len(rep.ByOp) != 4 || byOp != 300 {
		t.Errorf("by_op %+v: want the 4 operations of the default mix adding up to 300", rep.ByOp)
	}
	c := rep.Convergence
	if c.Samples != 10 || c.Timeouts != 0 || c.Errors != 0 {
		t.Errorf("convergence %+v: want 10 samples, no timeouts, no errors", c)
	}
	if rep.Throughput <= 0 || rep.Latency.P50 <= 0 || rep.Latency.Max < rep.Latency.P99 || c.Max < c.P50 {
		t.Errorf("implausible figures: throughput %v, latency %+v, convergence %+v", rep.Throughput, rep.Latency, c)
	}
	// The field names scripts rely on.
	var raw map[string]any
	if err := json.Unmarshal([]byte(stdout), &raw); err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{"ops", "errors", "duration_seconds", "throughput", "latency_ms", "by_op", "convergence_ms"} {
		if _, ok := raw[key]; !ok {
			t.Errorf("JSON report lacks %q:\n%s", key, stdout)
		}
	}
}
