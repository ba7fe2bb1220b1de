package e2e

import (
	"fmt"
	"net"
	"os/exec"
	"strings"
	"testing"
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
// edits a cart through two nodes and shows it converged on all three.
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
	if strings.Contains(s, "stopped with exit status") {
		t.Fatalf("a node did not stop cleanly:\n%s", s)
	}
}
