package gossip

// ObjectHash is the hash the digest keeps for an object: of its key and
// canonical state. A Delegate that stores hashes must compute them with it.
func ObjectHash(key string, state []byte) uint64 { return objectHash(key, state) }
