package agentcli

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/crdtd/crdtd/internal/daemon"
	"github.com/crdtd/crdtd/internal/testbin"
)

func TestNewCmdCluster(t *testing.T) {
	type args struct {
		Nodes                       int
		DataDir                     string
		BaseAPIPort, BaseGossipPort int
		Profile, GossipKeyFile      string
		LogLevel                    string
	}
	defaults := args{Nodes: 3, DataDir: "./crdtd-cluster", BaseAPIPort: 7070, BaseGossipPort: 7946,
		Profile: string(daemon.ProfileLocal), LogLevel: "info"}
	tests := []struct {
		argv    []string
		want    args
		wantErr bool
	}{
		{argv: nil, want: defaults},
		{argv: []string{"--nodes", "50", "--data-dir", "/tmp/c", "--base-api-port", "8000", "--base-gossip-port", "9000",
			"--profile", "lan", "--gossip-key-file", "k", "--log-level", "debug"},
			want: args{Nodes: 50, DataDir: "/tmp/c", BaseAPIPort: 8000, BaseGossipPort: 9000, Profile: "lan", GossipKeyFile: "k", LogLevel: "debug"}},
		{argv: []string{"-n", "1", "--base-api-port", "65535", "--base-gossip-port", "1"},
			want: args{Nodes: 1, DataDir: "./crdtd-cluster", BaseAPIPort: 65535, BaseGossipPort: 1, Profile: "local", LogLevel: "info"}},
		{argv: []string{"--base-api-port", "7000", "--base-gossip-port", "7003"}, // 7000..7002 and 7003..7005 touch
			want: args{Nodes: 3, DataDir: "./crdtd-cluster", BaseAPIPort: 7000, BaseGossipPort: 7003, Profile: "local", LogLevel: "info"}},
		{argv: []string{"--nodes", "0"}, wantErr: true},
		{argv: []string{"--nodes", "51"}, wantErr: true},
		{argv: []string{"--nodes", "-1"}, wantErr: true},
		{argv: []string{"--nodes", "three"}, wantErr: true},
		{argv: []string{"--data-dir", ""}, wantErr: true},
		{argv: []string{"--base-api-port", "0"}, wantErr: true},
		{argv: []string{"--base-api-port", "65534"}, wantErr: true}, // 65534..65536
		{argv: []string{"--base-gossip-port", "-5"}, wantErr: true},
		{argv: []string{"--base-api-port", "7000", "--base-gossip-port", "7002"}, wantErr: true}, // overlap
		{argv: []string{"--base-api-port", "7946"}, wantErr: true},
		{argv: []string{"--profile", "wan"}, wantErr: true},
		{argv: []string{"--log-level", "loud"}, wantErr: true},
		{argv: []string{"4"}, wantErr: true},
	}
	for _, tt := range tests {
		var got *clusterOptions
		cmd := newCmdCluster(testFactory(t), func(o *clusterOptions) error { got = o; return nil })
		err := runTestCmd(t, cmd, tt.argv...)
		checkUsageError(t, tt.argv, err, tt.wantErr)
		if tt.wantErr || err != nil {
			continue
		}
		g := args{Nodes: got.Nodes, DataDir: got.DataDir, BaseAPIPort: got.BaseAPIPort, BaseGossipPort: got.BaseGossipPort,
			Profile: got.Profile, GossipKeyFile: got.GossipKeyFile, LogLevel: got.LogLevel}
		if g != tt.want {
			t.Errorf("argv %q: got %+v, want %+v", tt.argv, g, tt.want)
		}
	}
}

// testCluster is a "crdtd cluster" run in a goroutine with fake agents.
type testCluster struct {
	dir    string
	stdout *bufio.Scanner
	stderr *testbin.SyncBuffer
	cancel func()
	done   chan ExitCode
	agents *fakeAgents
}

