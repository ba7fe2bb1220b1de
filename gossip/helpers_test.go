package gossip

import (
	"bytes"
	"context"
	crand "crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"math/rand/v2"
	"net"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/memberlist"
)

// setDelegate is a test Delegate: key -> grow-only set of strings. A state
// (and a delta) is the sorted elements joined by "\n"; Merge is union.
type setDelegate struct {
	mu      sync.Mutex // guards objs
	objs    map[string]map[string]struct{}
	merges  atomic.Int64
	repairs atomic.Int64
	states  atomic.Int64 // State calls
}

func newSetDelegate() *setDelegate {
	return &setDelegate{objs: make(map[string]map[string]struct{})}
}

func encodeSet(s map[string]struct{}) []byte {
	return []byte(strings.Join(slices.Sorted(maps.Keys(s)), "\n"))
}

// add adds elem to key locally and returns the delta to publish.
func (d *setDelegate) add(key, elem string) []byte {
	d.mu.Lock()
	defer d.mu.Unlock()
	s := d.objs[key]
	if s == nil {
		s = make(map[string]struct{})
		d.objs[key] = s
	}
	s[elem] = struct{}{}
	return []byte(elem)
}

func (d *setDelegate) Merge(key string, data []byte, info MergeInfo) (bool, error) {
	if len(data) == 0 {
		return false, errors.New("empty set")
	}
	d.merges.Add(1)
	if info.Channel == ChannelRepair {
		d.repairs.Add(1)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	s := d.objs[key]
	if s == nil {
		s = make(map[string]struct{})
		d.objs[key] = s
	}
	changed := false
	for e := range strings.SplitSeq(string(data), "\n") {
		if _, ok := s[e]; !ok {
			s[e] = struct{}{}
			changed = true
		}
	}
	return changed, nil
}

func (d *setDelegate) State(key string) ([]byte, bool) {
	d.states.Add(1)
	d.mu.Lock()
	defer d.mu.Unlock()
	s, ok := d.objs[key]
	if !ok {
		return nil, false
	}
	return encodeSet(s), true
}

func (d *setDelegate) Hashes(fn func(string, uint64) bool) {
	d.mu.Lock()
	hashes := make(map[string]uint64, len(d.objs))
	for k, s := range d.objs {
		hashes[k] = ObjectHash(k, encodeSet(s))
	}
	d.mu.Unlock()
	for k, h := range hashes {
		if !fn(k, h) {
			return
		}
	}
}

// dump returns a canonical rendering of all objects, for comparison.
func (d *setDelegate) dump() string {
	d.mu.Lock()
	defer d.mu.Unlock()
	var b bytes.Buffer
	for _, k := range slices.Sorted(maps.Keys(d.objs)) {
		fmt.Fprintf(&b, "%s=%s;", k, encodeSet(d.objs[k]))
	}
	return b.String()
}

func (d *setDelegate) len() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return len(d.objs)
}

func (d *setDelegate) has(key, elem string) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	_, ok := d.objs[key][elem]
	return ok
}

// faultNet is shared by the fault transports of one test: it assigns
// addresses to groups and drops packets and refuses streams between groups
// while partitioned, and drops a share of all packets.
type faultNet struct {
	mu          sync.Mutex        // guards group
	group       map[string]string // addr -> group
	partitioned atomic.Bool
	lossPermil  atomic.Int32
	streamBytes atomic.Int64 // bytes both ways over streams this network's nodes dialed
	// closeDelay holds a transport's Shutdown after its sockets closed,
	// widening the window in which memberlist still uses them.
	closeDelay atomic.Int64 // nanoseconds
}

func newFaultNet() *faultNet { return &faultNet{group: make(map[string]string)} }

func (f *faultNet) setGroup(addr, g string) {
	f.mu.Lock()
	f.group[addr] = g
	f.mu.Unlock()
}

