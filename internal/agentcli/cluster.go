package agentcli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/crdtd/crdtd/internal/cmdutil"
	"github.com/crdtd/crdtd/internal/daemon"
)

// Defaults and limits of "crdtd cluster".
const (
	defaultClusterNodes   = 3
	maxClusterNodes       = 50
	defaultClusterDir     = "./crdtd-cluster"
	defaultBaseAPIPort    = 7070
	defaultBaseGossipPort = 7946
	clusterHost           = "127.0.0.1"

	// defaultReadyTimeout bounds the wait for every node's /healthz: a node opens its store,
	// binds two ports and joins node1, all local; 30 s leaves room for a loaded laptop.
	defaultReadyTimeout = 30 * time.Second
	// defaultStopTimeout is how long a node gets to leave and drain after SIGTERM before it is
	// killed. The agent's own shutdown is bounded by daemon.DefaultShutdownTimeout (5 s).
	defaultStopTimeout = 10 * time.Second
	readyPollInterval  = 100 * time.Millisecond
	healthTimeout      = time.Second // per /healthz attempt
	logTailLines       = 10          // lines of a failed node's log shown on stderr

	// A node that exits while the cluster runs is restarted after defaultRestartBackoff, doubled
	// for each restart it already had within defaultRestartWindow, up to maxRestartBackoff: a
	// node killed once is back at once, one that keeps failing does not spin. After
	// defaultMaxRestarts restarts within the window the cluster gives up on it, since something
	// (its disk, its port) needs a person.
	defaultRestartBackoff = 500 * time.Millisecond
	maxRestartBackoff     = 10 * time.Second
	defaultMaxRestarts    = 5
	defaultRestartWindow  = time.Minute
)

// commandFunc returns the command that runs this program with args (the first being "agent").
// The command must come from exec.CommandContext(ctx, ...) and not be started: the cluster sets
// its output, Cancel and WaitDelay, then starts it. Tests substitute a fake agent.
type commandFunc func(ctx context.Context, args []string) (*exec.Cmd, error)

// selfAgentCommand runs the executable of the current process: crdtd.
func selfAgentCommand(ctx context.Context, args []string) (*exec.Cmd, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("find the crdtd executable: %v", err)
	}
	return exec.CommandContext(ctx, exe, args...), nil
}

type clusterOptions struct {
	Out     io.Writer
	ErrOut  io.Writer
	IsTTY   bool
	Command commandFunc

	Nodes          int
	DataDir        string
	BaseAPIPort    int
	BaseGossipPort int
	Profile        string
	GossipKeyFile  string
	LogLevel       string

	ReadyTimeout   time.Duration // not a flag: tests shorten it
	StopTimeout    time.Duration // not a flag: tests shorten it
	RestartBackoff time.Duration // not a flag: tests shorten it
	MaxRestarts    int           // not a flag: tests lower it
	RestartWindow  time.Duration // not a flag
}

func newCmdCluster(f *factory, runF func(*clusterOptions) error) *cobra.Command {
	opts := &clusterOptions{
		Out:            f.Out,
		ErrOut:         f.ErrOut,
		IsTTY:          f.IsTTY,
		Command:        f.AgentCommand,
		ReadyTimeout:   defaultReadyTimeout,
		StopTimeout:    defaultStopTimeout,
		RestartBackoff: defaultRestartBackoff,
		MaxRestarts:    defaultMaxRestarts,
		RestartWindow:  defaultRestartWindow,
	}
	cmd := &cobra.Command{
		Use:   "cluster",
		Short: "Run a local cluster of crdtd nodes",
		Long: `Start --nodes agent processes on 127.0.0.1, wait until each serves its API,
print their addresses and keep running until Ctrl-C (SIGINT) or SIGTERM, which
stops every node.

Node K is named nodeK, serves its API on port --base-api-port+K-1 and gossips on
--base-gossip-port+K-1; it keeps its data in DIR/nodeK and its log in
DIR/nodeK.log, so a restarted cluster keeps its carts. Every node joins node1.

A node that exits while the cluster runs is reported on stderr with its exit
status and the command that restarts it by hand, and is restarted after a
pause that doubles with each restart; after 5 restarts within a minute the
cluster gives up on it and says so. The others keep running. The nodes inherit
the environment, so CRDTD_* variables set the agent flags the cluster does not
pass itself (such as --log-format).`,
		Example: `  crdtd cluster
  crdtd cluster --nodes 5 --data-dir /tmp/carts --base-api-port 8080 --base-gossip-port 8946
  cartctl --node http://127.0.0.1:7071 show alice`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := opts.validate(); err != nil {
				return err
			}
			if runF != nil {
				return runF(opts)
			}
			return runCluster(cmd.Context(), opts)
		},
	}
	fs := cmd.Flags()
	fs.SortFlags = false
	fs.IntVarP(&opts.Nodes, "nodes", "n", defaultClusterNodes, fmt.Sprintf("number of nodes, 1..%d", maxClusterNodes))
	fs.StringVar(&opts.DataDir, "data-dir", defaultClusterDir, "directory of the nodes' data directories and logs")
	fs.IntVar(&opts.BaseAPIPort, "base-api-port", defaultBaseAPIPort, "API port of node1; node K uses this plus K-1")
	fs.IntVar(&opts.BaseGossipPort, "base-gossip-port", defaultBaseGossipPort, "gossip port of node1; node K uses this plus K-1")
	cmdutil.StringEnumFlag(cmd, fs, &opts.Profile, "profile", "", string(daemon.ProfileLocal), profiles, "gossip timing")
	fs.StringVar(&opts.GossipKeyFile, "gossip-key-file", "", "file holding the base64 gossip key every node uses (see crdtd keygen)")
	cmdutil.StringEnumFlag(cmd, fs, &opts.LogLevel, "log-level", "", defaultLogLevel, logLevels, "least severe level the nodes log")
	return cmd
}