// startTestCluster runs "crdtd cluster --nodes n" on free ports with fake agents whose
// environment gets env. tune, if not nil, adjusts the options after parsing.
func startTestCluster(t *testing.T, n int, env []string, tune func(*clusterOptions)) *testCluster {
	t.Helper()
	api := freePortRange(t, n)
	gossipBase := freePortRange(t, n, api, api+n-1)
	ctx, cancel := context.WithCancel(t.Context())
	pr, pw := io.Pipe()
	tc := &testCluster{
		dir:    filepath.Join(t.TempDir(), "cluster"),
		stdout: bufio.NewScanner(pr),
		stderr: &testbin.SyncBuffer{},
		cancel: cancel,
		done:   make(chan ExitCode, 1),
		agents: &fakeAgents{env: env},
	}
	f := &factory{Out: pw, ErrOut: tc.stderr, AgentCommand: tc.agents.command}
	args := []string{"cluster", "--nodes", strconv.Itoa(n), "--data-dir", tc.dir,
		"--base-api-port", strconv.Itoa(api), "--base-gossip-port", strconv.Itoa(gossipBase)}
	go func() {
		defer pw.Close()
		if tune == nil {
			tc.done <- run(ctx, args, f)
			return
		}
		root := newRootCmd()
		root.AddCommand(newCmdCluster(f, func(o *clusterOptions) error {
			tune(o)
			return runCluster(ctx, o)
		}))
		root.SetArgs(args)
		cmd, err := root.ExecuteContextC(ctx)
		tc.done <- reportError(cmd, err, f.ErrOut)
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case <-tc.done:
		case <-time.After(30 * time.Second):
			t.Error("cluster did not stop")
		}
		_ = pr.Close()
	})
	return tc
}

// rows reads the n rows of the node table.
func (tc *testCluster) rows(t *testing.T, n int) [][]string {
	t.Helper()
	var rows [][]string
	for len(rows) < n && tc.stdout.Scan() {
		rows = append(rows, strings.Split(tc.stdout.Text(), "\t"))
	}
	if len(rows) < n {
		t.Fatalf("got %d table rows, want %d; stderr:\n%s", len(rows), n, tc.stderr.String())
	}
	go func() { // keep the pipe drained
		for tc.stdout.Scan() {
		}
	}()
	return rows
}

// wait returns the exit code of the cluster command.
func (tc *testCluster) wait(t *testing.T) ExitCode {
	t.Helper()
	select {
	case code := <-tc.done:
		tc.done <- code // for the cleanup
		return code
	case <-time.After(30 * time.Second):
		t.Fatalf("cluster did not return; stderr:\n%s", tc.stderr.String())
		return 0
	}
}

// fakeRecord returns what the fake agent named name recorded about its config.
func (tc *testCluster) fakeRecord(t *testing.T, name string) map[string]string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(tc.dir, name, "fake"))
	if err != nil {
		t.Fatal(err)
	}
	rec := map[string]string{}
	for line := range strings.Lines(string(b)) {
		k, v, _ := strings.Cut(strings.TrimSpace(line), "=")
		rec[k] = v
	}
	return rec
}

func TestClusterRun(t *testing.T) {
	tc := startTestCluster(t, 2, nil, nil)
	rows := tc.rows(t, 2)
	for i, row := range rows {
		name := fmt.Sprintf("node%d", i+1)
		want := []string{name, "", "", filepath.Join(tc.dir, name), filepath.Join(tc.dir, name+".log")}
		if len(row) != 5 || row[0] != want[0] || row[3] != want[3] || row[4] != want[4] {
			t.Fatalf("row %d = %q, want %q with API and gossip addresses", i, row, want)
		}
		if resp, err := http.Get(row[1] + "/healthz"); err != nil || resp.StatusCode != http.StatusOK {
			t.Errorf("%s: GET %s/healthz = %v, %v; want 200", name, row[1], resp, err)
		} else {
			_ = resp.Body.Close()
		}
		rec := tc.fakeRecord(t, name)
		if "http://"+rec["api"] != row[1] || rec["gossip"] != row[2] || rec["profile"] != "local" || rec["name"] != name {
			t.Errorf("%s: agent got %v, want the addresses of row %q and profile local", name, rec, row)
		}
		wantJoin := rows[0][2]
		if i == 0 {
			wantJoin = ""
		}
		if rec["join"] != wantJoin {
			t.Errorf("%s joins %q, want %q", name, rec["join"], wantJoin)
		}
	}
	if got := tc.stderr.String(); !strings.Contains(got, "try: cartctl --node "+rows[0][1]+" add alice apple --qty 2") {
		t.Errorf("stderr:\n%s\nwant the cartctl hint for node1", got)
	}

	// A node that dies is reported; the others keep running.
	resp, err := http.Get(rows[1][1] + "/crash")
	if err == nil {
		_ = resp.Body.Close()
	}
	testbin.WaitFor(t, 10*time.Second, "the crash report", func() bool {
		return strings.Contains(tc.stderr.String(), "node2 exited unexpectedly (exit status 1); see its log "+rows[1][4])
	})
	if log, _ := os.ReadFile(rows[1][4]); !strings.Contains(string(log), "fake agent: crashed on request") {
		t.Errorf("node2.log:\n%s\nwant the agent's error in it", log)
	}
	if resp, err := http.Get(rows[0][1] + "/healthz"); err != nil {
		t.Errorf("node1 after node2 crashed: %v", err)
	} else {
		_ = resp.Body.Close()
	}

	tc.cancel()
	if code := tc.wait(t); code != ExitOK {
		t.Errorf("cluster = %d after cancel, want %d; stderr:\n%s", code, ExitOK, tc.stderr.String())
	}
	if got := tc.stderr.String(); !strings.Contains(got, "Stopped the cluster.") || strings.Contains(got, "node1 stopped with") {
		t.Errorf("stderr:\n%s\nwant a clean stop of node1", got)
	}
	tc.agents.checkAllGone(t)
}

