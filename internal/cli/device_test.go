package cli

import (
	"bytes"
	"context"
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/crdtd/crdtd/client"
	"github.com/crdtd/crdtd/device"
)

// noNode is a factory Client function that fails the test: a command on a device must not
// reach for a node.
func noNode(t *testing.T) func() (*client.Client, error) {
	return func() (*client.Client, error) {
		t.Error("a command on a device reached for the node")
		return nil, errors.New("no node in this test")
	}
}

// runDeviceModes is runModes on a device: it runs run once per output mode against a fresh
// device holding the fake node's carts, and compares the output with testdata/<golden>_*.golden,
// the files of the node-backed commands, so a cart prints the same whichever replica holds it.
func runDeviceModes(t *testing.T, golden string, run func(base baseOptions) error) {
	t.Helper()
	for _, m := range []struct {
		suffix string
		tty    bool
		format string
	}{{"tty", true, formatTable}, {"piped", false, formatTable}, {"json", false, formatJSON}} {
		t.Run(m.suffix, func(t *testing.T) {
			path := testDevicePath(t)
			seedDevice(t, path)
			var out bytes.Buffer
			base := baseOptions{Out: &out, IsTTY: m.tty, Output: m.format, Client: noNode(t), Device: deviceFunc(path)}
			if err := run(base); err != nil {
				t.Fatalf("run: %v", err)
			}
			assertGolden(t, golden+"_"+m.suffix, out.String())
		})
	}
}

// TestDeviceRunPrintsAsNode runs every cart command on a device holding what the fake node
// holds, and requires the node-backed commands' golden output, byte for byte.
func TestDeviceRunPrintsAsNode(t *testing.T) {
	tests := []struct {
		golden string
		run    func(ctx context.Context, base baseOptions) error
	}{
		{"add", func(ctx context.Context, base baseOptions) error {
			return runAdd(ctx, &addOptions{baseOptions: base, Cart: "alice", Item: "cherry", Qty: quantityFlag{N: 12},
				Price: priceFlag{Cents: 5, Given: true}})
		}},
		{"add_keep_price", func(ctx context.Context, base baseOptions) error {
			return runAdd(ctx, &addOptions{baseOptions: base, Cart: "alice", Item: "apple", Qty: quantityFlag{N: 1}})
		}},
		{"set", func(ctx context.Context, base baseOptions) error {
			return runSet(ctx, &setOptions{baseOptions: base, Cart: "alice", Item: "bread", Qty: 3,
				Price: priceFlag{Cents: 275, Given: true}})
		}},
		{"remove", func(ctx context.Context, base baseOptions) error {
			return runRemove(ctx, &removeOptions{baseOptions: base, Cart: "alice", Item: "apple"})
		}},
		{"clear", func(ctx context.Context, base baseOptions) error {
			return runClear(ctx, &clearOptions{baseOptions: base, Cart: "alice"})
		}},
		{"show", func(ctx context.Context, base baseOptions) error {
			return runShow(ctx, &showOptions{baseOptions: base, Cart: "alice"})
		}},
		{"show_unpriced", func(ctx context.Context, base baseOptions) error {
			return runShow(ctx, &showOptions{baseOptions: base, Cart: "carol"})
		}},
		{"show_empty", func(ctx context.Context, base baseOptions) error {
			return runShow(ctx, &showOptions{baseOptions: base, Cart: "nobody"})
		}},
		{"list", func(ctx context.Context, base baseOptions) error {
			return runList(ctx, &listOptions{baseOptions: base})
		}},
	}
	for _, tt := range tests {
		t.Run(tt.golden, func(t *testing.T) {
			runDeviceModes(t, tt.golden, func(base baseOptions) error { return tt.run(t.Context(), base) })
		})
	}
}

// TestDeviceShowPending: on a terminal, show on a device says how many changes wait for a sync;
// piped and JSON output keep the API's shape.
func TestDeviceShowPending(t *testing.T) {
	for _, m := range []struct {
		suffix string
		tty    bool
		format string
	}{{"tty", true, formatTable}, {"piped", false, formatTable}, {"json", false, formatJSON}} {
		t.Run(m.suffix, func(t *testing.T) {
			path := testDevicePath(t)
			seedDevice(t, path)
			withTestDevice(t, path, func(d *localDevice) error {
				return errors.Join(d.Add("alice", "apple", 1, nil), d.Remove("alice", "bread"))
			})
			var out bytes.Buffer
			base := baseOptions{Out: &out, IsTTY: m.tty, Output: m.format, Client: noNode(t), Device: deviceFunc(path)}
			if err := runShow(t.Context(), &showOptions{baseOptions: base, Cart: "alice"}); err != nil {
				t.Fatal(err)
			}
			assertGolden(t, "show_device_pending_"+m.suffix, out.String())
		})
	}
}

