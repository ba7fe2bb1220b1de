package faults

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/crdtd/crdtd/api"
	"github.com/crdtd/crdtd/client"
	"github.com/crdtd/crdtd/internal/testbin"
)

// bin holds the crdtd binary built once for the whole package.
var bin struct {
	testbin.Binaries
	err error
}

func TestMain(m *testing.M) { os.Exit(testbin.Main(m, &bin.Binaries, &bin.err)) }

func needBinaries(t *testing.T) {
	t.Helper()
	testbin.Need(t, bin.err)
}

func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}

func envDuration(name string, def time.Duration) time.Duration {
	if v, err := time.ParseDuration(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}

// --- network namespaces ---

// nsPrefix starts the name of every namespace these tests create; the
// creating test process's PID follows, so stale namespaces of dead runs can
// be told from those of a concurrent run.
const nsPrefix = "crdtdf-"

// network places nodes in Linux network namespaces joined by veth pairs to a
// bridge in the root namespace, which has the .1 address so that the test
// process reaches every node's API. Partitions are blackhole routes inside the
// namespaces: node i cannot reach node j (and back) while both keep reaching
// the test process. iptables and tc are not needed.
type network struct {
	pid    int
	subnet string // "10.77.X"
	ns     []string
	bridge string

	// mu guards blocked.
	mu      sync.Mutex
	blocked map[[2]int]bool
}

func runIP(args ...string) error {
	out, err := exec.Command("ip", args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("ip %s: %v: %s", strings.Join(args, " "), err, bytes.TrimSpace(out))
	}
	return nil
}

// ci reports whether the tests run in CI (CI=true). There the fault suite
// requires network namespaces: on loopback a partition is a SIGSTOP pause
// of one node, which tests neither a cut link nor a split cluster, and a
// CI that quietly fell back would pass without partitioning anything.
func ci() bool { return os.Getenv("CI") == "true" }

// netnsUnavailable says why namespaces cannot be used, or "" if they can.
func netnsUnavailable() string {
	if os.Getenv("FAULTS_NETNS") == "0" {
		return "FAULTS_NETNS=0"
	}
	if os.Geteuid() != 0 {
		return "not running as root"
	}
	if _, err := exec.LookPath("ip"); err != nil {
		return "no ip command (apt package iproute2)"
	}
	return ""
}

func pidAlive(pid int) bool {
	return pid > 0 && syscall.Kill(pid, 0) == nil
}

// removeStaleNetns deletes namespaces, bridges and veths left by earlier runs
// whose process is gone.
func removeStaleNetns(t *testing.T) {
	out, err := exec.Command("ip", "netns", "list").Output()
	if err == nil {
		for _, line := range strings.Split(string(out), "\n") {
			name, _, _ := strings.Cut(strings.TrimSpace(line), " ")
			rest, ok := strings.CutPrefix(name, nsPrefix)
			if !ok {
				continue
			}
			pidStr, _, _ := strings.Cut(rest, "-")
			if pid, err := strconv.Atoi(pidStr); err == nil && !pidAlive(pid) {
				t.Logf("removing stale namespace %s", name)
				_ = runIP("netns", "del", name)
			}
		}
	}
	out, err = exec.Command("ip", "-o", "link", "show").Output()
	if err != nil {
		return
	}
	for _, line := range strings.Split(string(out), "\n") {
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		name, _, _ := strings.Cut(strings.TrimSuffix(f[1], ":"), "@")
		rest, ok := strings.CutPrefix(name, "cf")
		if !ok {
			continue
		}
		end := strings.IndexAny(rest, "bh")
		if end <= 0 {
			continue
		}
		if pid, err := strconv.Atoi(rest[:end]); err == nil && !pidAlive(pid) {
			_ = runIP("link", "del", name)
		}
	}
}

// freeSubnet picks a 10.77.X.0/24 not configured on any interface here.
func freeSubnet(pid int) (string, error) {
	out, err := exec.Command("ip", "-4", "-o", "addr", "show").Output()
	if err != nil {
		return "", err
	}
	for i := range 200 {
		s := fmt.Sprintf("10.77.%d", 20+(pid+i)%200)
		if !strings.Contains(string(out), s+".") {
			return s, nil
		}
	}
	return "", errors.New("no free 10.77.X.0/24 subnet")
}

// newNetwork creates n namespaces; cleanup is registered with t.
func newNetwork(t *testing.T, n int) (*network, error) {
	removeStaleNetns(t)
	pid := os.Getpid()
	subnet, err := freeSubnet(pid)
	if err != nil {
		return nil, err
	}
	nw := &network{pid: pid, subnet: subnet, bridge: fmt.Sprintf("cf%db", pid), blocked: map[[2]int]bool{}}
	t.Cleanup(nw.destroy)
	steps := [][]string{
		{"link", "add", nw.bridge, "type", "bridge"},
		{"addr", "add", subnet + ".1/24", "dev", nw.bridge},
		{"link", "set", nw.bridge, "up"},
	}
	for i := range n {
		ns := fmt.Sprintf("%s%d-%d", nsPrefix, pid, i)
		nw.ns = append(nw.ns, ns)
		host, peer := fmt.Sprintf("cf%dh%d", pid, i), fmt.Sprintf("cf%dn%d", pid, i)
		steps = append(steps,
			[]string{"netns", "add", ns},
			[]string{"-n", ns, "link", "set", "lo", "up"},
			[]string{"link", "add", host, "type", "veth", "peer", "name", peer},
			[]string{"link", "set", peer, "netns", ns},
			[]string{"link", "set", host, "master", nw.bridge},
			[]string{"link", "set", host, "up"},
			[]string{"-n", ns, "addr", "add", nw.addr(i) + "/24", "dev", peer},
			[]string{"-n", ns, "link", "set", peer, "up"},
		)
	}
	for _, s := range steps {
		if err := runIP(s...); err != nil {
			return nil, err
		}
	}
	return nw, nil
}

func (nw *network) addr(i int) string { return fmt.Sprintf("%s.%d", nw.subnet, 10+i) }

func (nw *network) destroy() {
	for _, ns := range nw.ns {
		_ = runIP("netns", "del", ns)
	}
	for i := range nw.ns {
		_ = runIP("link", "del", fmt.Sprintf("cf%dh%d", nw.pid, i))
	}
	_ = runIP("link", "del", nw.bridge)
}

// block cuts i and j apart in both directions.
func (nw *network) block(i, j int) error {
	nw.mu.Lock()
	defer nw.mu.Unlock()
	if i > j {
		i, j = j, i
	}
	if nw.blocked[[2]int{i, j}] {
		return nil
	}
	if err := runIP("-n", nw.ns[i], "route", "add", "blackhole", nw.addr(j)+"/32"); err != nil {
		return err
	}
	if err := runIP("-n", nw.ns[j], "route", "add", "blackhole", nw.addr(i)+"/32"); err != nil {
		return err
	}
	nw.blocked[[2]int{i, j}] = true
	return nil
}

// heal removes every cut.
func (nw *network) heal() error {
	nw.mu.Lock()
	defer nw.mu.Unlock()
	var errs []error
	for p := range nw.blocked {
		errs = append(errs, runIP("-n", nw.ns[p[0]], "route", "del", "blackhole", nw.addr(p[1])+"/32"))
		errs = append(errs, runIP("-n", nw.ns[p[1]], "route", "del", "blackhole", nw.addr(p[0])+"/32"))
		delete(nw.blocked, p)
	}
	return errors.Join(errs...)
}

// --- nodes ---

// node is one real crdtd agent process with a fixed data dir and ports, so a
// restart brings back the same replica at the same addresses.
type node struct {
	t          *testing.T
	idx        int
	name       string
	ns         string // network namespace, "" on loopback
	dataDir    string
	apiAddr    string
	gossipAddr string
	logPath    string
	baseArgs   []string
	// env, if not nil, is added to the environment of the agent, from
	// which every CRDTD_* variable of the test process is removed first.
	env []string

	// mu guards the fields below.
	mu     sync.Mutex
	cmd    *exec.Cmd
	paused bool
	waited chan struct{}
}

// start launches the agent with extra flags and waits until it serves.
func (n *node) start(c *cluster, extra ...string) error {
	n.mu.Lock()
	args := append(append([]string{}, n.baseArgs...), extra...)
	var cmd *exec.Cmd
	if n.ns != "" {
		cmd = exec.Command("ip", append([]string{"netns", "exec", n.ns, bin.Crdtd}, args...)...)
	} else {
		cmd = exec.Command(bin.Crdtd, args...)
	}
	if n.env != nil {
		cmd.Env = append(environWithout("CRDTD_"), n.env...)
	}
	logf, err := os.OpenFile(n.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		n.mu.Unlock()
		return err
	}
	fmt.Fprintf(logf, "=== start %s %v\n", time.Now().Format(time.RFC3339Nano), extra)
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		logf.Close()
		n.mu.Unlock()
		return fmt.Errorf("start %s: %v", n.name, err)
	}
	waited := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		logf.Close()
		close(waited)
	}()
	n.cmd, n.paused, n.waited = cmd, false, waited
	n.mu.Unlock()

	deadline := time.Now().Add(20 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		_, err := c.client(n.idx).Health(ctx)
		cancel()
		if err == nil {
			return nil
		}
		select {
		case <-waited:
			return fmt.Errorf("%s exited during start; log tail:\n%s", n.name, n.logTail(2000))
		default:
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s does not serve after 20s: %v", n.name, err)
		}
		time.Sleep(30 * time.Millisecond)
	}
}

