package gossip

import (
	"fmt"

	"github.com/hashicorp/memberlist"
)

const metaVersion = 1

// encodeMeta encodes node meta: version byte, replica ID, API address,
// flags byte (bit 0: leaving).
func encodeMeta(replica, apiAddr string) []byte { return encodeMetaFlags(replica, apiAddr, false) }

func encodeMetaFlags(replica, apiAddr string, leaving bool) []byte {
	b := []byte{metaVersion}
	b = appendString(b, replica)
	b = appendString(b, apiAddr)
	var flags byte
	if leaving {
		flags |= metaLeaving
	}
	return append(b, flags)
}

const metaLeaving = 1

// nodeMeta is the decoded node meta of a member.
type nodeMeta struct {
	ReplicaID string
	APIAddr   string
	Leaving   bool // the node announced it is leaving (Node.Leave)
}

// decodeMeta decodes node meta with bounded reads. Meta from nodes of a newer
// version is accepted as long as it starts with the fields we know.
func decodeMeta(b []byte) (nodeMeta, error) {
	if len(b) > memberlist.MetaMaxSize {
		return nodeMeta{}, fmt.Errorf("decode meta: %d bytes: %w", len(b), errTooLarge)
	}
	r := &reader{b: b}
	if v := r.byte(); r.err == nil && v < metaVersion {
		return nodeMeta{}, fmt.Errorf("decode meta: version %d: %w", v, errVersion)
	}
	m := nodeMeta{ReplicaID: r.string(maxNameLen), APIAddr: r.string(maxNameLen)}
	if r.err == nil && len(r.b) > 0 {
		m.Leaving = r.b[0]&metaLeaving != 0
	}
	if r.err != nil {
		return nodeMeta{}, fmt.Errorf("decode meta: %w", r.err)
	}
	return m, nil
}
