package e2e

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/crdtd/crdtd/api"
	"github.com/crdtd/crdtd/client"
	"github.com/crdtd/crdtd/internal/testbin"
)

func startAgents(t *testing.T, n int) []*agent {
	t.Helper()
	first := newAgent(t, "n1")
	first.start()
	agents := []*agent{first}
	for i := 2; i <= n; i++ {
		a := newAgent(t, fmt.Sprintf("n%d", i), first.gossipAddr)
		a.start()
		agents = append(agents, a)
	}
	testbin.WaitFor(t, 30*time.Second, "every node to see every member", func() bool {
		for _, a := range agents {
			ms, err := a.client().Members(context.Background())
			if err != nil || len(ms.Members) != n {
				return false
			}
		}
		return true
	})
	return agents
}

func TestRealProcessesReplicate(t *testing.T) {
	needBinaries(t)
	agents := startAgents(t, 3)
	ctx := context.Background()
	price := int64(125)
	if _, err := agents[0].client().AddItem(ctx, "alice", api.AddItemRequest{Item: "apple", Quantity: 2, UnitPriceCents: &price}); err != nil {
		t.Fatal(err)
	}
	want := []api.Line{{Item: "apple", Quantity: 2, UnitPriceCents: api.Cents(125), SubtotalCents: api.Cents(250)}}
	for _, a := range agents {
		testbin.WaitFor(t, 10*time.Second, "cart on "+a.name, func() bool { return sameItems(a.cart("alice").Items, want) })
	}
	resp, err := http.Get("http://" + agents[1].apiAddr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	parser := expfmt.NewTextParser(model.UTF8Validation)
	mf, err := parser.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("/metrics is not Prometheus text format: %v", err)
	}
	for _, name := range []string{"crdtd_replication_lag_seconds", "crdtd_gossip_messages_total", "crdtd_members", "crdtd_http_requests_total"} {
		if mf[name] == nil {
			t.Errorf("metric %s missing", name)
		}
	}
	for _, a := range agents {
		a.stop()
	}
}

// TestKill9KeepsAcknowledgedWrites kills a node with SIGKILL while 32
// clients write to it, restarts it, and requires every acknowledged write.
// With checkpoints an hour apart, every write is in the write-ahead log
// alone, so this checks recovery from the log.
func TestKill9KeepsAcknowledgedWrites(t *testing.T) {
	needBinaries(t)
	a := newAgent(t, "solo")
	a.extra = []string{"--checkpoint-interval", "1h"}
	a.start()
	replica := status(t, a).Replica

	var acked sync.Map // item -> cart
	var count atomic.Int64
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for g := range 32 {
		c, err := client.New(client.Config{BaseURL: "http://" + a.apiAddr, Retries: -1})
		if err != nil {
			t.Fatal(err)
		}
		wg.Go(func() {
			for i := 0; ctx.Err() == nil; i++ {
				item := fmt.Sprintf("w%d-%d", g, i)
				cartID := fmt.Sprintf("cart%d", g%4)
				if _, err := c.AddItem(ctx, cartID, api.AddItemRequest{Item: item, Quantity: 1}); err == nil {
					acked.Store(item, cartID)
					count.Add(1)
				}
			}
		})
	}
	testbin.WaitFor(t, 30*time.Second, "200 acknowledged writes", func() bool { return count.Load() >= 200 })
	a.kill()
	cancel()
	wg.Wait()
	t.Logf("%d writes acknowledged before SIGKILL", count.Load())

	a.start()
	if got := status(t, a).Replica; got != replica {
		t.Fatalf("replica ID after restart: got %s, want %s", got, replica)
	}
	carts := map[string]map[string]bool{}
	for i := range 4 {
		id := fmt.Sprintf("cart%d", i)
		carts[id] = map[string]bool{}
		for _, l := range a.cart(id).Items {
			carts[id][l.Item] = true
		}
	}
	lost := 0
	acked.Range(func(k, v any) bool {
		if !carts[v.(string)][k.(string)] {
			lost++
		}
		return true
	})
	if lost > 0 {
		t.Fatalf("lost %d of %d acknowledged writes", lost, count.Load())
	}
	a.stop()
}

// TestRestartedNodeDoesNotReuseDots restarts a node after SIGKILL and checks
// that a peer which saw its earlier adds also counts its later ones: a
// reused dot would be silently ignored by the peer. Node a checkpoints
// hourly, so its dots come back from the write-ahead log alone.
func TestRestartedNodeDoesNotReuseDots(t *testing.T) {
	needBinaries(t)
	agents := startAgents(t, 2)
	a, b := agents[0], agents[1]
	a.stop()
	a.extra = []string{"--checkpoint-interval", "1h"}
	a.start()
	ctx := context.Background()
	add := func(n int) {
		for range n {
			if _, err := a.client().AddItem(ctx, "dots", api.AddItemRequest{Item: "apple", Quantity: 1}); err != nil {
				t.Fatal(err)
			}
		}
	}
	qty := func(x *agent) int64 {
		items := x.cart("dots").Items
		if len(items) == 0 {
			return 0
		}
		return items[0].Quantity
	}
	add(30)
	testbin.WaitFor(t, 10*time.Second, "peer to see 30", func() bool { return qty(b) == 30 })
	a.kill()
	a.start()
	add(10)
	for _, x := range agents {
		testbin.WaitFor(t, 15*time.Second, x.name+" to see 40", func() bool { return qty(x) == 40 })
	}
}

func status(t *testing.T, a *agent) api.Status {
	t.Helper()
	st, err := a.client().Status(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// TestConcurrentAddAndRemoveThroughCartctl issues a remove on one node and
// an add on another at the same time, through the real cartctl: the nodes
// converge to the same cart, and the removed quantity never comes back.
func TestConcurrentAddAndRemoveThroughCartctl(t *testing.T) {
	needBinaries(t)
	agents := startAgents(t, 2)
	n1, n2 := "http://"+agents[0].apiAddr, "http://"+agents[1].apiAddr
	if _, errOut, code := cartctl(t, "--node", n1, "add", "bob", "apple", "--qty", "3"); code != 0 {
		t.Fatalf("add: exit %d: %s", code, errOut)
	}
	testbin.WaitFor(t, 10*time.Second, "apples on n2", func() bool { return len(agents[1].cart("bob").Items) == 1 })
	var wg sync.WaitGroup
	codes := make([]int, 2)
	wg.Go(func() { _, _, codes[0] = cartctl(t, "--node", n1, "remove", "bob", "apple") })
	wg.Go(func() { _, _, codes[1] = cartctl(t, "--node", n2, "add", "bob", "apple") })
	wg.Wait()
	if codes[0] != 0 || codes[1] != 0 {
		t.Fatalf("exit codes %v, want 0 0", codes)
	}
	var final []api.Line
	testbin.WaitFor(t, 10*time.Second, "nodes to agree", func() bool {
		x := cartctlJSON[api.CartView](t, "--node", n1, "show", "bob").Items
		y := cartctlJSON[api.CartView](t, "--node", n2, "show", "bob").Items
		final = x
		return sameItems(x, y)
	})
	// Concurrent, or the add after the remove: 1 apple. The remove after
	// the add had replicated: none. Never the 3 removed apples.
	if len(final) > 1 || (len(final) == 1 && final[0].Quantity != 1) {
		t.Fatalf("converged cart %+v, want 1 apple or none", final)
	}
}
