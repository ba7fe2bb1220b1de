// Package testbin serves the process-level tests (internal/e2e,
// internal/faults) and the others' common needs: it builds this module's
// binaries once per test package, finds free loopback ports, waits for a
// condition to a deadline, copies data directories and collects output
// written by many goroutines. It is not imported by production code.
package testbin

import (
	"flag"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// Binaries are the paths of the built commands.
type Binaries struct {
	Dir     string // temporary directory holding them; remove it when done
	Crdtd   string
	Cartctl string
}

// Build compiles cmd/crdtd and cmd/cartctl into a fresh temporary directory.
// Compiler output goes to stderr.
func Build() (Binaries, error) {
	dir, err := os.MkdirTemp("", "crdtd-test-bin")
	if err != nil {
		return Binaries{}, err
	}
	cmd := exec.Command("go", "build", "-o", dir, "github.com/crdtd/crdtd/cmd/crdtd", "github.com/crdtd/crdtd/cmd/cartctl")
	cmd.Stderr = os.Stderr
	if err := cmd.Run(); err != nil {
		os.RemoveAll(dir)
		return Binaries{}, fmt.Errorf("go build: %w", err)
	}
	return Binaries{Dir: dir, Crdtd: filepath.Join(dir, "crdtd"), Cartctl: filepath.Join(dir, "cartctl")}, nil
}

// FreePort returns a port free on 127.0.0.1 for both TCP and UDP (gossip
// uses both), and never one it returned before in this process: the kernel
// may hand a closed port out again, and a test that asks for all its
// nodes' ports before starting them would then give one port to two of
// them.
func FreePort(t testing.TB) int {
	t.Helper()
	for range 50 {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		port := l.Addr().(*net.TCPAddr).Port
		u, err := net.ListenPacket("udp", fmt.Sprintf("127.0.0.1:%d", port))
		l.Close()
		if err != nil {
			continue
		}
		u.Close()
		portsMu.Lock()
		fresh := !portsGiven[port]
		portsGiven[port] = true
		portsMu.Unlock()
		if fresh {
			return port
		}
	}
	t.Fatal("no free port")
	return 0
}

// portsGiven holds the ports FreePort returned, guarded by portsMu.
var (
	portsMu    sync.Mutex
	portsGiven = map[int]bool{}
)

// WaitFor polls cond every 20 ms until it holds, failing the test when
// timeout passes first. Tests wait this way, never by sleeping.
func WaitFor(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Main is the body of a process-level test package's TestMain: it parses
// flags, builds the binaries into *b unless -short (recording a build
// failure in *buildErr for the tests to report), runs the tests, removes
// the binaries and returns the exit code for os.Exit.
func Main(m *testing.M, b *Binaries, buildErr *error) int {
	flag.Parse()
	if !testing.Short() {
		*b, *buildErr = Build()
	}
	code := m.Run()
	if b.Dir != "" {
		os.RemoveAll(b.Dir)
	}
	return code
}

// Need starts a process-level test: it skips the test under -short, where
// Main built nothing, and fails it if the build Main attempted failed.
func Need(t testing.TB, buildErr error) {
	t.Helper()
	if testing.Short() {
		t.Skip("process-level test; skipped with -short")
	}
	if buildErr != nil {
		t.Fatalf("build binaries: %v", buildErr)
	}
}
