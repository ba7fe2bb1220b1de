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
	if i := InvalidIDByte(s); i >= 0 {
		return fmt.Errorf("%w: byte %q at %d", ErrInvalidReplicaID, s[i], i)
	}
	return nil
}

// InvalidIDByte returns the index of the first byte of s outside the
// alphabet every ID in this project uses (replica, cart and item IDs):
// A-Z a-z 0-9 . _ : @ -. It returns -1 when there is none. The alphabet is
// safe in URLs, file names, logs and keys without escaping.
func InvalidIDByte(s string) int {
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case c == '.', c == '_', c == ':', c == '@', c == '-':
		default:
			return i
		}
	}
	return -1
}

// mustValid panics when a mutator is handed an invalid replica ID: that is a
// programming error in the caller, which should have used ParseReplicaID.
func mustValid(id ReplicaID) {
	if err := validReplicaID(string(id)); err != nil {
		panic(fmt.Sprintf("crdt: mutator called with %v", err))
	}
}
