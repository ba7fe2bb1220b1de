package e2e

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/crdtd/crdtd/api"
	"github.com/crdtd/crdtd/internal/testbin"
)

// TestDevicesEditOfflineAndSync runs two devices as real cartctl processes with their own
// state files. They edit the same cart while every node of a three-node cluster is stopped,
// then sync through different nodes once the nodes are back; device A's answer is "lost" (its
// state before the sync is restored) and it sends the same changes again to a third node. Every
// node and both devices end with the cart the semantics give, with no add counted twice.
func TestDevicesEditOfflineAndSync(t *testing.T) {
	needBinaries(t)
	agents := startAgents(t, 3)
	for _, a := range agents {
		a.stop()
	}
	dir := t.TempDir()
	devA, devB := filepath.Join(dir, "a.state"), filepath.Join(dir, "b.state")
	node := func(i int) string { return "http://" + agents[i].apiAddr }
	run := func(dev string, args ...string) string {
		t.Helper()
		args = append([]string{"--device", dev}, args...)
		out, errOut, code := cartctl(t, args...)
		if code != 0 {
			t.Fatalf("cartctl %q: exit %d: %s", args, code, errOut)
		}
		return out
	}

	// Offline: no node runs. Each edit is saved in the device's file by its own process.
	run(devA, "add", "party", "apple", "--qty", "2", "--price", "1.25")
	run(devA, "add", "party", "bread", "--price", "3")
	run(devA, "set", "party", "cheese", "4", "--price", "2.50")
	run(devB, "add", "party", "apple", "--qty", "3")
	run(devB, "add", "party", "bread")
	run(devB, "add", "party", "wine", "--price", "9.99")
	run(devB, "set", "party", "wine", "2")
	if got, want := run(devA, "show", "party"), "apple\t2\t1.25\t2.50\nbread\t1\t3.00\t3.00\ncheese\t4\t2.50\t10.00\n"; got != want {
		t.Fatalf("device A offline shows:\n%s\nwant:\n%s", got, want)
	}
	if got, want := run(devB, "show", "party"), "apple\t3\t-\t-\nbread\t1\t-\t-\nwine\t2\t9.99\t19.98\n"; got != want {
		t.Fatalf("device B offline shows:\n%s\nwant:\n%s", got, want)
	}
	for _, dev := range []string{devA, devB} {
		if fi, err := os.Stat(dev); err != nil || fi.Mode().Perm() != 0o600 {
			t.Fatalf("state file %s: %v, %v; want mode 0600", dev, fi, err)
		}
	}
	_, errOut, code := cartctl(t, "--device", devA, "--node", node(0), "--timeout", "2s", "sync")
	if code != 3 || !strings.Contains(errOut, "Nothing is lost: the device keeps its 3 changes (in 1 cart)") {
		t.Fatalf("sync with every node stopped: exit %d, stderr:\n%s\nwant 3, saying the changes are kept", code, errOut)
	}

	for _, a := range agents {
		a.start()
	}
	testbin.WaitFor(t, 30*time.Second, "every node to see every member again", func() bool {
		for _, a := range agents {
			ms, err := a.client().Members(context.Background())
			if err != nil || len(ms.Members) != len(agents) {
				return false
			}
		}
		return true
	})

	// A syncs through n1, keeping a copy of its state from before the sync.
	before, err := os.ReadFile(devA)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := run(devA, "--node", node(0), "sync"), "party\t3\t3\tfalse\n"; got != want {
		t.Fatalf("A's sync through n1 printed %q, want %q: 3 changes pushed to a node that had none", got, want)
	}
	// B syncs through n2: its 4 changes, whether or not n2 has A's yet.
	if got := run(devB, "--node", node(1), "sync"); !strings.HasPrefix(got, "party\t4\t") {
		t.Fatalf("B's sync through n2 printed %q, want its 4 changes pushed", got)
	}
	// n1's answer to A "was lost": A is back to its state before, with the same 3 changes
	// pending under the same dots, and resends them to n3.
	if err := os.WriteFile(devA, before, 0o600); err != nil {
		t.Fatal(err)
	}
	if got := run(devA, "--node", node(2), "sync"); !strings.HasPrefix(got, "party\t3\t") {
		t.Fatalf("A's resend through n3 printed %q, want the same 3 changes pushed again", got)
	}

	// The semantics: concurrent adds of one item add up (apple 2+3, bread 1+1), each counted
	// once however often it was sent; a set replaces what its device had seen (cheese, wine); a
	// price set on one device stands where the other set none.
	want := []api.Line{
		{Item: "apple", Quantity: 5, UnitPriceCents: api.Cents(125), SubtotalCents: api.Cents(625)},
		{Item: "bread", Quantity: 2, UnitPriceCents: api.Cents(300), SubtotalCents: api.Cents(600)},
		{Item: "cheese", Quantity: 4, UnitPriceCents: api.Cents(250), SubtotalCents: api.Cents(1000)},
		{Item: "wine", Quantity: 2, UnitPriceCents: api.Cents(999), SubtotalCents: api.Cents(1998)},
	}
	for _, a := range agents {
		var got []api.Line
		testbin.WaitFor(t, 15*time.Second, "the cart on "+a.name, func() bool {
			got = a.cart("party").Items
			return sameItems(got, want)
		})
	}
	// A last sync brings each device what the other made, and pushes nothing more.
	for i, dev := range []string{devA, devB} {
		if got, want := run(dev, "--node", node(i), "sync"), "party\t0\t4\t"; !strings.HasPrefix(got, want) {
			t.Errorf("last sync of %s printed %q, want it to start %q", filepath.Base(dev), got, want)
		}
		if got := cartctlJSON[api.CartView](t, "--device", dev, "show", "party").Items; !sameItems(got, want) {
			t.Errorf("%s shows %+v, want %+v", filepath.Base(dev), got, want)
		}
	}
}