// validate checks the flags that need no I/O.
func (o *clusterOptions) validate() error {
	if o.Nodes < 1 || o.Nodes > maxClusterNodes {
		return flagErrorf("--nodes %d out of range 1..%d", o.Nodes, maxClusterNodes)
	}
	if o.DataDir == "" {
		return flagErrorf("--data-dir must not be empty")
	}
	for _, p := range []struct {
		flag string
		base int
	}{{"--base-api-port", o.BaseAPIPort}, {"--base-gossip-port", o.BaseGossipPort}} {
		if last := p.base + o.Nodes - 1; p.base < 1 || last > 65535 {
			return flagErrorf("%s %d: ports %d..%d are out of range 1..65535", p.flag, p.base, p.base, last)
		}
	}
	if o.BaseAPIPort < o.BaseGossipPort+o.Nodes && o.BaseGossipPort < o.BaseAPIPort+o.Nodes {
		return flagErrorf("API ports %d..%d overlap gossip ports %d..%d: move --base-api-port or --base-gossip-port",
			o.BaseAPIPort, o.BaseAPIPort+o.Nodes-1, o.BaseGossipPort, o.BaseGossipPort+o.Nodes-1)
	}
	return nil
}

// clusterNode is one agent process of the cluster.
type clusterNode struct {
	Name       string
	APIAddr    string
	GossipAddr string
	DataDir    string
	LogPath    string

	args []string // of "crdtd agent"

	cmd       *exec.Cmd   // set once started; its ProcessState once received from cluster.exits
	restarts  []time.Time // when the node was restarted, within the restart window
	restartAt time.Time   // when it is due to restart; zero when no restart is pending
}

// cluster supervises the agent processes. It is used by one goroutine; the only other goroutines
// are one per process, waiting for it and then sending it on exits.
type cluster struct {
	opts    *clusterOptions
	nodes   []*clusterNode
	exits   chan *clusterNode // buffered for every node: the waiters never block
	running int               // started and not yet received from exits
	cancel  context.CancelFunc
}

func runCluster(ctx context.Context, opts *clusterOptions) error {
	dir, err := filepath.Abs(opts.DataDir)
	if err != nil {
		return fmt.Errorf("data directory %s: %v", opts.DataDir, err)
	}
	var keyFile string
	if opts.GossipKeyFile != "" {
		// Check the key here: one clear usage error instead of every node failing alike.
		if keyFile, err = filepath.Abs(opts.GossipKeyFile); err != nil {
			return flagErrorf("--gossip-key-file: %v", err)
		}
		if _, _, err := readGossipKeys(keyFile, slog.New(slog.DiscardHandler)); err != nil {
			return err
		}
	}
	nodes := planCluster(opts, dir)
	if err := probePorts(nodes); err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("create cluster directory: %v", err)
	}

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	c := &cluster{opts: opts, nodes: nodes, exits: make(chan *clusterNode, len(nodes)), cancel: cancel}
	for _, n := range nodes {
		n.args = c.agentArgs(n, keyFile)
	}
	fmt.Fprintf(opts.ErrOut, "Starting %d nodes in %s ...\n", len(nodes), dir)
	for _, n := range nodes {
		if err := c.start(ctx, n); err != nil {
			c.stop()
			return err
		}
	}
	if err := c.waitReady(ctx); err != nil {
		c.stop()
		return err
	}
	if ctx.Err() != nil { // interrupted while starting
		c.stop()
		return nil
	}
	if err := c.printTable(); err != nil {
		c.stop()
		return err
	}
	fmt.Fprintf(opts.ErrOut, "try: cartctl --node http://%s add alice apple --qty 2\n", nodes[0].APIAddr)
	fmt.Fprintln(opts.ErrOut, "Press Ctrl-C to stop every node.")
	return c.supervise(ctx)
}