// environWithout returns the test process's environment without the
// variables whose names start with prefix.
func environWithout(prefix string) []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, prefix) {
			env = append(env, kv)
		}
	}
	return env
}

func (n *node) pid() int {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.cmd == nil || n.cmd.Process == nil {
		return 0
	}
	return n.cmd.Process.Pid
}

func (n *node) running() bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.cmd == nil {
		return false
	}
	select {
	case <-n.waited:
		return false
	default:
		return true
	}
}

// signal sends sig and, for SIGKILL and SIGTERM, waits for the exit.
func (n *node) signal(sig syscall.Signal) {
	n.mu.Lock()
	cmd, waited := n.cmd, n.waited
	if cmd == nil {
		n.mu.Unlock()
		return
	}
	_ = cmd.Process.Signal(sig)
	switch sig {
	case syscall.SIGSTOP:
		n.paused = true
	case syscall.SIGCONT:
		n.paused = false
	case syscall.SIGKILL, syscall.SIGTERM:
		if n.paused {
			_ = cmd.Process.Signal(syscall.SIGCONT)
		}
		n.cmd, n.paused = nil, false
	}
	n.mu.Unlock()
	if sig == syscall.SIGKILL || sig == syscall.SIGTERM {
		select {
		case <-waited:
		case <-time.After(15 * time.Second):
			_ = cmd.Process.Kill()
			<-waited
		}
	}
}