func (f *faultNet) cut(from, to string) bool {
	if !f.partitioned.Load() {
		return false
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.group[from] != f.group[to]
}

func (f *faultNet) lose() bool {
	p := f.lossPermil.Load()
	return p > 0 && rand.Int32N(1000) < p
}

// faultTransport wraps memberlist's NetTransport. Faults apply to what this
// node sends; as every node has one, both directions are covered.
type faultTransport struct {
	*memberlist.NetTransport
	net  *faultNet
	self string
}

var _ memberlist.NodeAwareTransport = (*faultTransport)(nil)

func (t *faultTransport) WriteTo(b []byte, addr string) (time.Time, error) {
	return t.WriteToAddress(b, memberlist.Address{Addr: addr})
}

func (t *faultTransport) WriteToAddress(b []byte, a memberlist.Address) (time.Time, error) {
	if t.net.cut(t.self, a.Addr) || t.net.lose() {
		return time.Now(), nil // silently lost, like UDP
	}

	return t.NetTransport.WriteToAddress(b, a)
}

func (t *faultTransport) Shutdown() error {
	err := t.NetTransport.Shutdown()
	time.Sleep(time.Duration(t.net.closeDelay.Load()))
	return err
}

func (t *faultTransport) DialTimeout(addr string, timeout time.Duration) (net.Conn, error) {
	return t.DialAddressTimeout(memberlist.Address{Addr: addr}, timeout)
}

func (t *faultTransport) DialAddressTimeout(a memberlist.Address, timeout time.Duration) (net.Conn, error) {
	if t.net.cut(t.self, a.Addr) {
		return nil, fmt.Errorf("dial %s: partitioned (test)", a.Addr)
	}
	conn, err := t.NetTransport.DialAddressTimeout(a, timeout)
	if err != nil {
		return nil, err
	}
	return &countingConn{Conn: conn, n: &t.net.streamBytes}, nil
}

// countingConn counts the bytes read and written on a dialed stream: every
// push/pull and reliable send is one, so the count covers both directions.
type countingConn struct {
	net.Conn
	n *atomic.Int64
}

func (c *countingConn) Read(p []byte) (int, error) {
	k, err := c.Conn.Read(p)
	c.n.Add(int64(k))
	return k, err
}

func (c *countingConn) Write(p []byte) (int, error) {
	k, err := c.Conn.Write(p)
	c.n.Add(int64(k))
	return k, err
}

// safeWriter forwards to w until closed; memberlist may log from goroutines
// that outlive the test by a moment.
type safeWriter struct {
	mu     sync.Mutex
	w      io.Writer
	closed bool
}

func (s *safeWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return len(p), nil
	}
	return s.w.Write(p)
}

func randHex(tb testing.TB, n int) string {
	tb.Helper()
	b := make([]byte, n)
	if _, err := crand.Read(b); err != nil {
		tb.Fatal(err)
	}
	return hex.EncodeToString(b)
}

// testLogger logs Warn and above to the test output (GOSSIP_TEST_LOG=debug
// for everything).
func testLogger(tb testing.TB) *slog.Logger {
	sw := &safeWriter{w: tb.Output()}
	tb.Cleanup(func() {
		sw.mu.Lock()
		sw.closed = true
		sw.mu.Unlock()
	})
	level := slog.LevelError
	switch os.Getenv("GOSSIP_TEST_LOG") {
	case "debug":
		level = slog.LevelDebug
	case "warn":
		level = slog.LevelWarn
	}
	return slog.New(slog.NewTextHandler(sw, &slog.HandlerOptions{Level: level}))
}

// testConfig is the local profile with short intervals for tests.
func testConfig(tb testing.TB) *Config {
	tb.Helper()
	c := DefaultLocalConfig()
	c.Memberlist.BindAddr = "127.0.0.1"
	c.Memberlist.BindPort = 0
	c.Memberlist.PushPullInterval = time.Second
	c.Memberlist.GossipInterval = 50 * time.Millisecond
	c.Memberlist.ProbeInterval = 500 * time.Millisecond
	c.Memberlist.DeadNodeReclaimTime = time.Second
	c.ReconnectInterval = 500 * time.Millisecond
	c.Logger = testLogger(tb)
	return c
}

// testCluster is a set of in-process nodes on loopback sharing a label.
type testCluster struct {
	t      testing.TB
	prefix string
	label  string
	net    *faultNet
	tweak  func(i int, c *Config)
	nodes  []*Node
	dels   []*setDelegate
	ports  []int
}

func newTestCluster(tb testing.TB, tweak func(i int, c *Config)) *testCluster {
	tb.Helper()
	return &testCluster{t: tb, prefix: "n" + randHex(tb, 3), label: "test-" + randHex(tb, 4), net: newFaultNet(), tweak: tweak}
}

// start creates node i (appending if i == len) with delegate d, bound to
// port (0 = any).
func (c *testCluster) start(i int, d *setDelegate, port int) *Node {
	c.t.Helper()
	n, port := c.startWith(i, d, port)
	if i == len(c.nodes) {
		c.nodes = append(c.nodes, n)
		c.dels = append(c.dels, d)
		c.ports = append(c.ports, port)
	} else {
		c.nodes[i], c.dels[i], c.ports[i] = n, d, port
	}
	return n
}

