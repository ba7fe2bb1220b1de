package faults

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/crdtd/crdtd/api"
)

// suspicionTimeout is memberlist's minimum suspicion timeout for n nodes
// with the local profile (memberlist.DefaultLocalConfig: SuspicionMult 3,
// ProbeInterval 1 s): SuspicionMult * log10(n) * ProbeInterval.
func suspicionTimeout(n int) time.Duration {
	return time.Duration(3 * math.Max(1, math.Log10(float64(n))) * float64(time.Second))
}

// scheduler injects faults concurrently with the workload.
type scheduler struct {
	c   *cluster
	t   *testing.T
	rnd *rand.Rand

	kills, partitions, pausesShort, pausesLong atomic.Int64

	// mu guards busy, shapes and rnd use across the two fault goroutines.
	mu     sync.Mutex
	busy   map[int]bool
	shapes map[string]int
}

func (s *scheduler) intn(n int) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.rnd.IntN(n)
}

func (s *scheduler) jitter(lo, hi time.Duration) time.Duration {
	return lo + time.Duration(s.intn(int(hi-lo)+1))
}

// claim picks a random node no other fault holds.
func (s *scheduler) claim() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	for range 20 {
		i := s.rnd.IntN(len(s.c.nodes))
		if !s.busy[i] {
			s.busy[i] = true
			return i
		}
	}
	return -1
}

func (s *scheduler) release(i int) {
	s.mu.Lock()
	delete(s.busy, i)
	s.mu.Unlock()
}

func sleepCtx(ctx context.Context, d time.Duration) bool {
	select {
	case <-ctx.Done():
		return false
	case <-time.After(d):
		return true
	}
}

// processFaults kills and restarts, and pauses, random nodes.
func (s *scheduler) processFaults(ctx context.Context) {
	long := suspicionTimeout(len(s.c.nodes)) + 2*time.Second
	for sleepCtx(ctx, s.jitter(200*time.Millisecond, 700*time.Millisecond)) {
		i := s.claim()
		if i < 0 {
			continue
		}
		n := s.c.nodes[i]
		switch r := s.intn(10); {
		case r < 6:
			n.signal(syscall.SIGKILL)
			s.kills.Add(1)
			time.Sleep(s.jitter(100*time.Millisecond, 1200*time.Millisecond))
			if err := n.start(s.c); err != nil {
				s.t.Errorf("restart after kill -9: %v", err)
			}
		case r < 8:
			n.signal(syscall.SIGSTOP)
			s.pausesShort.Add(1)
			time.Sleep(s.jitter(200*time.Millisecond, 800*time.Millisecond))
			n.signal(syscall.SIGCONT)
		default:
			n.signal(syscall.SIGSTOP)
			s.pausesLong.Add(1)
			time.Sleep(long)
			n.signal(syscall.SIGCONT)
		}
		s.release(i)
	}
}

// networkFaults partitions the cluster into random shapes and heals it.
func (s *scheduler) networkFaults(ctx context.Context) {
	for sleepCtx(ctx, s.jitter(300*time.Millisecond, 1000*time.Millisecond)) {
		hold := s.jitter(time.Second, 3*time.Second)
		if s.c.net == nil {
			// Fallback: isolate one node by pausing it.
			i := s.claim()
			if i < 0 {
				continue
			}
			s.c.nodes[i].signal(syscall.SIGSTOP)
			s.partitions.Add(1)
			s.shape("sigstop-isolate")
			time.Sleep(hold)
			s.c.nodes[i].signal(syscall.SIGCONT)
			s.release(i)
			continue
		}
		s.mu.Lock()
		p := s.rnd.Perm(len(s.c.nodes))
		kind := s.rnd.IntN(3)
		s.mu.Unlock()
		var a, b []int
		name := ""
		switch kind {
		case 0:
			a, b, name = p[:2], p[2:], "halves"
		case 1:
			a, b, name = p[:1], p[1:], "isolate"
		default:
			// p[0] is the bridge: it talks to both sides, which cannot talk.
			a, b, name = p[1:3], p[3:], "bridge"
		}
		var err error
		for _, x := range a {
			for _, y := range b {
				if e := s.c.net.block(x, y); e != nil {
					err = e
				}
			}
		}
		if err != nil {
			s.t.Errorf("partition: %v", err)
		}
		s.partitions.Add(1)
		s.shape(name)
		time.Sleep(hold)
		if err := s.c.net.heal(); err != nil {
			s.t.Errorf("heal: %v", err)
		}
	}
}

func (s *scheduler) shape(name string) {
	s.mu.Lock()
	s.shapes[name]++
	s.mu.Unlock()
}

