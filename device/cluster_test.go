package device_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/crdtd/crdtd/api"
	"github.com/crdtd/crdtd/cart"
	"github.com/crdtd/crdtd/client"
	"github.com/crdtd/crdtd/device"
	"github.com/crdtd/crdtd/gossip"
	"github.com/crdtd/crdtd/internal/daemon"
	"github.com/crdtd/crdtd/internal/testbin"
)

// nodeConfig returns a config for an in-process node on loopback with free
// ports, a fresh data directory and short gossip intervals, in cluster
// label.
func nodeConfig(t *testing.T, name, label string) daemon.Config {
	t.Helper()
	return daemon.Config{
		Name:              name,
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
}

// startCluster starts n nodes that join the first and waits until each
// sees all of them alive.
func startCluster(t *testing.T, n int) []*daemon.Daemon {
	t.Helper()
	label := fmt.Sprintf("device-test-%d", time.Now().UnixNano())
	var nodes []*daemon.Daemon
	for i := range n {
		cfg := nodeConfig(t, fmt.Sprintf("node%d", i), label)
		if i > 0 {
			cfg.Join = []string{nodes[0].GossipAddr()}
		}
		d, err := daemon.Start(context.Background(), cfg)
		if err != nil {
			t.Fatalf("start node %d: %v", i, err)
		}
		t.Cleanup(func() { _ = d.Close() })
		nodes = append(nodes, d)
	}
	for _, d := range nodes {
		c := apiClient(t, d, nil)
		testbin.WaitFor(t, 20*time.Second, "all members alive on "+d.APIAddr(), func() bool {
			ms, err := c.Members(context.Background())
			if err != nil {
				return false
			}
			alive := 0
			for _, m := range ms.Members {
				if m.State == "alive" {
					alive++
				}
			}
			return alive == n
		})
	}
	return nodes
}

func apiClient(t *testing.T, d *daemon.Daemon, transport http.RoundTripper) *client.Client {
	t.Helper()
	cfg := client.Config{BaseURL: "http://" + d.APIAddr(), Retries: -1}
	if transport != nil {
		cfg.HTTPClient = &http.Client{Transport: transport}
	}
	c, err := client.New(cfg)
	must(t, err)
	return c
}

// answerLost delivers requests and loses the answers: the node applies a
// sync, and the device never hears back, as when a connection breaks at
// the wrong moment.
type answerLost struct {
	mu       sync.Mutex
	statuses []int // of the answers lost
}

func (l *answerLost) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := http.DefaultTransport.RoundTrip(r)
	if err != nil {
		return nil, err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	_ = resp.Body.Close()
	l.mu.Lock()
	l.statuses = append(l.statuses, resp.StatusCode)
	l.mu.Unlock()
	return nil, errLost
}

// apiLines renders a node's JSON view of a cart as lines renders a
// cart.View.
func apiLines(v api.CartView) string {
	var cv cart.View
	for _, l := range v.Items {
		line := cart.Line{Item: l.Item, Quantity: uint64(l.Quantity)}
		if l.UnitPriceCents != nil {
			line.UnitPriceCents, line.Priced = *l.UnitPriceCents, true
		}
		cv.Lines = append(cv.Lines, line)
	}
	return lines(cv)
}

func newFileDevice(t *testing.T) *device.Device {
	t.Helper()
	store := openFile(t, filepath.Join(t.TempDir(), "device.state"))
	d, err := device.New(device.Config{Storage: store})
	must(t, err)
	return d
}

// TestDevicesSyncThroughACluster: two devices edit the same cart offline
// and sync through different nodes of a two-node cluster. One device's
// answer is lost after the node applied its push, and it sends the same
// pending changes to the other node. In the end every node and both
// devices hold the same cart, and no add counts twice.
func TestDevicesSyncThroughACluster(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a two-node cluster")
	}
	nodes := startCluster(t, 2)
	a, b := nodes[0], nodes[1]
	ctx := t.Context()
	phone, laptop := newFileDevice(t), newFileDevice(t)

	// Offline edits on both devices.
	must(t, phone.Add("shared", "apple", 2, cents(125)))
	must(t, phone.Add("shared", "pear", 1, nil))
	must(t, laptop.Add("shared", "apple", 1, nil))
	must(t, laptop.SetQuantity("shared", "kiwi", 3))

	// The phone reaches node a, which applies the push; the answer is lost.
	lossy := &answerLost{}
	err := phone.Sync(ctx, apiClient(t, a, lossy), "shared")
	if !errors.Is(err, client.ErrUnreachable) {
		t.Fatalf("sync with a lost answer: got %v, want an error wrapping ErrUnreachable", err)
	}
	if len(lossy.statuses) != 1 || lossy.statuses[0] != http.StatusOK {
		t.Fatalf("node a answered %v, want one 200", lossy.statuses)
	}
	if got := phone.Pending("shared"); got != 2 {
		t.Fatalf("got %d pending after the lost answer, want 2", got)
	}
	if got, want := apiLines(viewOn(t, a)), "apple=2@125 pear=1@?"; got != want {
		t.Errorf("node a after the push: got %q, want %q", got, want)
	}

	// The phone sends the same changes to node b; the laptop syncs there too.
	must(t, phone.Sync(ctx, apiClient(t, b, nil), "shared"))
	must(t, laptop.Sync(ctx, apiClient(t, b, nil), "shared"))
	if got := phone.Pending("shared"); got != 0 {
		t.Errorf("phone: got %d pending, want 0", got)
	}

	const want = "apple=3@125 kiwi=3@? pear=1@?"
	for name, d := range map[string]*daemon.Daemon{"a": a, "b": b} {
		testbin.WaitFor(t, 10*time.Second, "node "+name+" to hold "+want, func() bool {
			return apiLines(viewOn(t, d)) == want
		})
	}
	// Each device syncs with the node it did not use, and learns the rest.
	must(t, phone.Sync(ctx, apiClient(t, a, nil), "shared"))
	must(t, laptop.Sync(ctx, apiClient(t, a, nil), "shared"))
	for name, dv := range map[string]*device.Device{"phone": phone, "laptop": laptop} {
		if got := lines(dv.View("shared")); got != want {
			t.Errorf("%s: got %q, want %q", name, got, want)
		}
		if got := dv.Pending("shared"); got != 0 {
			t.Errorf("%s: got %d pending, want 0", name, got)
		}
	}
	for name, d := range map[string]*daemon.Daemon{"a": a, "b": b} {
		if got := apiLines(viewOn(t, d)); got != want {
			t.Errorf("node %s at the end: got %q, want %q", name, got, want)
		}
	}
}

func viewOn(t *testing.T, d *daemon.Daemon) api.CartView {
	t.Helper()
	v, err := apiClient(t, d, nil).GetCart(context.Background(), "shared")
	must(t, err)
	return v
}