// TestDeviceFile: the first command creates the state file, readable by its owner only, and
// the device keeps its ID and edits across commands; a second process cannot open a device in
// use; a damaged file is an error, left as it is, never a fresh start.
func TestDeviceFile(t *testing.T) {
	t.Setenv(envNode, closedAddr(t)) // nothing listens: a device command must not need it
	t.Setenv(envToken, "")
	t.Setenv(envDevice, "")
	path := testDevicePath(t)
	code, stdout, stderr := runMain(t, "--device", path, "add", "alice", "apple", "--qty", "2", "--price", "1.25")
	if code != ExitOK || stdout != "apple\t2\t1.25\t2.50\n" || stderr != "" {
		t.Fatalf("first add: got %d, stdout %q, stderr %q; want 0 and the cart", code, stdout, stderr)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if mode := fi.Mode().Perm(); mode != 0o600 {
		t.Errorf("state file mode %v, want 0600", mode)
	}
	var id string
	withTestDevice(t, path, func(d *localDevice) error { id = string(d.ID()); return nil })
	code, stdout, _ = runMain(t, "--device", path, "add", "alice", "apple")
	if code != ExitOK || stdout != "apple\t3\t1.25\t3.75\n" {
		t.Errorf("second add: got %d, stdout %q; want the 3 apples", code, stdout)
	}
	withTestDevice(t, path, func(d *localDevice) error {
		if string(d.ID()) != id || d.Pending("alice") != 2 {
			t.Errorf("got device %s with %d pending, want %s with 2", d.ID(), d.Pending("alice"), id)
		}
		return nil
	})

	held, err := device.NewFileStorage(path)
	if err != nil {
		t.Fatal(err)
	}
	code, stdout, stderr = runMain(t, "--device", path, "show", "alice")
	held.Close()
	if code != ExitFailure || stdout != "" || !strings.Contains(stderr, "device state in use") {
		t.Errorf("device in use: got %d, stdout %q, stderr %q; want 1 and a message saying it is in use", code, stdout, stderr)
	}

	bad := testDevicePath(t)
	if err := os.WriteFile(bad, []byte("not a device"), 0o600); err != nil {
		t.Fatal(err)
	}
	code, _, stderr = runMain(t, "--device", bad, "add", "alice", "apple")
	if code != ExitFailure || !strings.Contains(stderr, "corrupt device state") || !strings.Contains(stderr, "never starts a device over") {
		t.Errorf("damaged file: got %d, stderr %q; want 1 and a message saying it is damaged", code, stderr)
	}
	if b, _ := os.ReadFile(bad); string(b) != "not a device" {
		t.Errorf("damaged file was rewritten to %q", b)
	}
}

// TestMainDevice covers --device and $CARTCTL_DEVICE through Main: which device is used, exit
// codes, and that no node is contacted.
func TestMainDevice(t *testing.T) {
	t.Setenv(envNode, closedAddr(t))
	t.Setenv(envToken, "")
	fromEnv, fromFlag := testDevicePath(t), testDevicePath(t)
	t.Setenv(envDevice, fromEnv)

	code, stdout, stderr := runMain(t, "add", "alice", "apple", "--price", "0.5")
	if code != ExitOK || stdout != "apple\t1\t0.50\t0.50\n" {
		t.Fatalf("add with $%s: got %d, stdout %q, stderr %q", envDevice, code, stdout, stderr)
	}
	code, stdout, _ = runMain(t, "--device", fromFlag, "set", "bob", "pear", "4")
	if code != ExitOK || stdout != "pear\t4\t-\t-\n" {
		t.Fatalf("set with --device: got %d, stdout %q", code, stdout)
	}
	code, stdout, _ = runMain(t, "list")
	if code != ExitOK || stdout != "alice\n" {
		t.Errorf("list with $%s: got %d, stdout %q; want alice only (--device wins over the environment)", envDevice, code, stdout)
	}
	code, stdout, _ = runMain(t, "--device", fromFlag, "list")
	if code != ExitOK || stdout != "bob\n" {
		t.Errorf("list with --device: got %d, stdout %q; want bob", code, stdout)
	}
	code, stdout, _ = runMain(t, "--device", "", "--timeout", "100ms", "list")
	if code != ExitUnreachable || stdout != "" {
		t.Errorf(`--device "" list: got %d, stdout %q; want the node (unreachable here), not $%s's device`, code, stdout, envDevice)
	}
	code, stdout, _ = runMain(t, "clear", "alice")
	if code != ExitOK || stdout != "" {
		t.Errorf("clear: got %d, stdout %q; want 0 and an empty cart", code, stdout)
	}
	code, stdout, _ = runMain(t, "list")
	if code != ExitOK || stdout != "" {
		t.Errorf("list after clear: got %d, stdout %q; want no carts with lines", code, stdout)
	}
	code, stdout, stderr = runMain(t, "set", "alice", "apple", "0", "--price", "1")
	if code != ExitFailure || stdout != "" || !strings.Contains(stderr, "quantity 0 removes the line") {
		t.Errorf("set 0 with a price: got %d, stdout %q, stderr %q; want 1, as a node refuses it", code, stdout, stderr)
	}

}
