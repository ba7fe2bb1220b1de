package faults

import (
	"bytes"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/crdtd/crdtd/api"
	"github.com/crdtd/crdtd/client"
	"github.com/crdtd/crdtd/internal/testbin"
	"github.com/crdtd/crdtd/internal/testpki"
)

// opsCluster is the layout docs/operations.md describes, one node per
// network namespace standing in for one node per host.
type opsCluster struct {
	*cluster
	caFile    string
	tokenFile string
}

// newOpsCluster starts three agents configured only through CRDTD_*
// variables, as the systemd unit does: gossip bound to 0.0.0.0 with an
// advertise address, a gossip key made by crdtd keygen, every other node as
// a seed, an API token, and the API over TLS with a certificate for the
// node's address.
func newOpsCluster(t *testing.T) *opsCluster {
	t.Helper()
	nw, err := newNetwork(t, 3)
	if err != nil {
		t.Fatalf("create network namespaces: %v", err)
	}
	dir := t.TempDir()
	ca := testpki.NewCA(t, "crdtd ops test CA")
	oc := &opsCluster{caFile: ca.WriteCert(t, dir, "ca"), tokenFile: filepath.Join(dir, "api.token")}
	if err := os.WriteFile(oc.tokenFile, []byte(testToken+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	key, err := exec.Command(bin.Crdtd, "keygen").Output()
	if err != nil {
		t.Fatalf("crdtd keygen: %v", err)
	}
	keyFile := filepath.Join(dir, "gossip.key")
	if err := os.WriteFile(keyFile, key, 0o600); err != nil {
		t.Fatal(err)
	}

	c := &cluster{t: t, net: nw, mode: "netns", token: testToken}
	c.hc = &http.Client{Timeout: 3 * time.Second, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{RootCAs: ca.Pool(), MinVersion: tls.VersionTLS12}, MaxIdleConnsPerHost: 4,
	}}
	t.Cleanup(c.hc.CloseIdleConnections)
	oc.cluster = c
	for i := range 3 {
		ip := nw.addr(i)
		n := &node{t: t, idx: i, name: fmt.Sprintf("n%d", i), ns: nw.ns[i],
			dataDir: filepath.Join(dir, fmt.Sprintf("n%d", i)), logPath: filepath.Join(dir, fmt.Sprintf("n%d.log", i)),
			apiAddr: ip + ":7070", gossipAddr: ip + ":7946", baseArgs: []string{"agent"}}
		var seeds []string
		for j := range 3 {
			if j != i {
				seeds = append(seeds, nw.addr(j)+":7946")
			}
		}
		cert, certKey := ca.Server(t, ip).Write(t, dir, n.name)
		n.env = []string{
			"CRDTD_NAME=" + n.name,
			"CRDTD_DATA_DIR=" + n.dataDir,
			"CRDTD_GOSSIP_ADDR=0.0.0.0:7946",
			"CRDTD_ADVERTISE_ADDR=" + n.gossipAddr,
			"CRDTD_API_ADDR=" + n.apiAddr,
			"CRDTD_JOIN=" + strings.Join(seeds, ","),
			"CRDTD_GOSSIP_KEY_FILE=" + keyFile,
			"CRDTD_API_TOKEN_FILE=" + oc.tokenFile,
			"CRDTD_API_TLS_CERT_FILE=" + cert,
			"CRDTD_API_TLS_KEY_FILE=" + certKey,
			"CRDTD_CLUSTER_LABEL=" + fmt.Sprintf("ops-%d", os.Getpid()),
			"CRDTD_PROFILE=local",
		}
		cl, err := client.New(client.Config{BaseURL: "https://" + n.apiAddr, Token: testToken, HTTPClient: c.hc,
			Retries: 2, RetryBackoff: 50 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		c.nodes = append(c.nodes, n)
		c.clients = append(c.clients, cl)
	}
	t.Cleanup(func() {
		for _, n := range c.nodes {
			n.signal(syscall.SIGKILL)
		}
		if t.Failed() {
			for _, n := range c.nodes {
				t.Logf("log of %s:\n%s", n.name, n.logTail(6000))
			}
		}
	})
	for _, n := range c.nodes {
		if err := n.start(c); err != nil {
			t.Fatal(err)
		}
	}
	c.waitMembers(30 * time.Second)
	return oc
}

// cartctl runs the cartctl binary against node i over https, with the CA
// and token files, and decodes its JSON output into out (if not nil). It
// fails the test unless cartctl exits 0.
func (oc *opsCluster) cartctl(i int, out any, args ...string) {
	oc.t.Helper()
	argv := append([]string{"--node", "https://" + oc.nodes[i].apiAddr, "--ca-file", oc.caFile,
		"--token-file", oc.tokenFile, "--timeout", "5s", "-o", "json"}, args...)
	stdout, err := oc.tryCartctl(argv...)
	if err != nil {
		oc.t.Fatalf("cartctl %s: %v", strings.Join(argv, " "), err)
	}
	if out != nil {
		if err := json.Unmarshal([]byte(stdout), out); err != nil {
			oc.t.Fatalf("cartctl %s: output %q: %v", strings.Join(argv, " "), stdout, err)
		}
	}
}

// tryCartctl runs cartctl with argv and returns its stdout, or an error
// with its exit status and stderr.
func (oc *opsCluster) tryCartctl(argv ...string) (string, error) {
	cmd := exec.Command(bin.Cartctl, argv...)
	cmd.Env = environWithout("CARTCTL_")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("%w: %s", err, bytes.TrimSpace(stderr.Bytes()))
	}
	return stdout.String(), nil
}

// quantities returns a cart's quantity per item.
func quantities(v api.CartView) map[string]int64 {
	q := map[string]int64{}
	for _, l := range v.Items {
		q[l.Item] = l.Quantity
	}
	return q
}

// waitCart waits until every node shows cart with exactly the quantities
// want, read through cartctl.
func (oc *opsCluster) waitCart(cart string, want map[string]int64) {
	oc.t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		var seen []map[string]int64
		ok := true
		for i := range oc.nodes {
			var v api.CartView
			oc.cartctl(i, &v, "show", cart)
			q := quantities(v)
			seen = append(seen, q)
			ok = ok && maps.Equal(q, want)
		}
		if ok {
			return
		}
		if time.Now().After(deadline) {
			oc.t.Fatalf("cart %s per node: got %v after 60s, want %v on every node", cart, seen, want)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func (oc *opsCluster) status(i int) api.Status {
	oc.t.Helper()
	var st api.Status
	oc.cartctl(i, &st, "status")
	return st
}

// TestOperationsLayout runs docs/operations.md on real processes: three
// nodes, each in its own network namespace, configured only through CRDTD_*
// variables, with a gossip key, an API token and the API over TLS, driven by
// the cartctl binary over https. A write on one node reaches the others.
// Then a node is stopped, its data directory restored from a backup taken
// earlier, given a fresh replica ID with crdtd reset-replica, and
// restarted: it rejoins and catches up, and a write it takes before it has
// heard from any peer (it restarts cut off from them) is not lost: had it
// kept its replica ID, that write would carry a dot its peers already hold
// for a change made after the backup, and they would drop it.
func TestOperationsLayout(t *testing.T) {
	needBinaries(t)
	if why := netnsUnavailable(); why != "" {
		if ci() {
			t.Fatalf("network namespaces unavailable (%s), and CI=true: the fault suite must run in namespaces", why)
		}
		t.Skipf("needs a network namespace per node, as root with iproute2's ip (%s)", why)
	}
	oc := newOpsCluster(t)
	const restored = 2
	n := oc.nodes[restored]

	// One write per node before the backup, each seen by every node.
	oc.cartctl(0, nil, "add", "alice", "apple", "--qty", "2", "--price", "1.25")
	oc.cartctl(restored, nil, "add", "alice", "bread")
	oc.waitCart("alice", map[string]int64{"apple": 2, "bread": 1})

	// Back up the node as docs/operations.md says: stop it, copy its data
	// directory, start it again.
	oldReplica := oc.status(restored).Replica
	n.signal(syscall.SIGTERM)
	backup := filepath.Join(t.TempDir(), "backup")
	testbin.CopyTree(t, n.dataDir, backup)
	if err := n.start(oc.cluster); err != nil {
		t.Fatal(err)
	}

	// A change after the backup, made on the node that will be restored.
	oc.cartctl(restored, nil, "add", "alice", "cheese")
	oc.waitCart("alice", map[string]int64{"apple": 2, "bread": 1, "cheese": 1})

	// Lose the node; restore the backup; give it a fresh replica ID.
	n.signal(syscall.SIGTERM)
	if err := os.RemoveAll(n.dataDir); err != nil {
		t.Fatal(err)
	}
	testbin.CopyTree(t, backup, n.dataDir)
	reset := exec.Command(bin.Crdtd, "reset-replica")
	reset.Env = append(environWithout("CRDTD_"), "CRDTD_DATA_DIR="+n.dataDir)
	out, err := reset.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "replica ID "+oldReplica+" replaced by ") {
		t.Fatalf("crdtd reset-replica: %v: %s; want it to replace %s", err, out, oldReplica)
	}

	// Restart it cut off from its peers, so that its next write is taken
	// on the restored state alone.
	for _, peer := range []int{0, 1} {
		if err := oc.net.block(restored, peer); err != nil {
			t.Fatal(err)
		}
	}
	if err := n.start(oc.cluster); err != nil {
		t.Fatal(err)
	}
	st := oc.status(restored)
	if st.Replica == oldReplica {
		t.Fatalf("restored node runs under its old replica ID %s", oldReplica)
	}
	var v api.CartView
	oc.cartctl(restored, &v, "add", "alice", "dates")
	if got, want := quantities(v), map[string]int64{"apple": 2, "bread": 1, "dates": 1}; !maps.Equal(got, want) {
		t.Fatalf("the restored node answered the write with %v, want %v: it is not running on the backup", got, want)
	}

	// Reconnect: it rejoins, catches up, and its write survives beside
	// every earlier line.
	if err := oc.net.heal(); err != nil {
		t.Fatal(err)
	}
	oc.waitCart("alice", map[string]int64{"apple": 2, "bread": 1, "cheese": 1, "dates": 1})
	oc.waitMembers(30 * time.Second)
	testbin.WaitFor(t, 30*time.Second, "every node ready with digests agreeing with every peer", func() bool {
		for i := range oc.nodes {
			st := oc.status(i)
			if !st.Ready || len(st.Peers) != 2 {
				return false
			}
			for _, p := range st.Peers {
				if !p.DigestAgrees {
					return false
				}
			}
		}
		return true
	})
	var members api.MemberList
	oc.cartctl(0, &members, "members")
	i := slices.IndexFunc(members.Members, func(m api.Member) bool { return m.Name == n.name })
	if i < 0 || members.Members[i].Replica != st.Replica || members.Members[i].State != "alive" {
		t.Errorf("members on n0: %+v; want %s alive under replica %s", members.Members, n.name, st.Replica)
	}

	// A wrong CA or no client setup at all is a failure, not unreachability.
	_, err = oc.tryCartctl("--node", "https://"+oc.nodes[0].apiAddr, "--token-file", oc.tokenFile, "list")
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 1 || !strings.Contains(err.Error(), "certificate signed by unknown authority") {
		t.Errorf("cartctl without --ca-file: %v; want exit 1 naming the unknown authority", err)
	}
}