// planCluster returns the nodes of the cluster, not yet started.
func planCluster(opts *clusterOptions, dir string) []*clusterNode {
	nodes := make([]*clusterNode, opts.Nodes)
	for i := range nodes {
		name := "node" + strconv.Itoa(i+1)
		nodes[i] = &clusterNode{
			Name:       name,
			APIAddr:    net.JoinHostPort(clusterHost, strconv.Itoa(opts.BaseAPIPort+i)),
			GossipAddr: net.JoinHostPort(clusterHost, strconv.Itoa(opts.BaseGossipPort+i)),
			DataDir:    filepath.Join(dir, name),
			LogPath:    filepath.Join(dir, name+".log"),
		}
	}
	return nodes
}

// probePorts checks that every port of the cluster is free, so that a port in use is one clear
// error instead of a node dying with it in its log. It cannot rule out a race with another
// program; a node that then fails to bind is reported with its log.
func probePorts(nodes []*clusterNode) error {
	for _, n := range nodes {
		if err := probe("tcp", n.APIAddr); err != nil {
			return fmt.Errorf("API port of %s is not free: %v; choose other ports with --base-api-port", n.Name, err)
		}
		for _, network := range []string{"tcp", "udp"} {
			if err := probe(network, n.GossipAddr); err != nil {
				return fmt.Errorf("gossip port of %s is not free: %v; choose other ports with --base-gossip-port", n.Name, err)
			}
		}
	}
	return nil
}

// probe binds addr on network and releases it at once.
func probe(network, addr string) error {
	if network == "udp" {
		pc, err := net.ListenPacket(network, addr)
		if err != nil {
			return err
		}
		return pc.Close()
	}
	ln, err := net.Listen(network, addr)
	if err != nil {
		return err
	}
	return ln.Close()
}

// agentArgs returns the arguments of n's "crdtd agent" command.
func (c *cluster) agentArgs(n *clusterNode, keyFile string) []string {
	args := []string{"agent",
		"--name", n.Name,
		"--data-dir", n.DataDir,
		"--api-addr", n.APIAddr,
		"--gossip-addr", n.GossipAddr,
		"--profile", c.opts.Profile,
		"--log-level", c.opts.LogLevel,
	}
	if first := c.nodes[0]; n != first {
		args = append(args, "--join", first.GossipAddr)
	}
	if keyFile != "" {
		args = append(args, "--gossip-key-file", keyFile)
	}
	return args
}

// start starts n's agent process. Once it has started, a goroutine waits for it and sends n on
// c.exits. Cancelling ctx sends the process SIGTERM, and SIGKILL after StopTimeout.
func (c *cluster) start(ctx context.Context, n *clusterNode) error {
	if err := os.MkdirAll(n.DataDir, 0o700); err != nil {
		return fmt.Errorf("create data directory of %s: %v", n.Name, err)
	}
	logFile, err := os.OpenFile(n.LogPath, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("open log of %s: %v", n.Name, err)
	}
	defer logFile.Close() // the child has its own descriptor
	fmt.Fprintf(logFile, "--- crdtd cluster: starting %s at %s\n", n.Name, time.Now().Format(time.RFC3339))

	cmd, err := c.opts.Command(ctx, n.args)
	if err != nil {
		return err
	}
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	cmd.WaitDelay = c.opts.StopTimeout
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start %s: %v", n.Name, err)
	}
	n.cmd = cmd
	c.running++
	go func() {
		_ = cmd.Wait() // the outcome is in cmd.ProcessState
		c.exits <- n
	}()
	return nil
}