// TestClusterRestartsKilledNode kills one node of a running cluster with SIGKILL: the cluster
// reports it with the command to restart it by hand, and restarts it on the same ports.
func TestClusterRestartsKilledNode(t *testing.T) {
	tc := startTestCluster(t, 2, nil, func(o *clusterOptions) { o.RestartBackoff = 50 * time.Millisecond })
	rows := tc.rows(t, 2)
	before := tc.fakeRecord(t, "node2")
	pid, err := strconv.Atoi(before["pid"])
	if err != nil {
		t.Fatal(err)
	}
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	testbin.WaitFor(t, 20*time.Second, "node2 to serve again", func() bool {
		if tc.fakeRecord(t, "node2")["pid"] == before["pid"] {
			return false
		}
		resp, err := http.Get(rows[1][1] + "/healthz")
		if err != nil {
			return false
		}
		_ = resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
	after := tc.fakeRecord(t, "node2")
	stderr := tc.stderr.String()
	command := strings.Join([]string{shellQuote(os.Args[0]), "agent", "--name", "node2", "--data-dir", filepath.Join(tc.dir, "node2"),
		"--api-addr", after["api"], "--gossip-addr", after["gossip"], "--profile", "local", "--log-level", "info",
		"--join", rows[0][2]}, " ")
	for _, want := range []string{
		"node2 exited unexpectedly (signal: killed); see its log " + rows[1][4] + "\n  command: " + command + "\n" +
			"restarting node2 in 50ms (restart 1 of at most 5 within 1m0s)\n",
		"restarted node2 (pid " + after["pid"] + ")\n",
	} {
		if !strings.Contains(stderr, want) {
			t.Errorf("stderr:\n%s\nwant it to contain %q", stderr, want)
		}
	}
	if after["api"] != before["api"] || after["gossip"] != before["gossip"] || after["join"] != before["join"] {
		t.Errorf("node2 restarted with %v, want the config it had: %v", after, before)
	}
	tc.cancel()
	if code := tc.wait(t); code != ExitOK {
		t.Errorf("cluster = %d after cancel, want %d; stderr:\n%s", code, ExitOK, tc.stderr.String())
	}
	tc.agents.checkAllGone(t)
}

// TestClusterGivesUp: a node that keeps failing is restarted MaxRestarts times, with growing
// pauses, then given up on; a cluster with no node left exits 1.
func TestClusterGivesUp(t *testing.T) {
	tc := startTestCluster(t, 1, []string{fakeModeEnv("node1") + "=fail-restart"}, func(o *clusterOptions) {
		o.RestartBackoff = 10 * time.Millisecond
		o.MaxRestarts = 2
	})
	tc.rows(t, 1)
	pid, err := strconv.Atoi(tc.fakeRecord(t, "node1")["pid"])
	if err != nil {
		t.Fatal(err)
	}
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	if code := tc.wait(t); code != ExitFailure {
		t.Errorf("cluster = %d, want %d", code, ExitFailure)
	}
	stderr := tc.stderr.String()
	for _, want := range []string{
		"node1 exited unexpectedly (signal: killed)",
		"restarting node1 in 10ms (restart 1 of at most 2 within 1m0s)",
		"node1 exited unexpectedly (exit status 1)",
		"restarting node1 in 20ms (restart 2 of at most 2 within 1m0s)",
		"  command: " + shellQuote(os.Args[0]) + " agent --name node1 --data-dir " + filepath.Join(tc.dir, "node1") + " ",
		"node1 was restarted 2 times within 1m0s and exited again; giving up on it: once its log shows what is wrong," +
			" run its command above by hand\n",
		"Error: every node of the cluster has exited\n",
	} {
		if !strings.Contains(stderr, want) {
			t.Errorf("stderr:\n%s\nwant it to contain %q", stderr, want)
		}
	}
	tc.agents.checkAllGone(t)
}

func TestShellQuote(t *testing.T) {
	tests := []struct{ in, want string }{
		{"/usr/bin/crdtd", "/usr/bin/crdtd"},
		{"127.0.0.1:7070", "127.0.0.1:7070"},
		{"--join=a:1,b:2", "--join=a:1,b:2"},
		{"/tmp/my carts", "'/tmp/my carts'"},
		{"it's", `'it'\''s'`},
		{"", "''"},
		{"$HOME", "'$HOME'"},
	}
	for _, tt := range tests {
		if got := shellQuote(tt.in); got != tt.want {
			t.Errorf("shellQuote(%q) = %s, want %s", tt.in, got, tt.want)
		}
	}
}

func TestClusterStartupFailure(t *testing.T) {
	tc := startTestCluster(t, 3, []string{fakeModeEnv("node2") + "=fail"}, nil)
	if code := tc.wait(t); code != ExitFailure {
		t.Errorf("cluster = %d, want %d", code, ExitFailure)
	}
	stderr := tc.stderr.String()
	for _, want := range []string{
		"Error: node2 exited while starting (exit status 1); see its log " + filepath.Join(tc.dir, "node2.log"),
		"  Error: fake agent: boom", // the tail of its log
	} {
		if !strings.Contains(stderr, want) {
			t.Errorf("stderr:\n%s\nwant it to contain %q", stderr, want)
		}
	}
	tc.agents.checkAllGone(t)
}

func TestClusterNotReady(t *testing.T) {
	tc := startTestCluster(t, 1, []string{fakeModeEnv("node1") + "=hang"}, func(o *clusterOptions) {
		o.ReadyTimeout = 300 * time.Millisecond
	})
	if code := tc.wait(t); code != ExitFailure {
		t.Errorf("cluster = %d, want %d", code, ExitFailure)
	}
	if got, want := tc.stderr.String(), "Error: node1 did not answer on http://127.0.0.1:"; !strings.Contains(got, want) ||
		!strings.Contains(got, "/healthz within 300ms; see its log "+filepath.Join(tc.dir, "node1.log")) {
		t.Errorf("stderr:\n%s\nwant it to name node1, its health URL and its log", got)
	}
	tc.agents.checkAllGone(t)
}

func TestClusterKillsStubbornNode(t *testing.T) {
	tc := startTestCluster(t, 1, []string{fakeModeEnv("node1") + "=stubborn"}, func(o *clusterOptions) {
		o.StopTimeout = 200 * time.Millisecond
	})
	tc.rows(t, 1)
	tc.cancel()
	if code := tc.wait(t); code != ExitOK {
		t.Errorf("cluster = %d, want %d", code, ExitOK)
	}
	if got := tc.stderr.String(); !strings.Contains(got, "node1 did not stop within 200ms after SIGTERM; killed it") {
		t.Errorf("stderr:\n%s\nwant the kill reported", got)
	}
	tc.agents.checkAllGone(t)
}

func TestClusterPortInUse(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	busyTCP := ln.Addr().(*net.TCPAddr).Port
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	busyUDP := pc.LocalAddr().(*net.UDPAddr).Port

	free := freePortRange(t, 3, busyTCP, busyUDP)
	tests := []struct {
		name             string
		api, gossip      int
		wantNode, wantFl string
	}{
		{name: "API port", api: busyTCP - 1, gossip: free, wantNode: "API port of node2", wantFl: "--base-api-port"},
		{name: "gossip TCP port", api: free, gossip: busyTCP, wantNode: "gossip port of node1", wantFl: "--base-gossip-port"},
		{name: "gossip UDP port", api: free, gossip: busyUDP - 2, wantNode: "gossip port of node3", wantFl: "--base-gossip-port"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.api < 1 || tt.gossip < 1 || (tt.api < tt.gossip+3 && tt.gossip < tt.api+3) {
				t.Skipf("port ranges %d and %d unusable here", tt.api, tt.gossip)
			}
			// The ports around the busy one are other processes' to take
			// too (ephemeral ports); if one is, the error names another
			// node and says nothing about this test's case.
			for p := range 3 {
				for _, port := range []int{tt.api + p, tt.gossip + p} {
					if port == busyTCP || port == busyUDP {
						continue
					}
					addr := fmt.Sprintf("127.0.0.1:%d", port)
					if probe("tcp", addr) != nil || probe("udp", addr) != nil {
						t.Skipf("port %d, next to the busy one, is in use by another process", port)
					}
				}
			}
			f := testFactory(t)
			dir := filepath.Join(t.TempDir(), "c")
			code := run(t.Context(), []string{"cluster", "--data-dir", dir,
				"--base-api-port", strconv.Itoa(tt.api), "--base-gossip-port", strconv.Itoa(tt.gossip)}, f)
			stderr := f.ErrOut.(interface{ String() string }).String()
			if code != ExitFailure {
				t.Errorf("cluster = %d, want %d; stderr:\n%s", code, ExitFailure, stderr)
			}
			if !strings.Contains(stderr, tt.wantNode) || !strings.Contains(stderr, "address already in use") ||
				!strings.Contains(stderr, "choose other ports with "+tt.wantFl) {
				t.Errorf("stderr:\n%s\nwant %q, the bind error and a hint at %s", stderr, tt.wantNode, tt.wantFl)
			}
			if _, err := os.Stat(dir); !os.IsNotExist(err) {
				t.Errorf("cluster created %s before finding the port in use (stat: %v)", dir, err)
			}
		})
	}
}

func TestClusterBadKeyFile(t *testing.T) {
	dir := t.TempDir()
	bad := writeFile(t, dir, "gossip.key", "AAAA\n") // 3 bytes
	f := testFactory(t)
	code := run(t.Context(), []string{"cluster", "--data-dir", filepath.Join(dir, "c"), "--gossip-key-file", bad}, f)
	if stderr := f.ErrOut.(interface{ String() string }).String(); code != ExitUsage || !strings.Contains(stderr, "3 bytes, want 16, 24 or 32") {
		t.Errorf("cluster with a 3-byte key = %d, stderr:\n%s\nwant %d and the key length", code, stderr, ExitUsage)
	}
}

func TestLogTail(t *testing.T) {
	dir := t.TempDir()
	var b strings.Builder
	for i := range 3000 {
		fmt.Fprintf(&b, "line %d\n", i)
	}
	path := writeFile(t, dir, "big.log", b.String())
	got := logTail(path, 3)
	if want := []string{"line 2997", "line 2998", "line 2999"}; strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("logTail(big, 3) = %q, want %q", got, want)
	}
	if got := logTail(writeFile(t, dir, "small.log", "only\n"), 3); len(got) != 1 || got[0] != "only" {
		t.Errorf("logTail(small, 3) = %q, want [only]", got)
	}
	if got := logTail(filepath.Join(dir, "missing"), 3); got != nil {
		t.Errorf("logTail(missing) = %q, want nil", got)
	}
}