// healAll resumes paused nodes, restarts dead ones and removes partitions.
func (c *cluster) healAll(t *testing.T) {
	t.Helper()
	if c.net != nil {
		if err := c.net.heal(); err != nil {
			t.Errorf("heal: %v", err)
		}
	}
	for _, n := range c.nodes {
		n.mu.Lock()
		paused := n.paused
		n.mu.Unlock()
		if paused {
			n.signal(syscall.SIGCONT)
		}
		if !n.running() {
			if err := n.start(c); err != nil {
				t.Fatalf("restart on heal: %v", err)
			}
		}
	}
}

// snapshot reads every cart from every node; ok reports whether all nodes
// agree on the carts and on the digest.
func (c *cluster) snapshot(ctx context.Context) (views map[string]api.CartView, ok bool, why string) {
	var digests []string
	var perNode []map[string]api.CartView
	for i := range c.nodes {
		st, err := c.client(i).Status(ctx)
		if err != nil {
			return nil, false, fmt.Sprintf("status n%d: %v", i, err)
		}
		digests = append(digests, st.Digest)
		list, err := c.client(i).ListCarts(ctx)
		if err != nil {
			return nil, false, fmt.Sprintf("list n%d: %v", i, err)
		}
		m := map[string]api.CartView{}
		for _, id := range list.Carts {
			v, err := c.client(i).GetCart(ctx, id)
			if err != nil {
				return nil, false, fmt.Sprintf("get %s n%d: %v", id, i, err)
			}
			m[id] = v
		}
		perNode = append(perNode, m)
	}
	for i := 1; i < len(perNode); i++ {
		if digests[i] != digests[0] {
			return nil, false, fmt.Sprintf("digest n0 %s != n%d %s", digests[0], i, digests[i])
		}
		a, _ := json.Marshal(perNode[0])
		b, _ := json.Marshal(perNode[i])
		if string(a) != string(b) {
			return nil, false, fmt.Sprintf("carts of n0 and n%d differ", i)
		}
	}
	return perNode[0], true, ""
}

// converge polls until every node has the same carts and digest.
func (c *cluster) converge(t *testing.T, timeout time.Duration) (map[string]api.CartView, time.Duration, bool) {
	t.Helper()
	start := time.Now()
	why := ""
	for time.Since(start) < timeout {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		views, ok, w := c.snapshot(ctx)
		cancel()
		if ok {
			return views, time.Since(start), true
		}
		why = w
		time.Sleep(50 * time.Millisecond)
	}
	t.Errorf("no convergence %v after heal: %s", timeout, why)
	return nil, timeout, false
}

