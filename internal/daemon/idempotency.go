package daemon

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"sync"

	"github.com/crdtd/crdtd/internal/store"
)

// idempotency serializes requests that carry the same Idempotency-Key, so
// that a retry arriving while the first attempt is still running waits for
// it and then returns its stored response instead of applying twice.
type idempotency struct {
	mu       sync.Mutex
	inflight map[string]chan struct{}
}

// acquire waits until no other request holds key, then returns the stored
// response if the key was already applied (cached != nil), and a release
// function to call when the request is done.
func (t *idempotency) acquire(ctx context.Context, s *store.Store, key string) (release func(), cached []byte, err error) {
	for {
		t.mu.Lock()
		if t.inflight == nil {
			t.inflight = make(map[string]chan struct{})
		}
		ch, busy := t.inflight[key]
		if !busy {
			done := make(chan struct{})
			t.inflight[key] = done
			t.mu.Unlock()
			release = func() {
				t.mu.Lock()
				delete(t.inflight, key)
				t.mu.Unlock()
				close(done)
			}
			result, ok, err := s.LookupIdempotency(key)
			if err != nil {
				release()
				return nil, nil, err
			}
			if ok {
				return release, result, nil
			}
			return release, nil, nil
		}
		t.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return nil, nil, ctx.Err()
		}
	}
}

// An idempotency record binds a key to the request that first used it and
// keeps that request's answer:
//
//	0x01 | SHA-256 of (method, path, body) | answer
//
// The answer is left out when it is longer than maxKeptAnswer: a replay then
// answers with the cart's current view and says so in a header. Keeping
// every answer whole let a client grow the data file by a cart's full view
// per key. Records written before the binding existed are a bare JSON
// answer (they start with '{'); they are replayed as they are.
const (
	idemRecordV1  = 0x01
	maxKeptAnswer = 4 << 10
)

// errKeyReused refuses a request whose Idempotency-Key was used by a
// different request.
var errKeyReused = errors.New("idempotency key reused")

// requestFingerprint identifies a request for its idempotency key.
func requestFingerprint(method, path string, body []byte) [sha256.Size]byte {
	h := sha256.New()
	h.Write([]byte(method))
	h.Write([]byte{0})
	h.Write([]byte(path))
	h.Write([]byte{0})
	h.Write(body)
	var fp [sha256.Size]byte
	h.Sum(fp[:0])
	return fp
}

// encodeIdemRecord returns the record stored with a key.
func encodeIdemRecord(fp [sha256.Size]byte, answer []byte) []byte {
	if len(answer) > maxKeptAnswer {
		answer = nil
	}
	rec := make([]byte, 0, 1+len(fp)+len(answer))
	rec = append(rec, idemRecordV1)
	rec = append(rec, fp[:]...)
	return append(rec, answer...)
}

// matchIdemRecord checks a stored record against the request now carrying
// its key, and returns the stored answer (nil if it was too large to keep).
func matchIdemRecord(rec []byte, fp [sha256.Size]byte) (answer []byte, err error) {
	switch {
	case len(rec) > 0 && rec[0] == '{':
		return rec, nil // written before keys were bound to requests
	case len(rec) < 1+sha256.Size || rec[0] != idemRecordV1:
		return nil, fmt.Errorf("idempotency record of %d bytes in an unknown format", len(rec))
	case !bytes.Equal(rec[1:1+sha256.Size], fp[:]):
		return nil, fmt.Errorf("%w: the key was used by a different request (method, path or body); "+
			"use a new key for a new change", errKeyReused)
	}
	if answer = rec[1+sha256.Size:]; len(answer) == 0 {
		return nil, nil
	}
	return answer, nil
}
