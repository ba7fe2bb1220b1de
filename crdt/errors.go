package crdt

import "errors"

// Sentinel errors returned (wrapped with context) by this package.
var (
	// ErrCorrupt reports bytes that are not a valid encoding of the type being
	// decoded: truncated, malformed, out of bounds or semantically invalid.
	ErrCorrupt = errors.New("corrupt encoding")

	// ErrVersion reports an encoding whose leading version byte this build does
	// not understand.
	ErrVersion = errors.New("unsupported encoding version")

	// ErrOverflow reports an arithmetic result that does not fit its type.
	// Counters never wrap around; they report this instead.
	ErrOverflow = errors.New("counter overflow")

	// ErrInvalidReplicaID reports a replica ID that is empty, too long or holds
	// characters outside the allowed set.
	ErrInvalidReplicaID = errors.New("invalid replica id")

	// ErrInvalidAmount reports a non-positive increment or decrement.
	ErrInvalidAmount = errors.New("amount must be positive")

	// ErrSeqExhausted reports a mutation that would need a dot beyond
	// [MaxSeq]: the replica has minted its last dot. Decoders refuse
	// sequence numbers beyond MaxSeq, so only a replica that really made
	// 2^62 changes, or a bug, reaches it; the mutation changes nothing.
	ErrSeqExhausted = errors.New("replica has minted its last dot")
)