// startWith creates node number i with any Delegate, bound to port (0 =
// any), without adding it to c.nodes; it returns the node and its port.
func (c *testCluster) startWith(i int, d Delegate, port int) (*Node, int) {
	c.t.Helper()
	cfg := testConfig(c.t)
	cfg.Name = fmt.Sprintf("%s-%d", c.prefix, i)
	cfg.Meta = map[string]string{"api": "127.0.0.1:" + strconv.Itoa(7000+i), "index": strconv.Itoa(i)}
	cfg.Delegate = d
	cfg.Memberlist.Label = c.label
	if c.tweak != nil {
		c.tweak(i, cfg)
	}
	nt, err := memberlist.NewNetTransport(&memberlist.NetTransportConfig{
		BindAddrs: []string{"127.0.0.1"},
		BindPort:  port,
		Logger:    newMemberlistLogger(cfg.Logger),
	})
	if err != nil {
		c.t.Fatalf("transport: %v", err)
	}
	port = nt.GetAutoBindPort()
	self := "127.0.0.1:" + strconv.Itoa(port)
	c.net.setGroup(self, "a")
	cfg.Memberlist.Transport = &faultTransport{NetTransport: nt, net: c.net, self: self}
	n, err := New(cfg)
	if err != nil {
		_ = nt.Shutdown()
		c.t.Fatalf("New: %v", err)
	}
	c.t.Cleanup(func() {
		if c.t.Failed() {
			c.t.Logf("%s stats: %+v", n.cfg.Name, n.Stats())
		}
		_ = n.Shutdown()
	})
	// The digest is built in the background; tests that count repairs or
	// forge digests need it complete, as a node's is a moment after start.
	waitFor(c.t, 30*time.Second, func() (bool, string) { return n.DigestLoaded(), "digest not loaded" })
	return n, port
}

func (c *testCluster) addr(i int) string { return "127.0.0.1:" + strconv.Itoa(c.ports[i]) }

// grow starts k more empty nodes and joins each to node 0.
func (c *testCluster) grow(k int) {
	c.t.Helper()
	for range k {
		i := len(c.nodes)
		n := c.start(i, newSetDelegate(), 0)
		if i > 0 {
			c.join(n, 0)
		}
	}
}

func (c *testCluster) join(n *Node, to int) {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := n.Join(ctx, []string{c.addr(to)}); err != nil {
		c.t.Fatalf("join: %v", err)
	}
}

// waitMembers waits until every running node sees want alive members.
func (c *testCluster) waitMembers(want int, timeout time.Duration) {
	c.t.Helper()
	waitFor(c.t, timeout, func() (bool, string) {
		for i, n := range c.nodes {
			if n == nil || n.shutdown.Load() {
				continue
			}
			if got := n.ml.NumMembers(); got != want {
				return false, fmt.Sprintf("node %d sees %d members, want %d", i, got, want)
			}
		}
		return true, ""
	})
}

// write adds a fresh element to key at node i and publishes the delta.
func (c *testCluster) write(i int, key, elem string) {
	delta := c.dels[i].add(key, elem)
	c.nodes[i].Publish(key, delta, time.Now())
}

// converged reports whether all given nodes hold equal objects and digests.
func (c *testCluster) converged(idx ...int) (bool, string) {
	if len(idx) == 0 {
		for i := range c.nodes {
			idx = append(idx, i)
		}
	}
	want := c.dels[idx[0]].dump()
	root := c.nodes[idx[0]].Digest()
	for _, i := range idx[1:] {
		if got := c.dels[i].dump(); got != want {
			return false, fmt.Sprintf("node %d has %d objects, node %d has %d (or they differ)", i, c.dels[i].len(), idx[0], c.dels[idx[0]].len())
		}
		if r := c.nodes[i].Digest(); r != root {
			return false, fmt.Sprintf("node %d digest %x, node %d digest %x", i, r, idx[0], root)
		}
	}
	return true, ""
}

func (c *testCluster) waitConverged(timeout time.Duration, idx ...int) {
	c.t.Helper()
	waitFor(c.t, timeout, func() (bool, string) { return c.converged(idx...) })
}

// waitFor polls cond every 20 ms until it holds or timeout passes.
func waitFor(tb testing.TB, timeout time.Duration, cond func() (bool, string)) {
	tb.Helper()
	deadline := time.Now().Add(timeout)
	for {
		ok, why := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			tb.Fatalf("condition not met after %v: %s", timeout, why)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
