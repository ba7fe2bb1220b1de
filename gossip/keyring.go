package gossip

import (
	"fmt"

	"github.com/hashicorp/memberlist"
)

// NewKeyring returns a keyring for Config.Memberlist.Keyring that encrypts
// with primary and accepts messages encrypted with primary or with any of
// secondary. Each key must be 16, 24 or 32 bytes (see [ParseKey]).
//
// It exists for key rotation, which must never leave two nodes without a
// key in common: first every node accepts the new key as a secondary one,
// then every node encrypts with it (keeping the old one as secondary, for
// the nodes not switched yet), and last every node drops the old key. Set
// Memberlist.SecretKey to primary as well, or leave it nil.
func NewKeyring(primary []byte, secondary ...[]byte) (*memberlist.Keyring, error) {
	if len(primary) == 0 {
		return nil, fmt.Errorf("gossip keyring: no primary key")
	}
	for i, k := range append([][]byte{primary}, secondary...) {
		if err := memberlist.ValidateKey(k); err != nil {
			return nil, fmt.Errorf("gossip keyring: key %d of %d bytes: want 16, 24 or 32", i+1, len(k))
		}
	}
	kr, err := memberlist.NewKeyring(secondary, primary)
	if err != nil {
		return nil, fmt.Errorf("gossip keyring: %v", err)
	}
	if err := kr.UseKey(primary); err != nil {
		return nil, fmt.Errorf("gossip keyring: %v", err)
	}
	return kr, nil
}
