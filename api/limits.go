package api

import "fmt"

// Limits of the API. The node refuses a request beyond them with 400 (413 for the body) and
// stores nothing; the cart library enforces the same numbers on its own edits.
const (
	// MaxIDLength is the longest cart or item ID, in bytes. IDs are 1–128 characters of
	// [A-Za-z0-9._:@-].
	MaxIDLength = 128
	// MaxAddQuantity is the largest quantity one add may carry; the smallest is 1.
	MaxAddQuantity = 1_000_000
	// MaxSetQuantity is the largest quantity a set may give a line; 0 removes the line.
	MaxSetQuantity = 1_000_000
	// MaxPriceCents is the largest unit price, in cents (ten billion in the currency's unit).
	MaxPriceCents = 1_000_000_000_000
	// MaxLines is the most lines a node lets its own edits give one cart.
	MaxLines = 10_000
	// MaxBodyBytes bounds every request body (64 KiB).
	MaxBodyBytes = 64 << 10
	// MaxSyncBodyBytes bounds the body of a device sync (1 MiB): a push of
	// a device's pending changes, which may hold many edits made offline.
	MaxSyncBodyBytes = 1 << 20
	// DefaultPageSize is how many cart names GET /v1/carts answers without ?limit=.
	DefaultPageSize = 100
	// MaxPageSize is the largest ?limit= of GET /v1/carts.
	MaxPageSize = 1_000
)

// SyncContentType is the media type of device sync bodies (POST /v1/carts/{cart}/sync), both
// ways: msgpack envelopes whose format the cart package defines.
const SyncContentType = "application/vnd.crdtd.sync+msgpack"

// IDAlphabet names the bytes an ID may hold, for error messages.
const IDAlphabet = "A-Z a-z 0-9 . _ : @ -"

// ValidID reports whether id is a valid cart or item ID: 1 to [MaxIDLength] bytes, each one of
// [IDAlphabet], and neither "." nor ".." (a URL path cannot name them: they mean this and the
// parent segment). The error says what is wrong; it does not wrap a sentinel, since callers add
// their own (the client's ErrInvalidID, the daemon's 400).
func ValidID(id string) error {
	if len(id) == 0 || len(id) > MaxIDLength {
		return fmt.Errorf("length %d not in 1..%d", len(id), MaxIDLength)
	}
	if id == "." || id == ".." {
		return fmt.Errorf("%q is not an ID: a URL path cannot name it", id)
	}
	if i := InvalidIDByte(id); i >= 0 {
		return fmt.Errorf("%q has byte %q at %d (allowed: %s)", id, id[i], i, IDAlphabet)
	}
	return nil
}

// InvalidIDByte returns the index of the first byte of s outside [IDAlphabet], or -1 if there is
// none. IDs made of these bytes need no escaping in JSON or in a URL path segment.
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