// waitReady polls every node's /healthz until all answer 200, a node exits, ReadyTimeout passes
// or ctx is done (which is not an error: the caller stops the nodes).
func (c *cluster) waitReady(ctx context.Context) error {
	hc := &http.Client{Timeout: healthTimeout}
	deadline := time.NewTimer(c.opts.ReadyTimeout)
	defer deadline.Stop()
	tick := time.NewTicker(readyPollInterval)
	defer tick.Stop()
	pending := c.nodes
	for {
		pending = notReady(ctx, hc, pending)
		if len(pending) == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return nil
		case n := <-c.exits:
			c.exited()
			c.showLogTail(n)
			return fmt.Errorf("%s exited while starting (%s); see its log %s", n.Name, exitStatus(n), n.LogPath)
		case <-deadline.C:
			n := pending[0]
			c.showLogTail(n)
			return fmt.Errorf("%s did not answer on http://%s/healthz within %v; see its log %s",
				n.Name, n.APIAddr, c.opts.ReadyTimeout, n.LogPath)
		case <-tick.C:
		}
	}
}

// notReady returns the nodes of pending whose /healthz does not answer 200 yet.
func notReady(ctx context.Context, hc *http.Client, pending []*clusterNode) []*clusterNode {
	var out []*clusterNode
	for _, n := range pending {
		if ctx.Err() != nil || !healthy(ctx, hc, n.APIAddr) {
			out = append(out, n)
		}
	}
	return out
}

// healthy reports whether GET /healthz on the API at addr answers 200.
func healthy(ctx context.Context, hc *http.Client, addr string) bool {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+"/healthz", nil)
	if err != nil {
		return false
	}
	resp, err := hc.Do(req)
	if err != nil {
		return false
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 4<<10))
	_ = resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

// printTable prints the nodes to stdout: aligned with a header on a terminal, tab-separated
// rows when piped.
func (c *cluster) printTable() error {
	w := c.opts.Out
	var tw *tabwriter.Writer
	if c.opts.IsTTY {
		tw = tabwriter.NewWriter(w, 0, 8, 2, ' ', 0)
		w = tw
		fmt.Fprintln(w, "NODE\tAPI\tGOSSIP\tDATA\tLOG")
	}
	for _, n := range c.nodes {
		fmt.Fprintf(w, "%s\thttp://%s\t%s\t%s\t%s\n", n.Name, n.APIAddr, n.GossipAddr, n.DataDir, n.LogPath)
	}
	if tw != nil {
		return tw.Flush()
	}
	return nil
}

// supervise restarts nodes that exit on their own, with backoff and up to MaxRestarts within
// RestartWindow each, and returns when ctx is done, after stopping the others, or with an error
// when no node is left running or due to restart.
func (c *cluster) supervise(ctx context.Context) error {
	for {
		var due <-chan time.Time
		var timer *time.Timer
		if at, ok := c.nextRestart(); ok {
			timer = time.NewTimer(time.Until(at))
			due = timer.C
		}
		select {
		case <-ctx.Done():
			c.stop()
			fmt.Fprintln(c.opts.ErrOut, "Stopped the cluster.")
			return nil
		case n := <-c.exits:
			c.exited()
			c.schedule(n, time.Now())
		case now := <-due:
			c.restartDue(ctx, now)
		}
		if timer != nil {
			timer.Stop()
		}
		if _, pending := c.nextRestart(); c.running == 0 && !pending {
			return errors.New("every node of the cluster has exited")
		}
	}
}

// schedule reports that n exited on its own at now and sets its restart, or gives up on it when
// it was restarted MaxRestarts times within RestartWindow.
func (c *cluster) schedule(n *clusterNode, now time.Time) {
	w := c.opts.ErrOut
	fmt.Fprintf(w, "%s exited unexpectedly (%s); see its log %s\n  command: %s\n", n.Name, exitStatus(n), n.LogPath, c.commandLine(n))
	recent := n.restarts[:0]
	for _, t := range n.restarts {
		if now.Sub(t) < c.opts.RestartWindow {
			recent = append(recent, t)
		}
	}
	n.restarts = recent
	if len(n.restarts) >= c.opts.MaxRestarts {
		fmt.Fprintf(w, "%s was restarted %d times within %v and exited again; giving up on it:"+
			" once its log shows what is wrong, run its command above by hand\n", n.Name, len(n.restarts), c.opts.RestartWindow)
		return
	}
	delay := c.opts.RestartBackoff
	for range len(n.restarts) {
		delay = min(2*delay, maxRestartBackoff)
	}
	n.restartAt = now.Add(delay)
	fmt.Fprintf(w, "restarting %s in %v (restart %d of at most %d within %v)\n",
		n.Name, delay, len(n.restarts)+1, c.opts.MaxRestarts, c.opts.RestartWindow)
}

