package daemon

import (
	"context"
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
