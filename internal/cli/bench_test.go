package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/crdtd/crdtd/client"
	"github.com/crdtd/crdtd/gossip"
	"github.com/crdtd/crdtd/internal/daemon"
	"github.com/crdtd/crdtd/internal/loadgen"
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
		Cleanup            bool
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
		{argv: []string{"--cleanup"}, want: with(func(a *args) { a.Cleanup = true })},
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
			OpTimeout: got.OpTimeout, Output: got.Output, Cleanup: got.Cleanup,
		}
		if g != tt.want {
			t.Errorf("argv %q:\ngot  %+v\nwant %+v", tt.argv, g, tt.want)
		}
		if got.Token == nil {
			t.Errorf("argv %q: Token not set", tt.argv)
		}
	}
}

func TestBenchReportOutput(t *testing.T) {
	rep := loadgen.Report{
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
		Latency:         loadgen.Latency{P50: 2.5, P90: 4.1, P99: 12.25, Max: 1520},
		ByOp: map[string]loadgen.OpReport{
			"add":    {Ops: 35000, Failed: 12, Throughput: 3497.4, Latency: loadgen.Latency{P50: 2.6, P90: 4.2, P99: 12.5, Max: 1520}},
			"set":    {Ops: 5004, Throughput: 500.2, Latency: loadgen.Latency{P50: 2.6, P90: 4.2, P99: 12.1, Max: 30}},
			"remove": {Ops: 5004, Throughput: 500.2, Latency: loadgen.Latency{P50: 2.4, P90: 4, P99: 11.9, Max: 28}},
			"get":    {Ops: 5004, Throughput: 500.2, Latency: loadgen.Latency{P50: 0.85, P90: 1.2, P99: 3, Max: 9.5}},
		},
		Convergence: loadgen.ConvergenceReport{Samples: 199, Timeouts: 1, Latency: loadgen.Latency{P50: 1.9, P90: 3.2, P99: 8.75, Max: 15}},
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
	cleaned := rep
	cleaned.Cleanup = loadgen.CleanupReport{Carts: 298, Failed: 2}
	for name, rep := range map[string]loadgen.Report{"bench": rep, "bench_cleanup": cleaned} {
		for _, m := range modes {
			t.Run(name+"_"+m.suffix, func(t *testing.T) {
				var out bytes.Buffer
				p, err := newPrinter(m.format, &out, m.tty)
				if err != nil {
					t.Fatal(err)
				}
				if err := p.benchReport(rep); err != nil {
					t.Fatal(err)
				}
				assertGolden(t, name+"_"+m.suffix, out.String())
			})
		}
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
	var rep loadgen.Report
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

// TestBenchConfig checks the mapping of the flags to the load generator's Config, where 0 retries
// and 0 convergence samples mean the default rather than none.
func TestBenchConfig(t *testing.T) {
	var stderr bytes.Buffer
	opts := &benchOptions{
		Nodes: []string{"http://a:1", "http://b:2"}, Concurrency: 8, Requests: 100, Carts: 5, Items: 3,
		Mix: benchMix{100, 0, 0, 0}, Rate: 50, ConvergenceSamples: 0, ConvergencePoll: 20 * time.Millisecond,
		Seed: 9, Retries: 0, OpTimeout: 2 * time.Second, ErrOut: &stderr,
	}
	want := loadgen.Config{
		Nodes: opts.Nodes, Token: "tok", Concurrency: 8, Requests: 100, Carts: 5, Items: 3,
		Mix: loadgen.Mix{100, 0, 0, 0}, Rate: 50, ConvergenceSamples: -1, ConvergencePoll: 20 * time.Millisecond,
		Seed: 9, Retries: -1, OpTimeout: 2 * time.Second,
	}
	if got := opts.config("tok", nil); !reflect.DeepEqual(got, want) {
		t.Errorf("config of %+v:\ngot  %+v\nwant %+v", opts, got, want)
	}

	opts.Retries, opts.ConvergenceSamples, opts.ErrTTY, opts.Cleanup = 2, 10, true, true
	got := opts.config("", nil)
	if got.Retries != 2 || got.ConvergenceSamples != 10 || got.Progress != io.Writer(&stderr) || !got.Cleanup {
		t.Errorf("config with 2 retries, 10 samples, stderr a terminal, cleanup: retries %d, samples %d, progress %v, cleanup %v; want 2, 10, stderr, true",
			got.Retries, got.ConvergenceSamples, got.Progress, got.Cleanup)
	}
}

// TestBenchCleanup runs bench --cleanup on a real cluster: afterwards no node lists a cart, and
// the report says how many carts were cleared.
func TestBenchCleanup(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a cluster")
	}
	t.Setenv(envNode, "")
	t.Setenv(envToken, "")
	urls := startBenchCluster(t, 2)
	code, stdout, stderr := runMain(t, "bench", "--nodes", strings.Join(urls, ","),
		"-n", "300", "-c", "4", "--carts", "20", "--convergence-samples", "5", "--cleanup", "-o", "json")
	if code != ExitOK || stderr != "" {
		t.Fatalf("bench --cleanup: code %d, stderr:\n%s", code, stderr)
	}
	var rep loadgen.Report
	if err := json.Unmarshal([]byte(stdout), &rep); err != nil {
		t.Fatalf("bench -o json printed invalid JSON: %v\n%s", err, stdout)
	}
	if want := (loadgen.CleanupReport{Carts: 25}); rep.Cleanup != want {
		t.Errorf("cleanup %+v, want %+v: 20 carts and 5 convergence carts", rep.Cleanup, want)
	}
	// Each node cleared what it had seen; the clears of the others reach it by gossip.
	for _, u := range urls {
		var left string
		deadline := time.Now().Add(10 * time.Second)
		for {
			_, left, _ = runMain(t, "--node", u, "list")
			if left == "" || time.Now().After(deadline) {
				break
			}
			time.Sleep(20 * time.Millisecond)
		}
		if left != "" {
			t.Errorf("node %s still lists carts after bench --cleanup:\n%s", u, left)
		}
	}
}
