package gossip

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"fmt"
)

// ParseKey decodes a base64 (standard encoding) gossip encryption key, as
// written by [GenerateKey] or `crdtd keygen`, and checks that it is 16, 24 or
// 32 bytes (AES-128/192/256-GCM). Surrounding white space, such as the
// newline at the end of a key file, is ignored. The result is suitable for
// memberlist.Config.SecretKey.
func ParseKey(b []byte) ([]byte, error) {
	s := bytes.TrimSpace(b)
	key := make([]byte, base64.StdEncoding.DecodedLen(len(s)))
	n, err := base64.StdEncoding.Decode(key, s)
	if err != nil {
		return nil, fmt.Errorf("parse gossip key: %v", err)
	}
	key = key[:n]
	switch len(key) {
	case 16, 24, 32:
		return key, nil
	}
	return nil, fmt.Errorf("parse gossip key: %d bytes, want 16, 24 or 32", len(key))
}

// GenerateKey returns a new random 32-byte key (AES-256), base64 encoded.
func GenerateKey() (string, error) {
	var key [32]byte
	if _, err := rand.Read(key[:]); err != nil {
		return "", fmt.Errorf("generate gossip key: %v", err)
	}
	return base64.StdEncoding.EncodeToString(key[:]), nil
}
