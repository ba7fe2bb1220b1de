package faults

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/crdtd/crdtd/client"
	"github.com/crdtd/crdtd/internal/testbin"
)

// skewDrift is --max-drift for the skew tests; skewBeyond is the offset that
// exceeds it.
const (
	skewDrift  = 5 * time.Second
	skewWithin = 3 * time.Second
	skewBeyond = 45 * time.Second
)

func clockDriftRejections(t *testing.T, c *cluster, nodes ...int) float64 {
	t.Helper()
	total := 0.0
	for _, i := range nodes {
		m, err := c.scrape(i)
		if err != nil {
			t.Fatal(err)
		}
		total += m.sum("crdtd_merge_rejected_total", "reason=clock_drift")
	}
	return total
}

func newSkewCluster(t *testing.T) *cluster {
	return newCluster(t, clusterOptions{nodes: 3, label: "faults-skew", extra: []string{"--max-drift", skewDrift.String()}})
}

func (c *cluster) restartWith(t *testing.T, i int, extra ...string) {
	t.Helper()
	c.nodes[i].signal(syscall.SIGKILL)
	if err := c.nodes[i].start(c, extra...); err != nil {
		t.Fatal(err)
	}
}

// TestClockSkew restarts one node with its clock ahead: within --max-drift
// its writes replicate as usual; beyond it, peers reject its timestamped
// state and count it as clock_drift.
func TestClockSkew(t *testing.T) {
	needBinaries(t)
	c := newSkewCluster(t)
	ctx := context.Background()

	// Within the allowed drift: converges, nothing rejected.
	c.restartWith(t, 2, "--clock-offset", skewWithin.String())
	for q := int64(1); q <= 3; q++ {
		if _, err := c.client(2).SetItem(ctx, "within", fmt.Sprintf("x%d", q), setQty(q)); err != nil {
			t.Fatal(err)
		}
		if _, err := c.client(0).SetItem(ctx, "within", "shared", setQty(q)); err != nil {
			t.Fatal(err)
		}
	}
	if _, took, ok := c.converge(t, 20*time.Second); ok {
		t.Logf("skew %v within max drift %v: converged in %v", skewWithin, skewDrift, took.Round(time.Millisecond))
	}
	if r := clockDriftRejections(t, c, 0, 1); r != 0 {
		t.Errorf("skew within drift: peers rejected %v states for clock drift, want 0", r)
	}

	// Beyond it: once the skewed node hears its peers' heartbeats it knows
	// its clock is ahead and refuses local writes (503) rather than
	// acknowledge changes the peers would reject; the peers reject its
	// future-stamped heartbeats and count them as clock_drift.
	c.restartWith(t, 2, "--clock-offset", skewBeyond.String())
	before := clockDriftRejections(t, c, 0, 1)
	waitSkewedNodeRefuses(t, c, 2)
	testbin.WaitFor(t, 10*time.Second, "peers to count clock_drift rejections", func() bool {
		return clockDriftRejections(t, c, 0, 1) > before
	})
	for _, i := range []int{0, 1} {
		v, err := c.client(i).GetCart(ctx, "beyond")
		if err != nil {
			t.Fatal(err)
		}
		if len(v.Items) != 0 {
			t.Errorf("n%d holds a write from the skewed node: %v", i, v.Items)
		}
	}
	t.Logf("skew %v beyond max drift %v: the node refused writes; peers counted %v clock_drift rejections",
		skewBeyond, skewDrift, clockDriftRejections(t, c, 0, 1)-before)
}

// waitSkewedNodeRefuses checks that node i, just restarted with its clock
// ahead, refuses its first write with 503 for its clock: a node with seeds
// holds writes made right after start until a peer's heartbeat has told it
// whether its clock is ahead, so it never stamps one into the future.
func waitSkewedNodeRefuses(t *testing.T, c *cluster, i int) {
	t.Helper()
	_, err := c.client(i).SetItem(context.Background(), "beyond", "apple", setQty(7))
	var apiErr *client.APIError
	if !errors.As(err, &apiErr) || apiErr.StatusCode != 503 || !strings.Contains(apiErr.Message, "clock") {
		t.Fatalf("first write on the skewed node n%d: got %v, want 503 for its clock", i, err)
	}
}

// TestClockSkewRecovery: a node whose clock ran beyond --max-drift refused
// writes; restarted with a correct clock it writes and converges at once.
func TestClockSkewRecovery(t *testing.T) {
	needBinaries(t)
	c := newSkewCluster(t)
	ctx := context.Background()
	c.restartWith(t, 2, "--clock-offset", skewBeyond.String())
	waitSkewedNodeRefuses(t, c, 2)
	c.restartWith(t, 2)
	if _, err := c.client(2).SetItem(ctx, "later", "pear", setQty(1)); err != nil {
		t.Fatalf("write after restarting with a correct clock: %v", err)
	}
	_, took, ok := c.converge(t, 15*time.Second)
	if !ok {
		t.Fatalf("no convergence within 15 s after restarting the node with a correct clock")
	}
	t.Logf("converged %v after the restart without skew", took.Round(time.Millisecond))
}
