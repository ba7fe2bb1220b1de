package daemon

import (
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/crdtd/crdtd/client"
)

func (d *Daemon) handleMembers(w http.ResponseWriter, r *http.Request) {
	ms := d.gossip.Members()
	out := client.MemberList{Members: make([]client.Member, 0, len(ms))}
	for _, m := range ms {
		out.Members = append(out.Members, client.Member{
			Name: m.Name, Addr: m.Addr, Replica: m.Meta[metaReplica], APIAddr: m.Meta[metaAPI], State: m.State,
		})
	}
	slices.SortFunc(out.Members, func(a, b client.Member) int { return strings.Compare(a.Name, b.Name) })
	writeJSON(w, http.StatusOK, out)
}

func (d *Daemon) handleStatus(w http.ResponseWriter, r *http.Request) {
	now := d.now()
	self := d.gossip.LocalMember()
	digests := d.gossip.PeerDigests()
	st := client.Status{
		Node:          d.cfg.Name,
		Replica:       string(d.replica),
		APIAddr:       d.APIAddr(),
		GossipAddr:    self.Addr,
		Version:       d.cfg.Version,
		UptimeSeconds: now.Sub(d.started.Add(d.cfg.ClockOffset)).Seconds(),
		Carts:         len(d.reg.cartIDs()),
		Digest:        fmt.Sprintf("%016x", d.gossip.Digest()),
		Peers:         []client.PeerStatus{},
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
		p := client.PeerStatus{
			Name: m.Name, Replica: m.Meta[metaReplica], State: m.State,
			DigestCheckedSecondsAgo:   -1,
			HeartbeatStalenessSeconds: d.reg.staleness(m.Meta[metaReplica], now),
		}
		if pd, ok := digests[m.Name]; ok {
			p.DigestAgrees = pd.InSync
			p.DigestCheckedSecondsAgo = now.Sub(pd.At.Add(d.cfg.ClockOffset)).Seconds()
		}
		st.Peers = append(st.Peers, p)
	}
	slices.SortFunc(st.Peers, func(a, b client.PeerStatus) int { return strings.Compare(a.Name, b.Name) })
	writeJSON(w, http.StatusOK, st)
}
