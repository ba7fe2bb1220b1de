package cli

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/crdtd/crdtd/api"
	"github.com/crdtd/crdtd/device"
	"github.com/crdtd/crdtd/internal/daemon"
)

// TestMainSyncNeedsDevice: sync without a device is a usage error.
func TestMainSyncNeedsDevice(t *testing.T) {
	t.Setenv(envDevice, "")
	code, stdout, stderr := runMain(t, "sync")
	if code != ExitUsage || stdout != "" || !strings.Contains(stderr, "Error: sync needs a device: pass --device PATH or set $CARTCTL_DEVICE\n") {
		t.Errorf("sync without a device: got %d, stdout %q, stderr %q; want a usage error", code, stdout, stderr)
	}
}

// TestMainSyncFailures: an unreachable node exits 3, a refusal 1 with the node's message, a push
// deferred past --timeout 1; each says that every change is kept, and keeps it.
func TestMainSyncFailures(t *testing.T) {
	t.Setenv(envNode, "")
	t.Setenv(envToken, "")
	t.Setenv(envDevice, "")
	node := newFakeSyncNode(t)
	tests := []struct {
		name       string
		node       string
		script     []syncReply
		want       ExitCode
		wantStderr []string
	}{
		{name: "unreachable", node: closedAddr(t), want: ExitUnreachable, wantStderr: []string{
			"Error: sync cart alice: POST http://", "node unreachable",
			"Is crdtd running there?",
			"Nothing is lost: the device keeps its 2 changes (in 1 cart) until a node acknowledges them.\n" +
				"Run cartctl sync again, through this node or any other",
		}},
		{name: "refused", node: node.srv.URL,
			script: []syncReply{{status: 422, code: api.CodeSyncRefused, message: "sync refused: a timestamp 5m0s ahead of this node's clock"}},
			want:   ExitFailure, wantStderr: []string{
				"Error: sync cart alice: the node refused the push: sync refused: a timestamp 5m0s ahead of this node's clock (sync_refused, HTTP 422)\n",
				"Nothing is lost: the device keeps its 2 changes (in 1 cart)",
			}},
		{name: "deferred past the timeout", node: node.srv.URL,
			script: []syncReply{{status: 409, code: api.CodeSyncBehind, message: "retry shortly", retryAfter: "1"}},
			want:   ExitFailure, wantStderr: []string{
				"Error: sync cart alice: deferred 1 time, and --timeout leaves no time to wait the 1s the node asks: retry shortly (sync_behind, HTTP 409)\n",
				"Nothing is lost: the device keeps its 2 changes (in 1 cart)",
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := testDevicePath(t)
			withTestDevice(t, path, func(d *localDevice) error {
				return errors.Join(d.Add("alice", "apple", 2, nil), d.Add("alice", "pear", 1, nil))
			})
			node.script(tt.script...)
			code, stdout, stderr := runMain(t, "--device", path, "--node", tt.node, "--timeout", "500ms", "sync")
			if code != tt.want || stdout != "" {
				t.Errorf("got %d, stdout %q; want %d and nothing", code, stdout, tt.want)
			}
			for _, want := range tt.wantStderr {
				if !strings.Contains(stderr, want) {
					t.Errorf("stderr:\n%s\nwant it to contain %q", stderr, want)
				}
			}
			withTestDevice(t, path, func(d *localDevice) error {
				if n := d.Pending("alice"); n != 2 {
					t.Errorf("got %d changes pending after the failed sync, want 2", n)
				}
				return nil
			})
		})
	}
	if got := node.view("alice"); got != "" {
		t.Errorf("the node merged a push it answered with an error: %s", got)
	}
}

func TestNewCmdSync(t *testing.T) {
	tests := []struct {
		argv       []string
		want       []string
		wantOutput string
		wantErr    bool
	}{
		{argv: []string{}, want: nil, wantOutput: "table"},
		{argv: []string{"alice", "bob"}, want: []string{"alice", "bob"}, wantOutput: "table"},
		{argv: []string{"bob", "alice", "bob", "-o", "json"}, want: []string{"bob", "alice"}, wantOutput: "json"},
		{argv: []string{"--device", "x", "--node", "127.0.0.1:1", "alice"}, want: []string{"alice"}, wantOutput: "table"},
		{argv: []string{"a/b"}, wantErr: true},
		{argv: []string{"alice", ".."}, wantErr: true},
		{argv: []string{"alice", "--bogus"}, wantErr: true},
	}
	for _, tt := range tests {
		var got *syncOptions
		cmd := newCmdSync(testFactory(t), func(o *syncOptions) error { got = o; return nil })
		err := runTestCmd(t, cmd, tt.argv...)
		checkUsageError(t, tt.argv, err, tt.wantErr)
		if tt.wantErr || err != nil {
			continue
		}
		if !slices.Equal(got.Carts, tt.want) || got.Output != tt.wantOutput {
			t.Errorf("argv %q: got carts %q output %q, want %q %q", tt.argv, got.Carts, got.Output, tt.want, tt.wantOutput)
		}
	}
}

