package gossip

import "testing"

// TestHashesAreStable pins the hashes that leave the process: a key's
// hash picks its digest bucket and sub-bucket on every node, and
// ObjectHash is exchanged in digests and stored in the data file's index.
// A change to either makes nodes of two versions see every bucket differ
// (and repair forever), and makes an existing data file's index wrong, so
// it must come with a new wire and file format, never silently.
func TestHashesAreStable(t *testing.T) {
	t.Parallel()
	for key, want := range map[string]uint64{
		"":        0xf52a15e9a9b5e89b,
		"a":       0x02c0bdbf481420f8,
		"cart/c1": 0x5bcb347105c42e85,
	} {
		if got := keyHash(key); got != want {
			t.Errorf("keyHash(%q) = %#x, want %#x", key, got, want)
		}
	}
	if got, want := ObjectHash("cart/c1", []byte{1, 2, 3}), uint64(0xf64c25e645251307); got != want {
		t.Errorf("ObjectHash = %#x, want %#x", got, want)
	}
}
