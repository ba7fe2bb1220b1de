package daemon

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/crdtd/crdtd/api"
)

func (d *Daemon) handleMembers(w http.ResponseWriter, r *http.Request) {
	ms := d.gossip.Members()
	out := api.MemberList{Members: make([]api.Member, 0, len(ms))}
	for _, m := range ms {
		out.Members = append(out.Members, api.Member{
			Name: m.Name, Addr: m.Addr, Replica: m.Meta[metaReplica], APIAddr: m.Meta[metaAPI], State: m.State,
		})
	}
	slices.SortFunc(out.Members, func(a, b api.Member) int { return strings.Compare(a.Name, b.Name) })
	writeJSON(w, http.StatusOK, out)
}

func (d *Daemon) handleStatus(w http.ResponseWriter, r *http.Request) {
	now := d.clock.now()
	self := d.gossip.LocalMember()
	digests := d.gossip.PeerDigests()
	withItems, held := d.carts.counts()
	ready, notReady := d.readiness()
	st := api.Status{
		Ready:         ready,
		NotReady:      notReady,
		Warnings:      d.warnings(),
		Carts:         withItems,
		EmptyCarts:    held - withItems,
		Node:          d.cfg.Name,
		Replica:       string(d.replica),
		APIAddr:       d.APIAddr(),
		GossipAddr:    self.Addr,
		Version:       d.cfg.Version,
		UptimeSeconds: now.Sub(d.started.Add(d.cfg.ClockOffset)).Seconds(),

		Digest:        fmt.Sprintf("%016x", d.gossip.Digest()),
		DigestLoading: !d.gossip.DigestLoaded(),
		Peers:         []api.PeerStatus{},
	}
	for _, m := range d.gossip.Members() {
		switch m.State {
		case "alive":
			st.Members.Alive++
		case "suspect":
			st.Members.Suspect++
		case "dead":
			st.Members.Dead++
		case "left":
			st.Members.Left++
		}
		if m.Name == self.Name {
			continue
		}
		p := api.PeerStatus{
			Name: m.Name, Replica: m.Meta[metaReplica], State: m.State,
			DigestCheckedSecondsAgo:   -1,
			HeartbeatStalenessSeconds: d.beats.staleness(m.Meta[metaReplica], now),
		}
		if pd, ok := digests[m.Name]; ok {
			p.DigestAgrees = pd.InSync
			p.DigestCheckedSecondsAgo = now.Sub(pd.At.Add(d.cfg.ClockOffset)).Seconds()
		}
		st.Peers = append(st.Peers, p)
	}
	slices.SortFunc(st.Peers, func(a, b api.PeerStatus) int { return strings.Compare(a.Name, b.Name) })
	writeJSON(w, http.StatusOK, st)
}

// warnings returns what the operator should fix, for /v1/status.
func (d *Daemon) warnings() []string {
	return d.exposures(d.APIAddr(), d.GossipAddr(), time.Now())
}

// handleActivity serves GET /v1/activity: the running totals the cluster
// page turns into writes per second and a replication lag chart, read from
// the metrics without a full scrape.
func (d *Daemon) handleActivity(w http.ResponseWriter, r *http.Request) {
	out := api.Activity{Operations: counterSum(d.metrics.operations), RemoteMerges: counterSum(d.metrics.merged)}
	var pb dto.Metric
	if err := d.metrics.replicationLag.Write(&pb); err == nil && pb.Histogram != nil {
		h := pb.Histogram
		out.ReplicationLag = api.Histogram{Count: h.GetSampleCount(), Sum: h.GetSampleSum(),
			Buckets: make([]api.HistogramBucket, 0, len(h.Bucket))}
		for _, b := range h.Bucket {
			out.ReplicationLag.Buckets = append(out.ReplicationLag.Buckets,
				api.HistogramBucket{Le: b.GetUpperBound(), Count: b.GetCumulativeCount()})
		}
	}
	writeJSON(w, http.StatusOK, out)
}

// counterSum returns the sum of a counter vector over its labels.
func counterSum(v *prometheus.CounterVec) uint64 {
	ch := make(chan prometheus.Metric)
	go func() {
		v.Collect(ch)
		close(ch)
	}()
	var sum float64
	for m := range ch {
		var pb dto.Metric
		if m.Write(&pb) == nil && pb.Counter != nil {
			sum += pb.Counter.GetValue()
		}
	}
	return uint64(sum)
}