// syncFixture is a device and a node for sync tests. The device has edited alice (2 changes)
// and bob (1), and synced dave earlier; the node has alice's cheese and carol's fig from
// another device, which this one has not seen.
func syncFixture(t *testing.T) (path string, node *fakeSyncNode) {
	t.Helper()
	node = newFakeSyncNode(t)
	path = testDevicePath(t)
	withTestDevice(t, path, func(d *localDevice) error {
		return errors.Join(d.Add("dave", "egg", 6, cents(30)), d.Sync(t.Context(), node.client(t), "dave"),
			d.Add("alice", "apple", 2, cents(125)), d.Add("alice", "bread", 1, nil), d.Add("bob", "pear", 1, cents(50)))
	})
	node.otherDevice(t, func(d *device.Device) error {
		return errors.Join(d.Add("alice", "cheese", 1, cents(400)), d.Add("carol", "fig", 2, nil))
	})
	return path, node
}

// TestSyncRun: sync pushes what the device made, takes what the node had, and says so per
// cart; a cart the device does not hold is fetched.
func TestSyncRun(t *testing.T) {
	for _, m := range []struct {
		suffix string
		tty    bool
		format string
	}{{"tty", true, formatTable}, {"piped", false, formatTable}, {"json", false, formatJSON}} {
		t.Run(m.suffix, func(t *testing.T) {
			path, node := syncFixture(t)
			var out bytes.Buffer
			opts := &syncOptions{
				baseOptions: baseOptions{Out: &out, IsTTY: m.tty, Output: m.format, Client: node.clientFunc(t), Device: deviceFunc(path)},
				Carts:       []string{"alice", "bob", "carol", "dave"},
				sleep:       sleepCtx,
			}
			if err := runSync(t.Context(), opts); err != nil {
				t.Fatal(err)
			}
			assertGolden(t, "sync_"+m.suffix, out.String())
			withTestDevice(t, path, func(d *localDevice) error {
				for _, id := range []string{"alice", "bob", "carol", "dave"} {
					if got, want := compact(d.View(id)), node.view(id); got != want || d.Pending(id) != 0 {
						t.Errorf("cart %s: device has %q with %d pending, node %q; want the same and none pending",
							id, got, d.Pending(id), want)
					}
				}
				return nil
			})
		})
	}
}

// TestSyncRunAll: with no cart named, sync takes every cart the device holds, in order.
func TestSyncRunAll(t *testing.T) {
	path, node := syncFixture(t)
	var out bytes.Buffer
	opts := &syncOptions{
		baseOptions: baseOptions{Out: &out, Output: formatTable, Client: node.clientFunc(t), Device: deviceFunc(path)},
		sleep:       sleepCtx,
	}
	if err := runSync(t.Context(), opts); err != nil {
		t.Fatal(err)
	}
	if got, want := out.String(), "alice\t2\t3\ttrue\nbob\t1\t1\tfalse\ndave\t0\t1\tfalse\n"; got != want {
		t.Errorf("got:\n%s\nwant:\n%s", got, want)
	}
}

// TestSyncRunDeferred: a push the node defers (409 sync_behind) is sent again after the wait the
// node asks for, a few times, then given up with every change kept.
func TestSyncRunDeferred(t *testing.T) {
	behind := syncReply{status: 409, code: api.CodeSyncBehind, message: "this node has not yet seen changes the push builds on", retryAfter: "2"}
	silent := behind
	silent.retryAfter = ""
	tests := []struct {
		name      string
		script    []syncReply
		wantWaits []time.Duration
		wantErr   string
	}{
		{name: "passes on the third try", script: []syncReply{behind, behind},
			wantWaits: []time.Duration{2 * time.Second, 2 * time.Second}},
		{name: "no Retry-After waits a second", script: []syncReply{silent},
			wantWaits: []time.Duration{time.Second}},
		{name: "gives up", script: slices.Repeat([]syncReply{behind}, 10),
			wantWaits: slices.Repeat([]time.Duration{2 * time.Second}, maxBehindRetries),
			wantErr:   "sync cart alice: deferred 5 times: this node has not yet seen changes the push builds on (sync_behind, HTTP 409)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path, node := syncFixture(t)
			node.script(tt.script...)
			before := node.count()
			var waits []time.Duration
			var out bytes.Buffer
			opts := &syncOptions{
				baseOptions: baseOptions{Out: &out, Output: formatTable, Client: node.clientFunc(t), Device: deviceFunc(path)},
				Carts:       []string{"alice"},
				sleep:       func(_ context.Context, d time.Duration) error { waits = append(waits, d); return nil },
			}
			err := runSync(t.Context(), opts)
			if !slices.Equal(waits, tt.wantWaits) {
				t.Errorf("waited %v, want %v", waits, tt.wantWaits)
			}
			if n := node.count() - before; n != len(tt.wantWaits)+1 {
				t.Errorf("the node got %d requests, want %d", n, len(tt.wantWaits)+1)
			}
			pending := 0
			withTestDevice(t, path, func(d *localDevice) error { pending = d.Pending("alice"); return nil })
			if tt.wantErr == "" {
				if err != nil || out.String() != "alice\t2\t3\ttrue\n" || pending != 0 {
					t.Errorf("got error %v, output %q, %d pending; want success, alice pushed, none pending", err, out.String(), pending)
				}
				return
			}
			var se *syncError
			// alice's 2 changes, and bob's 1, not synced since alice's error ended the run
			if !errors.As(err, &se) || err.Error() != tt.wantErr || se.kept != 3 || pending != 2 || out.String() != "" {
				t.Errorf("got error %v, output %q, %d pending; want %q, 3 changes kept, 2 of them alice's, no output",
					err, out.String(), pending, tt.wantErr)
			}
		})
	}
}

