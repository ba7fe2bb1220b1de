// Package mlwire rebuilds the parts of hashicorp/memberlist's wire format
// that tests need to craft packets no real node sends: message types
// (memberlist's net.go), the alive message (state.go), compound messages
// (util.go), label headers and the AES-GCM sealing of a cluster key
// (security.go, version 1). It is for tests only; production code talks
// to memberlist through its API.
package mlwire

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"net"

	"github.com/vmihailenco/msgpack/v5"
)

// Memberlist message types: the first byte of a message.
const (
	TypeAlive    = 4
	TypePushPull = 6
	TypeCompound = 7
	TypeUser     = 8
	TypeCompress = 9
	TypeEncrypt  = 10
	TypeLabel    = 244
)

// Alive is an alive message, type byte first, about a member called name
// at 127.0.0.1:port with the protocol versions vsn (nil for none, which
// memberlist does not check).
func Alive(name string, port int, vsn []uint8) []byte {
	body, err := msgpack.Marshal(struct {
		Incarnation uint32
		Node        string
		Addr        []byte
		Port        uint16
		Meta        []byte
		Vsn         []uint8
	}{1, name, net.IPv4(127, 0, 0, 1).To4(), uint16(port), nil, vsn})
	if err != nil {
		panic(err) // a fixed struct of plain fields always encodes
	}
	return append([]byte{TypeAlive}, body...)
}

// Compound wraps messages in one compound message: the type, a count
// byte, each length as a big-endian uint16, then the messages.
func Compound(msgs ...[]byte) []byte {
	b := []byte{TypeCompound, byte(len(msgs))}
	for _, m := range msgs {
		b = binary.BigEndian.AppendUint16(b, uint16(len(m)))
	}
	for _, m := range msgs {
		b = append(b, m...)
	}
	return b
}

// LabelHeader is the header a packet or stream of a cluster with label
// starts with, or nothing for no label.
func LabelHeader(label string) []byte {
	if label == "" {
		return nil
	}
	return append([]byte{TypeLabel, byte(len(label))}, label...)
}

// Encrypt seals msg with key and the additional data aad, the way
// memberlist's encryptPayload version 1 does: the version byte, a random
// 12-byte nonce, the sealed message.
func Encrypt(key, msg, aad []byte) []byte {
	gcm := newGCM(key)
	nonce := make([]byte, gcm.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		panic(err)
	}
	return gcm.Seal(append([]byte{1}, nonce...), nonce, msg, aad)
}

// Decrypt opens what Encrypt sealed (memberlist's versions 0 and 1 differ
// only in padding at the end, which the callers ignore).
func Decrypt(key, sealed, aad []byte) ([]byte, error) {
	gcm := newGCM(key)
	if len(sealed) < 1+gcm.NonceSize() {
		return nil, fmt.Errorf("sealed message of %d bytes", len(sealed))
	}
	n := 1 + gcm.NonceSize()
	return gcm.Open(nil, sealed[1:n], sealed[n:], aad)
}

// newGCM is AES-GCM with key, which must be 16, 24 or 32 bytes.
func newGCM(key []byte) cipher.AEAD {
	block, err := aes.NewCipher(key)
	if err != nil {
		panic(err)
	}
	gcm, err := cipher.NewGCM(block)
	if err != nil {
		panic(err)
	}
	return gcm
}