// TestClusterRealAgents starts a cluster of real agents (the test binary running daemon.Run) and
// checks that a write on one node reaches the other.
func TestClusterRealAgents(t *testing.T) {
	if testing.Short() {
		t.Skip("starts real nodes")
	}
	tc := startTestCluster(t, 2, []string{fakeAgentEnv + "=real"}, nil)
	rows := tc.rows(t, 2)
	resp, err := http.Post(rows[0][1]+"/v1/carts/alice/items", "application/json",
		strings.NewReader(`{"item":"apple","quantity":2}`))
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("add on node1: %s", resp.Status)
	}
	testbin.WaitFor(t, 10*time.Second, "the add to reach node2", func() bool {
		resp, err := http.Get(rows[1][1] + "/v1/carts/alice")
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return strings.Contains(string(b), `"quantity":2`)
	})

	// Killed, node2 is restarted on its data directory: it serves the cart from its log.
	if err := tc.agents.process(t, "node2").Kill(); err != nil { // started before the table was printed
		t.Fatal(err)
	}
	testbin.WaitFor(t, 30*time.Second, "node2 to serve the cart again after SIGKILL", func() bool {
		if !strings.Contains(tc.stderr.String(), "restarted node2 (pid ") {
			return false
		}
		resp, err := http.Get(rows[1][1] + "/v1/carts/alice")
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return strings.Contains(string(b), `"quantity":2`)
	})
	if got := tc.stderr.String(); !strings.Contains(got, "node2 exited unexpectedly (signal: killed)") {
		t.Errorf("stderr:\n%s\nwant the kill of node2 reported", got)
	}

	tc.cancel()
	if code := tc.wait(t); code != ExitOK {
		t.Errorf("cluster = %d after cancel, want %d; stderr:\n%s", code, ExitOK, tc.stderr.String())
	}
	if got := tc.stderr.String(); strings.Contains(got, "stopped with") || strings.Contains(got, "did not stop") {
		t.Errorf("stderr:\n%s\nwant every node to stop cleanly", got)
	}
	tc.agents.checkAllGone(t)
}
