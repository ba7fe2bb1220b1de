package e2e

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"
)

// consecutiveFreePorts returns a base port such that base..base+n-1 are
// free for TCP and UDP on 127.0.0.1.
func consecutiveFreePorts(t *testing.T, n int) int {
	t.Helper()
search:
	for range 50 {
		base := freePort(t)
		if base+n > 65535 {
			continue
		}
		for p := base; p < base+n; p++ {
			l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", p))
			if err != nil {
				continue search
			}
			u, err := net.ListenPacket("udp", fmt.Sprintf("127.0.0.1:%d", p))
			l.Close()
			if err != nil {
				continue search
			}
			u.Close()
		}
		return base
	}
	t.Fatal("no run of free ports")
	return 0
}

// TestQuickstartScript runs the README's main command, scripts/quickstart.sh,
// with the binaries built for this package: it starts a 3-node cluster,
// edits a cart through two nodes, shows it converged on all three and
// node3's digest agreeing with both peers'.
func TestQuickstartScript(t *testing.T) {
	needBinaries(t)
	cmd := exec.Command("../../scripts/quickstart.sh")
	cmd.Env = append(cmd.Environ(),
		"CRDTD_BIN="+bin.Dir,
		fmt.Sprintf("CRDTD_BASE_API_PORT=%d", consecutiveFreePorts(t, 3)),
		fmt.Sprintf("CRDTD_BASE_GOSSIP_PORT=%d", consecutiveFreePorts(t, 3)),
	)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("quickstart failed: %v\n%s", err, out)
	}
	s := string(out)
	if !strings.Contains(s, "converged: all 3 nodes show the same cart") {
		t.Fatalf("quickstart did not report convergence:\n%s", s)
	}
	// The final cart, shown by each of the three nodes (piped: tab-separated).
	want := "apple\t5\t1.25\t6.25\nmilk\t1\t0.99\t0.99\n"
	if n := strings.Count(s, want); n < 3 {
		t.Fatalf("converged cart shown by %d nodes, want 3:\n%s", n, s)
	}
	// node3's status: both peers' digests, received after the cart
	// converged, agree with node3's.
	if n := len(regexp.MustCompile(`(?m)^peer\tnode[12]\talive\ttrue\t`).FindAllString(s, -1)); n != 2 {
		t.Fatalf("%d peers alive with digests agreeing in node3's status, want 2:\n%s", n, s)
	}
	if strings.Contains(s, "stopped with exit status") {
		t.Fatalf("a node did not stop cleanly:\n%s", s)
	}
}

// TestQuickstartPortTaken runs the quickstart with node1's API port taken by another program:
// crdtd cluster refuses at once, and the script must fail within seconds with the cluster's
// message, keep its directory and say where, instead of polling for minutes and deleting it.
func TestQuickstartPortTaken(t *testing.T) {
	needBinaries(t)
	api := consecutiveFreePorts(t, 3)
	ln, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", api))
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close() // accepts connections and never answers, like a stuck program
	tmp := t.TempDir()

	// A generous bound, so that a regression fails here instead of hanging the suite.
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "../../scripts/quickstart.sh")
	cmd.WaitDelay = 5 * time.Second
	cmd.Env = append(cmd.Environ(),
		"CRDTD_BIN="+bin.Dir,
		"TMPDIR="+tmp,
		fmt.Sprintf("CRDTD_BASE_API_PORT=%d", api),
		fmt.Sprintf("CRDTD_BASE_GOSSIP_PORT=%d", consecutiveFreePorts(t, 3)),
	)
	start := time.Now()
	out, err := cmd.CombinedOutput()
	elapsed := time.Since(start)
	s := string(out)
	if err == nil {
		t.Fatalf("quickstart succeeded with node1's API port taken:\n%s", s)
	}
	if elapsed > 10*time.Second {
		t.Errorf("quickstart took %v to fail, want a few seconds:\n%s", elapsed.Round(time.Millisecond), s)
	}
	want := fmt.Sprintf("Error: API port of node1 is not free: listen tcp 127.0.0.1:%d: bind: address already in use", api)
	if !strings.Contains(s, want) || !strings.Contains(s, "crdtd cluster exited with status 1") {
		t.Errorf("quickstart output:\n%s\nwant the cluster's message %q and its exit status", s, want)
	}
	m := regexp.MustCompile(`quickstart failed; logs kept in (\S+)`).FindStringSubmatch(s)
	if m == nil {
		t.Fatalf("quickstart output:\n%s\nwant it to say where the logs are kept", s)
	}
	if fi, err := os.Stat(m[1]); err != nil || !fi.IsDir() || !strings.HasPrefix(m[1], tmp) {
		t.Errorf("logs said to be kept in %s, under %s: stat %v", m[1], tmp, err)
	}
}
