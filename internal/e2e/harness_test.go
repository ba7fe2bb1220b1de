package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"reflect"
	"syscall"
	"testing"
	"time"

	"github.com/crdtd/crdtd/api"
	"github.com/crdtd/crdtd/client"
	"github.com/crdtd/crdtd/internal/testbin"
)

// bin holds the paths of the binaries built once for the whole package.
var bin struct {
	testbin.Binaries
	err error
}

func TestMain(m *testing.M) { os.Exit(testbin.Main(m, &bin.Binaries, &bin.err)) }

func needBinaries(t *testing.T) {
	t.Helper()
	testbin.Need(t, bin.err)
}

func freePort(t *testing.T) int { return testbin.FreePort(t) }

// agent is one real crdtd agent process.
type agent struct {
	t          *testing.T
	name       string
	dataDir    string
	apiAddr    string
	gossipAddr string
	join       []string
	extra      []string // more agent flags
	log        *bytes.Buffer
	cmd        *exec.Cmd
}

func newAgent(t *testing.T, name string, join ...string) *agent {
	t.Helper()
	return &agent{
		t:          t,
		name:       name,
		dataDir:    t.TempDir(),
		apiAddr:    fmt.Sprintf("127.0.0.1:%d", freePort(t)),
		gossipAddr: fmt.Sprintf("127.0.0.1:%d", freePort(t)),
		join:       join,
	}
}

// start launches the agent and waits until its API answers.
func (a *agent) start() {
	a.t.Helper()
	args := []string{"agent", "--name", a.name, "--data-dir", a.dataDir, "--api-addr", a.apiAddr,
		"--gossip-addr", a.gossipAddr, "--profile", "local", "--cluster-label", "e2e", "--log-level", "debug",
		"--cache-size", "1"} // every saved cart leaves memory: crashes land on carts read back from disk
	for _, j := range a.join {
		args = append(args, "--join", j)
	}
	args = append(args, a.extra...)
	a.log = &bytes.Buffer{}
	a.cmd = exec.Command(bin.Crdtd, args...)
	a.cmd.Stdout = a.log
	a.cmd.Stderr = a.log
	if err := a.cmd.Start(); err != nil {
		a.t.Fatalf("start %s: %v", a.name, err)
	}
	a.t.Cleanup(a.kill)
	testbin.WaitFor(a.t, 20*time.Second, a.name+" to serve", func() bool {
		resp, err := http.Get("http://" + a.apiAddr + "/healthz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == 200
	})
}

// kill stops the agent with SIGKILL: no chance to flush anything.
func (a *agent) kill() {
	if a.cmd == nil || a.cmd.Process == nil {
		return
	}
	a.cmd.Process.Signal(syscall.SIGKILL)
	a.cmd.Wait()
	a.cmd = nil
}

// stop stops the agent with SIGTERM and checks it exits cleanly.
func (a *agent) stop() {
	a.t.Helper()
	a.cmd.Process.Signal(syscall.SIGTERM)
	err := a.cmd.Wait()
	a.cmd = nil
	if err != nil {
		a.t.Fatalf("%s exited with %v after SIGTERM; log:\n%s", a.name, err, a.log)
	}
}

func (a *agent) client() *client.Client {
	a.t.Helper()
	c, err := client.New(client.Config{BaseURL: "http://" + a.apiAddr})
	if err != nil {
		a.t.Fatal(err)
	}
	return c
}

func (a *agent) cart(id string) api.CartView {
	a.t.Helper()
	v, err := a.client().GetCart(context.Background(), id)
	if err != nil {
		a.t.Fatalf("get cart %s from %s: %v", id, a.name, err)
	}
	return v
}

// cartctl runs the real cartctl and returns stdout, stderr and exit code.
func cartctl(t *testing.T, args ...string) (string, string, int) {
	t.Helper()
	var out, errb bytes.Buffer
	cmd := exec.Command(bin.Cartctl, args...)
	cmd.Stdout, cmd.Stderr = &out, &errb
	cmd.Env = append(os.Environ(), "CARTCTL_NODE=")
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("run cartctl %v: %v", args, err)
	}
	return out.String(), errb.String(), code
}

func cartctlJSON[T any](t *testing.T, args ...string) T {
	t.Helper()
	out, errOut, code := cartctl(t, append(args, "-o", "json")...)
	if code != 0 {
		t.Fatalf("cartctl %v: exit %d: %s", args, code, errOut)
	}
	var v T
	if err := json.Unmarshal([]byte(out), &v); err != nil {
		t.Fatalf("cartctl %v: output %q is not JSON: %v", args, out, err)
	}
	return v
}

func sameItems(a, b []api.Line) bool { return reflect.DeepEqual(a, b) }