// TestSyncRunGoesOn: a refused cart does not stop the others; an unreachable node does.
func TestSyncRunGoesOn(t *testing.T) {
	path, node := syncFixture(t)
	node.script(syncReply{status: 422, code: api.CodeSyncRefused, message: "too many lines"})
	var out bytes.Buffer
	opts := &syncOptions{
		baseOptions: baseOptions{Out: &out, Output: formatTable, Client: node.clientFunc(t), Device: deviceFunc(path)},
		sleep:       sleepCtx,
	}
	err := runSync(t.Context(), opts)
	var se *syncError
	if !errors.As(err, &se) || len(se.errs) != 1 || se.kept != 2 || se.carts != 1 {
		t.Fatalf("got %v, want alice's refusal alone, with its 2 changes kept", err)
	}
	if got, want := out.String(), "bob\t1\t1\tfalse\ndave\t0\t1\tfalse\n"; got != want {
		t.Errorf("got:\n%s\nwant the carts after the refused one:\n%s", got, want)
	}
}

// TestSyncNode syncs a device with an in-process node: what the device made offline reaches
// the node, what the node had reaches the device, and afterwards show prints the same bytes on
// both, in every format.
func TestSyncNode(t *testing.T) {
	t.Setenv(envNode, "")
	t.Setenv(envToken, "")
	t.Setenv(envDevice, testDevicePath(t))
	d, err := daemon.Start(context.Background(), daemon.Config{
		Name: "sync1", DataDir: t.TempDir(), GossipAddr: "127.0.0.1:0", APIAddr: "127.0.0.1:0",
		ClusterLabel: fmt.Sprintf("sync-test-%d", time.Now().UnixNano()), Profile: daemon.ProfileLocal,
		ShutdownTimeout: 2 * time.Second,
	})
	if err != nil {
		t.Fatalf("start node: %v", err)
	}
	t.Cleanup(func() { _ = d.Close() })
	node := "http://" + d.APIAddr()

	for _, args := range [][]string{
		{"add", "erin", "apple", "--qty", "2", "--price", "1.25"},
		{"add", "erin", "fig", "--qty", "3"},
		{"set", "erin", "apple", "5", "--price", "0.99"},
	} {
		if code, _, errOut := runMain(t, args...); code != ExitOK {
			t.Fatalf("device %q: exit %d: %s", args, code, errOut)
		}
	}
	if code, _, errOut := runMain(t, "--device", "", "--node", node, "add", "erin", "kiwi", "--price", "0.40"); code != ExitOK {
		t.Fatalf("node add: exit %d: %s", code, errOut)
	}
	code, stdout, stderr := runMain(t, "--node", node, "sync")
	if code != ExitOK || stdout != "erin\t3\t3\ttrue\n" || stderr != "" {
		t.Fatalf("sync: got %d, stdout %q, stderr %q; want erin's 3 changes pushed, the kiwi received", code, stdout, stderr)
	}
	for _, format := range outputFormats {
		_, onNode, _ := runMain(t, "--device", "", "--node", node, "-o", format, "show", "erin")
		t.Setenv(envNode, closedAddr(t))
		_, onDevice, _ := runMain(t, "-o", format, "show", "erin")
		t.Setenv(envNode, "")
		if onDevice != onNode || !strings.Contains(onNode, "kiwi") {
			t.Errorf("-o %s: device shows\n%s\nnode shows\n%s\nwant the same, with the kiwi", format, onDevice, onNode)
		}
	}
	code, stdout, _ = runMain(t, "--node", node, "sync", "erin")
	if code != ExitOK || stdout != "erin\t0\t3\tfalse\n" {
		t.Errorf("second sync: got %d, stdout %q; want erin up to date", code, stdout)
	}
}