// nextRestart returns the earliest time a node is due to restart, if any is.
func (c *cluster) nextRestart() (time.Time, bool) {
	var next time.Time
	for _, n := range c.nodes {
		if !n.restartAt.IsZero() && (next.IsZero() || n.restartAt.Before(next)) {
			next = n.restartAt
		}
	}
	return next, !next.IsZero()
}

// restartDue starts again every node whose restart is due at now. A node that cannot be started
// is given up on.
func (c *cluster) restartDue(ctx context.Context, now time.Time) {
	if ctx.Err() != nil {
		return // stopping: supervise stops the cluster next
	}
	for _, n := range c.nodes {
		if n.restartAt.IsZero() || n.restartAt.After(now) {
			continue
		}
		n.restartAt = time.Time{}
		n.restarts = append(n.restarts, now)
		if err := c.start(ctx, n); err != nil {
			fmt.Fprintf(c.opts.ErrOut, "cannot restart %s: %v; giving up on it: run its command above by hand\n", n.Name, err)
			continue
		}
		fmt.Fprintf(c.opts.ErrOut, "restarted %s (pid %d)\n", n.Name, n.cmd.Process.Pid)
	}
}

// commandLine returns the command that runs n's agent, quoted for a POSIX shell, for a person to
// run by hand.
func (c *cluster) commandLine(n *clusterNode) string {
	words := []string{"crdtd"}
	if n.cmd != nil && n.cmd.Path != "" {
		words[0] = n.cmd.Path
	}
	words = append(words, n.args...)
	for i, w := range words {
		words[i] = shellQuote(w)
	}
	return strings.Join(words, " ")
}

// shellQuote returns s as one word of a POSIX shell command line: as it is when it holds only
// characters no shell treats specially, else in single quotes.
func shellQuote(s string) string {
	plain := s != "" && strings.IndexFunc(s, func(r rune) bool {
		return !('a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || '0' <= r && r <= '9' || strings.ContainsRune("-_./:=@%+,", r))
	}) < 0
	if plain {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// stop sends SIGTERM to every running node (by cancelling their context) and waits until all
// have exited; a node still running after StopTimeout is killed.
func (c *cluster) stop() {
	c.cancel()
	for c.running > 0 {
		n := <-c.exits
		c.exited()
		ps := n.cmd.ProcessState
		if ws, ok := ps.Sys().(syscall.WaitStatus); ok && ws.Signaled() && ws.Signal() == syscall.SIGKILL {
			fmt.Fprintf(c.opts.ErrOut, "%s did not stop within %v after SIGTERM; killed it\n", n.Name, c.opts.StopTimeout)
		} else if !ps.Success() {
			fmt.Fprintf(c.opts.ErrOut, "%s stopped with %s; see its log %s\n", n.Name, ps, n.LogPath)
		}
	}
}

// exited records that a process has exited (its node came from c.exits).
func (c *cluster) exited() {
	c.running--
}

// exitStatus describes how n's process ended, such as "exit status 1" or "signal: killed".
func exitStatus(n *clusterNode) string {
	if n.cmd == nil || n.cmd.ProcessState == nil {
		return "unknown status"
	}
	return n.cmd.ProcessState.String()
}

// showLogTail copies the last lines of n's log to stderr: usually the error that stopped it.
func (c *cluster) showLogTail(n *clusterNode) {
	lines := logTail(n.LogPath, logTailLines)
	if len(lines) == 0 {
		return
	}
	fmt.Fprintf(c.opts.ErrOut, "last lines of %s:\n", n.LogPath)
	for _, l := range lines {
		fmt.Fprintf(c.opts.ErrOut, "  %s\n", l)
	}
}

// logTail returns up to n last lines of the file at path, reading at most its last 8 KiB.
func logTail(path string, n int) []string {
	fh, err := os.Open(path)
	if err != nil {
		return nil
	}
	defer fh.Close()
	const window = 8 << 10
	if fi, err := fh.Stat(); err == nil && fi.Size() > window {
		if _, err := fh.Seek(fi.Size()-window, io.SeekStart); err != nil {
			return nil
		}
	}
	b, err := io.ReadAll(fh)
	if err != nil {
		return nil
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	return lines[max(0, len(lines)-n):]
}
