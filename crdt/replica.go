package crdt

import "fmt"

// MaxReplicaIDLen is the longest ReplicaID accepted, in bytes.
const MaxReplicaIDLen = 64

// ReplicaID names one replica of a CRDT for all time.
//
// A replica ID must never be reused by a different replica, and a replica
// whose state was lost must come back under a fresh ID: dots are unique only
// because a replica never hands out the same (ReplicaID, Seq) pair twice.
// Node names and network addresses are therefore not replica IDs.
//
// Valid IDs are 1 to [MaxReplicaIDLen] bytes of [A-Za-z0-9._:@-]; see
// [ParseReplicaID].
type ReplicaID string

// ParseReplicaID validates s and returns it as a ReplicaID.
func ParseReplicaID(s string) (ReplicaID, error) {
	if err := validReplicaID(s); err != nil {
		return "", err
	}
	return ReplicaID(s), nil
}

func validReplicaID(s string) error {
	if len(s) == 0 || len(s) > MaxReplicaIDLen {
		return fmt.Errorf("%w: length %d not in 1..%d", ErrInvalidReplicaID, len(s), MaxReplicaIDLen)
	}
	for i := 0; i < len(s); i++ {
		if !idByte(s[i]) {
			return fmt.Errorf("%w: byte %q at %d", ErrInvalidReplicaID, s[i], i)
		}
	}
	return nil
}

func idByte(c byte) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return true
	case c == '.', c == '_', c == ':', c == '@', c == '-':
		return true
	}
	return false
}

// mustValid panics when a mutator is handed an invalid replica ID: that is a
// programming error in the caller, which should have used ParseReplicaID.
func mustValid(id ReplicaID) {
	if err := validReplicaID(string(id)); err != nil {
		panic(fmt.Sprintf("crdt: mutator called with %v", err))
	}
}