// TestJepsen runs the workload under kill -9, pauses and partitions, then
// checks convergence and the history.
func TestJepsen(t *testing.T) {
	needBinaries(t)
	start := time.Now()
	duration := envDuration("FAULTS_DURATION", 60*time.Second)
	rounds := envInt("FAULTS_ROUNDS", 3)
	wantOps := envInt("FAULTS_OPS", 5000)
	wantKills := envInt("FAULTS_KILLS", 10)
	wantParts := envInt("FAULTS_PARTITIONS", 10)
	workers := envInt("FAULTS_WORKERS", 8)
	seed := rand.Uint64()
	t.Logf("seed %d, duration %v in %d rounds, targets: %d acknowledged ops, %d kills, %d partitions", seed, duration, rounds, wantOps, wantKills, wantParts)

	c := newCluster(t, clusterOptions{nodes: 5, label: "faults-jepsen", netns: true})
	t.Logf("mode %s; suspicion timeout ~%v", c.mode, suspicionTimeout(5))
	h := &history{}
	w := newWorkload(c, h, rand.New(rand.NewPCG(seed, 1)))
	s := &scheduler{c: c, t: t, rnd: rand.New(rand.NewPCG(seed, 2)), busy: map[int]bool{}, shapes: map[string]int{}}
	rep := &report{Mode: c.mode, Seed: seed, SuspicionTimeoutMS: suspicionTimeout(5).Milliseconds()}

	roundLen := duration / time.Duration(rounds)
	var final map[string]api.CartView
	for round := 0; ; round++ {
		wctx, stopWork := context.WithCancel(context.Background())
		fctx, stopFaults := context.WithTimeout(context.Background(), roundLen)
		var wg, fg sync.WaitGroup
		for i := range workers {
			rnd := rand.New(rand.NewPCG(seed, uint64(100+round*workers+i)))
			wg.Go(func() { w.run(wctx, i, rnd) })
		}
		fg.Go(func() { s.processFaults(fctx) })
		fg.Go(func() { s.networkFaults(fctx) })
		fg.Wait()
		stopFaults()
		stopWork()
		wg.Wait()
		c.healAll(t)
		rep.Devices.Unflushed = w.flushDevices(rand.New(rand.NewPCG(seed, uint64(3+round))))
		views, took, ok := c.converge(t, 60*time.Second)
		rep.Rounds++
		rep.ConvergeSeconds = append(rep.ConvergeSeconds, took.Seconds())
		t.Logf("round %d: %d acked, %d unknown, %d kills, %d partitions, %d+%d pauses; converged=%v in %v",
			round, h.acked.Load(), h.unknown.Load(), s.kills.Load(), s.partitions.Load(),
			s.pausesShort.Load(), s.pausesLong.Load(), ok, took.Round(time.Millisecond))
		if !ok {
			break
		}
		final = views
		enough := time.Since(start) >= duration && h.acked.Load() >= int64(wantOps) &&
			s.kills.Load() >= int64(wantKills) && s.partitions.Load() >= int64(wantParts)
		if enough || time.Since(start) > 3*duration {
			break
		}
	}
	rep.Converged = final != nil
	if final != nil {
		check(rep, h.snapshot(), w.dev.snapshot(), final)
		w.compareDeviceViews(rep, final)
	}
	rep.Devices.fill(w.dev, len(w.phones))
	rep.Replays, rep.ReplayMismatches = h.replays.Load(), h.replayBad.Load()
	rep.Kills, rep.Partitions = s.kills.Load(), s.partitions.Load()
	rep.PausesShort, rep.PausesLong = s.pausesShort.Load(), s.pausesLong.Load()
	for k, v := range s.shapes {
		rep.PartitionShapes = append(rep.PartitionShapes, fmt.Sprintf("%s=%d", k, v))
	}
	slices.Sort(rep.PartitionShapes)
	rep.ConvergeP50, rep.ConvergeP99 = percentile(rep.ConvergeSeconds, 0.5), percentile(rep.ConvergeSeconds, 0.99)
	for i := range c.nodes {
		if m, err := c.scrape(i); err == nil {
			rep.MergeRejected += m.sum("crdtd_merge_rejected_total")
			rep.DecodeErrors += m.sum("crdtd_decode_errors_total") + m.sum("crdtd_gossip_decode_errors_total")
		}
	}
	rep.WallSeconds = time.Since(start).Seconds()
	writeReport(t, "jepsen", rep)

	for _, n := range c.nodes {
		if b, _ := os.ReadFile(n.logPath); strings.Contains(string(b), "panic") || strings.Contains(string(b), "fatal error") {
			t.Errorf("%s log mentions a panic", n.name)
		}
	}
	if !rep.Converged {
		t.Fatal("the cluster did not converge")
	}
	if rep.Lost != 0 || rep.Unexpected != 0 || rep.Resurrected != 0 || rep.BadAck != 0 || rep.ReplayMismatches != 0 ||
		rep.Devices.anomalies() != 0 {
		if v, ok := h.badReplay.Load().(string); ok {
			t.Logf("replay mismatch: %s", v)
		}
		if v, ok := w.dev.lastRefusal.Load().(string); ok {
			t.Logf("device sync refused: %s", v)
		}
		d := rep.Devices
		t.Errorf("got lost=%d unexpected=%d resurrected=%d bad_ack=%d replay_mismatches=%d; devices: lost=%d doubled=%d wrong_price=%d "+
			"view_mismatches=%d refused=%d replica_reused=%d edit_errors=%d; want all 0; anomalies:\n%s",
			rep.Lost, rep.Unexpected, rep.Resurrected, rep.BadAck, rep.ReplayMismatches, d.Lost, d.Doubled, d.WrongPrice,
			d.ViewMismatches, d.Refused, d.ReplicaReused, d.EditErrors, strings.Join(rep.Anomalies, "\n"))
	}
	if rep.Devices.AddsAcked == 0 || rep.Devices.LostAnswersOK == 0 {
		t.Errorf("devices: %d adds acknowledged, %d lost answers resent; want some of each", rep.Devices.AddsAcked, rep.Devices.LostAnswersOK)
	}
	if rep.Acknowledged < wantOps || rep.Kills < int64(wantKills) || rep.Partitions < int64(wantParts) {
		t.Errorf("got %d acknowledged ops, %d kills, %d partitions; want at least %d, %d, %d",
			rep.Acknowledged, rep.Kills, rep.Partitions, wantOps, wantKills, wantParts)
	}
}

// writeReport logs r and writes it as JSON under os.TempDir.
func writeReport(t *testing.T, name string, r any) {
	t.Helper()
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%s report:\n%s", name, b)
	path := filepath.Join(os.TempDir(), fmt.Sprintf("crdtd-faults-%s-%d.json", name, time.Now().Unix()))
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Logf("write report: %v", err)
		return
	}
	t.Logf("%s report written to %s", name, path)
}
