package gossip

import (
	"bytes"
	"testing"
)

func TestNewKeyring(t *testing.T) {
	t.Parallel()
	k1, k2, k3 := bytes.Repeat([]byte{1}, 32), bytes.Repeat([]byte{2}, 16), bytes.Repeat([]byte{3}, 24)
	kr, err := NewKeyring(k1, k2, k3)
	if err != nil {
		t.Fatal(err)
	}
	if got := kr.GetPrimaryKey(); !bytes.Equal(got, k1) {
		t.Errorf("primary key: got %x, want %x", got, k1)
	}
	keys := kr.GetKeys()
	if len(keys) != 3 || !bytes.Equal(keys[0], k1) {
		t.Errorf("keys: got %x, want the primary first and three keys", keys)
	}

	for _, tc := range []struct {
		name      string
		primary   []byte
		secondary [][]byte
	}{
		{"no primary", nil, [][]byte{k1}},
		{"short primary", k1[:10], nil},
		{"short secondary", k1, [][]byte{k2[:15]}},
	} {
		if _, err := NewKeyring(tc.primary, tc.secondary...); err == nil {
			t.Errorf("%s: NewKeyring succeeded, want an error", tc.name)
		}
	}
}
