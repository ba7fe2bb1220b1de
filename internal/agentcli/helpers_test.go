package agentcli

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/spf13/cobra"

	"github.com/crdtd/crdtd/internal/daemon"
)

// fakeAgentEnv switches the test binary into "crdtd": TestMain then runs the real command line,
// with fakeDaemon in place of daemon.Run when the variable is "1", or with daemon.Run itself when
// it is "real". The cluster tests start it as their agent processes.
const fakeAgentEnv = "AGENTCLI_FAKE_AGENT"

// fakeModeEnv returns the variable that selects the behaviour of the fake agent named name:
// "fail" (exit 1 at once), "hang" (never serve), "stubborn" (serve, ignore SIGTERM) or
// "fail-restart" (serve when first started, exit 1 at once when started again on the same data
// directory). Unset, it serves GET /healthz until stopped and exits 1 on GET /crash.
func fakeModeEnv(name string) string { return "AGENTCLI_FAKE_" + strings.ToUpper(name) }

func TestMain(m *testing.M) {
	if mode := os.Getenv(fakeAgentEnv); mode != "" {
		runDaemon := fakeDaemon
		if mode == "real" {
			runDaemon = daemon.Run
		}
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		code := run(ctx, os.Args[1:], &factory{Out: os.Stdout, ErrOut: os.Stderr, RunDaemon: runDaemon, LookupEnv: os.LookupEnv})
		stop()
		os.Exit(int(code))
	}
	os.Exit(m.Run())
}

// fakeDaemon stands in for daemon.Run in a fake agent process. It records its pid and config in
// the data directory for the test to check.
func fakeDaemon(ctx context.Context, cfg daemon.Config) error {
	mode := os.Getenv(fakeModeEnv(cfg.Name))
	if _, err := os.Stat(filepath.Join(cfg.DataDir, "fake")); err == nil && mode == "fail-restart" {
		return errors.New("fake agent: cannot start again")
	}
	record := fmt.Sprintf("pid=%d\nname=%s\napi=%s\ngossip=%s\njoin=%s\nprofile=%s\nkey=%d\n",
		os.Getpid(), cfg.Name, cfg.APIAddr, cfg.GossipAddr, strings.Join(cfg.Join, ","), cfg.Profile, len(cfg.GossipKey))
	if err := os.WriteFile(filepath.Join(cfg.DataDir, "fake"), []byte(record), 0o600); err != nil {
		return err
	}
	switch mode {
	case "fail":
		return errors.New("fake agent: boom")
	case "hang":
		<-ctx.Done()
		return nil
	}
	ln, err := net.Listen("tcp", cfg.APIAddr)
	if err != nil {
		return err
	}
	crashed := make(chan struct{})
	var once sync.Once
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		_, _ = io.WriteString(w, `{"status":"ok"}`)
	})
	mux.HandleFunc("GET /crash", func(http.ResponseWriter, *http.Request) {
		once.Do(func() { close(crashed) })
	})
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: time.Second}
	go func() { _ = srv.Serve(ln) }()
	if mode == "stubborn" {
		select {} // ignores SIGTERM: the cluster has to kill it
	}
	select {
	case <-ctx.Done():
		return srv.Close()
	case <-crashed:
		return errors.New("fake agent: crashed on request")
	}
}

// fakeAgents starts the test binary as agents and remembers the processes.
type fakeAgents struct {
	env  []string // added to the agents' environment; fakeAgentEnv=real there runs daemon.Run
	mu   sync.Mutex
	cmds []*exec.Cmd
}

// command is a commandFunc that starts a fake agent with a.env added to its environment.
func (a *fakeAgents) command(ctx context.Context, args []string) (*exec.Cmd, error) {
	cmd := exec.CommandContext(ctx, os.Args[0], args...)
	cmd.Env = append(append(os.Environ(), fakeAgentEnv+"=1"), a.env...) // a later entry wins
	a.mu.Lock()
	defer a.mu.Unlock()
	a.cmds = append(a.cmds, cmd)
	return cmd, nil
}

// process returns the latest process started for the node named name. Call it only when that
// process has surely started (the cluster printed its table, or reported the restart).
func (a *fakeAgents) process(t *testing.T, name string) *os.Process {
	t.Helper()
	a.mu.Lock()
	defer a.mu.Unlock()
	for i := len(a.cmds) - 1; i >= 0; i-- {
		if cmd := a.cmds[i]; slices.Contains(cmd.Args, name) && cmd.Process != nil {
			return cmd.Process
		}
	}
	t.Fatalf("no process started for %s", name)
	return nil
}

// checkAllGone fails the test unless every fake agent started has been waited for: the command
// must reap its children before it returns. Call it after the command returned.
func (a *fakeAgents) checkAllGone(t *testing.T) {
	t.Helper()
	a.mu.Lock()
	defer a.mu.Unlock()
	if len(a.cmds) == 0 {
		t.Error("no fake agent was started")
	}
	for _, cmd := range a.cmds {
		if cmd.Process != nil && cmd.ProcessState == nil {
			t.Errorf("agent %q (pid %d) was not waited for", cmd.Args, cmd.Process.Pid)
		}
	}
}

// freePortRange returns a base port such that the n ports from it are free on loopback for TCP
// and UDP, avoiding the ports in exclude.
func freePortRange(t *testing.T, n int, exclude ...int) int {
	t.Helper()
next:
	for range 100 {
		base := 20000 + rand.IntN(30000)
		for _, e := range exclude {
			if e >= base && e < base+n {
				continue next
			}
		}
		for p := base; p < base+n; p++ {
			addr := fmt.Sprintf("127.0.0.1:%d", p)
			if probe("tcp", addr) != nil || probe("udp", addr) != nil {
				continue next
			}
		}
		return base
	}
	t.Fatalf("no %d free consecutive ports found", n)
	return 0
}

// testFactory returns a factory with buffers, a RunDaemon and an AgentCommand that fail the test
// if they are reached.
func testFactory(t *testing.T) *factory {
	t.Helper()
	return &factory{
		Out:    &bytes.Buffer{},
		ErrOut: &bytes.Buffer{},
		RunDaemon: func(context.Context, daemon.Config) error {
			t.Error("RunDaemon called")
			return nil
		},
		AgentCommand: func(context.Context, []string) (*exec.Cmd, error) {
			t.Error("AgentCommand called")
			return nil, errors.New("no agents in this test")
		},
	}
}

// runTestCmd runs cmd under a bare root, as crdtd would, with argv after the command's name.
func runTestCmd(t *testing.T, cmd *cobra.Command, argv ...string) error {
	t.Helper()
	root := newRootCmd()
	root.AddCommand(cmd)
	root.SetArgs(append([]string{cmd.Name()}, argv...))
	root.SetOut(&bytes.Buffer{})
	root.SetErr(&bytes.Buffer{})
	_, err := root.ExecuteContextC(t.Context())
	return err
}

// checkUsageError fails the test unless err is a usage error (or nil is wanted).
func checkUsageError(t *testing.T, argv []string, err error, wantErr bool) {
	t.Helper()
	var fe *FlagError
	switch {
	case wantErr && !errors.As(err, &fe):
		t.Errorf("argv %q: got error %v, want a *FlagError", argv, err)
	case !wantErr && err != nil:
		t.Errorf("argv %q: got error %v, want nil", argv, err)
	}
}

// writeFile writes content to a new file in dir with mode 0600 and returns its path.
func writeFile(t *testing.T, dir, name, content string) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}