func (n *node) logTail(max int) string {
	b, _ := os.ReadFile(n.logPath)
	if len(b) > max {
		b = b[len(b)-max:]
	}
	return string(b)
}

// rssKiB returns the process's resident set size.
func rssKiB(pid int) int {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return -1
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			f := strings.Fields(v)
			if len(f) > 0 {
				k, _ := strconv.Atoi(f[0])
				return k
			}
		}
	}
	return -1
}

// --- cluster ---

type clusterOptions struct {
	nodes int
	label string
	netns bool // try namespaces (falls back to loopback)
	key   []byte
	extra []string // flags for every node
}

type cluster struct {
	t       *testing.T
	nodes   []*node
	net     *network // nil on loopback
	mode    string
	token   string
	hc      *http.Client
	clients []*client.Client
	keyFile string
}

const testToken = "faults-suite-token"

func newCluster(t *testing.T, o clusterOptions) *cluster {
	t.Helper()
	dir := t.TempDir()
	c := &cluster{t: t, token: testToken, mode: "loopback"}
	c.hc = &http.Client{
		Timeout:   3 * time.Second,
		Transport: &http.Transport{MaxIdleConnsPerHost: 16, IdleConnTimeout: 30 * time.Second},
	}
	t.Cleanup(c.hc.CloseIdleConnections)
	if o.netns {
		why := netnsUnavailable()
		if why == "" {
			if nw, err := newNetwork(t, o.nodes); err != nil {
				why = fmt.Sprintf("cannot create them: %v", err)
			} else {
				c.net, c.mode = nw, "netns"
			}
		}
		if why != "" {
			if ci() {
				t.Fatalf("network namespaces unavailable (%s), and CI=true: CI must test real partitions, not SIGSTOP pauses standing in for them", why)
			}
			t.Logf("network namespaces unavailable (%s): nodes run on loopback and partitions fall back to SIGSTOP isolation", why)
		}
	}
	tokenFile := filepath.Join(dir, "token")
	if err := os.WriteFile(tokenFile, []byte(testToken+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if o.key != nil {
		c.keyFile = filepath.Join(dir, "gossip.key")
		if err := os.WriteFile(c.keyFile, []byte(encodeKey(o.key)+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	var seeds []string
	for i := range o.nodes {
		n := &node{t: t, idx: i, name: fmt.Sprintf("n%d", i), dataDir: filepath.Join(dir, fmt.Sprintf("n%d", i)),
			logPath: filepath.Join(dir, fmt.Sprintf("n%d.log", i))}
		if c.net != nil {
			n.ns = c.net.ns[i]
			n.apiAddr = c.net.addr(i) + ":7070"
			n.gossipAddr = c.net.addr(i) + ":7946"
		} else {
			n.apiAddr = fmt.Sprintf("127.0.0.1:%d", freePort(t))
			n.gossipAddr = fmt.Sprintf("127.0.0.1:%d", freePort(t))
		}
		seeds = append(seeds, n.gossipAddr)
		c.nodes = append(c.nodes, n)
	}
	for _, n := range c.nodes {
		n.baseArgs = []string{"agent", "--name", n.name, "--data-dir", n.dataDir, "--api-addr", n.apiAddr,
			"--gossip-addr", n.gossipAddr, "--profile", "local", "--cluster-label", o.label,
			"--api-token-file", tokenFile, "--join", strings.Join(seeds, ","),
			// A one-byte cart cache: a cart leaves memory as soon as it is
			// saved, so every kill, partition and repair here also lands
			// on carts read back from disk, mid-eviction.
			"--cache-size", "1"}
		if c.keyFile != "" {
			n.baseArgs = append(n.baseArgs, "--gossip-key-file", c.keyFile)
		} else {
			// Nodes in network namespaces gossip beyond loopback.
			n.baseArgs = append(n.baseArgs, "--insecure-gossip")
		}
		n.baseArgs = append(n.baseArgs, o.extra...)
		cl, err := client.New(client.Config{BaseURL: "http://" + n.apiAddr, Token: c.token, HTTPClient: c.hc, Retries: 2,
			RetryBackoff: 50 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		c.clients = append(c.clients, cl)
	}
	t.Cleanup(func() {
		for _, n := range c.nodes {
			n.signal(syscall.SIGKILL)
		}
		if t.Failed() {
			for _, n := range c.nodes {
				t.Logf("log tail of %s:\n%s", n.name, n.logTail(3000))
			}
		}
	})
	for _, n := range c.nodes {
		if err := n.start(c); err != nil {
			t.Fatal(err)
		}
	}
	c.waitMembers(30 * time.Second)
	return c
}

func freePort(t *testing.T) int { return testbin.FreePort(t) }

func (c *cluster) client(i int) *client.Client { return c.clients[i] }

func (c *cluster) url(i int, path string) string { return "http://" + c.nodes[i].apiAddr + path }

// waitMembers waits until every node sees every node alive.
func (c *cluster) waitMembers(timeout time.Duration) {
	c.t.Helper()
	testbin.WaitFor(c.t, timeout, "every node to see every member alive", func() bool {
		for i := range c.nodes {
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			st, err := c.client(i).Status(ctx)
			cancel()
			if err != nil || st.Members.Alive != len(c.nodes) {
				return false
			}
		}
		return true
	})
}

// request sends one raw API request with the bearer token.
func (c *cluster) request(ctx context.Context, method, url string, body []byte, hdr map[string]string) (int, []byte, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, url, rd)
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	return resp.StatusCode, b, err
}

// metrics scrapes a node's /metrics into "name{labels}" -> value.
type metrics map[string]float64

func (c *cluster) scrape(i int) (metrics, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	code, body, err := c.request(ctx, http.MethodGet, c.url(i, "/metrics"), nil, nil)
	if err != nil {
		return nil, err
	}
	if code != http.StatusOK {
		return nil, fmt.Errorf("GET /metrics: status %d", code)
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := parser.TextToMetricFamilies(bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	out := metrics{}
	for name, f := range fams {
		for _, m := range f.GetMetric() {
			var labels []string
			for _, l := range m.GetLabel() {
				labels = append(labels, l.GetName()+"="+l.GetValue())
			}
			key := name + "{" + strings.Join(labels, ",") + "}"
			switch {
			case m.Counter != nil:
				out[key] = m.Counter.GetValue()
			case m.Gauge != nil:
				out[key] = m.Gauge.GetValue()
			}
		}
	}
	return out, nil
}

// sum adds the samples of name whose labels contain every one of want
// ("k=v").
func (m metrics) sum(name string, want ...string) float64 {
	total := 0.0
	for k, v := range m {
		n, labels, _ := strings.Cut(k, "{")
		if n != name {
			continue
		}
		ok := true
		for _, w := range want {
			if !strings.Contains(labels, w) {
				ok = false
			}
		}
		if ok {
			total += v
		}
	}
	return total
}

// http4xx sums crdtd_http_requests_total over 4xx codes.
func (m metrics) http4xx() float64 {
	total := 0.0
	for k, v := range m {
		if strings.HasPrefix(k, "crdtd_http_requests_total{") && strings.Contains(k, "code=4") {
			total += v
		}
	}
	return total
}

func encodeKey(k []byte) string { return base64.StdEncoding.EncodeToString(k) }

func setQty(q int64) api.SetItemRequest { return api.SetItemRequest{Quantity: &q} }

func addReq(item string, n int64) api.AddItemRequest {
	return api.AddItemRequest{Item: item, Quantity: n}
}
