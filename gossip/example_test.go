package gossip_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/crdtd/crdtd/gossip"
)

// maxStore is a toy Delegate: every object is a string and the join of two
// states is the larger string (a max-register, which is a lattice).
type maxStore struct {
	mu   sync.Mutex // guards objs
	objs map[string]string
}

func (s *maxStore) set(key, v string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if v > s.objs[key] {
		s.objs[key] = v
	}
}

func (s *maxStore) get(key string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.objs[key]
}

func (s *maxStore) Merge(key string, data []byte, _ gossip.MergeInfo) (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if v := string(data); v > s.objs[key] {
		s.objs[key] = v
		return true, nil
	}
	return false, nil
}

func (s *maxStore) State(key string) ([]byte, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	v, ok := s.objs[key]
	return []byte(v), ok
}

// Hashes yields each object's hash. A store that persists its objects
// would persist gossip.ObjectHash(key, state) next to each state and read
// only the hashes here.
func (s *maxStore) Hashes(fn func(string, uint64) bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for k, v := range s.objs {
		if !fn(k, gossip.ObjectHash(k, []byte(v))) {
			return
		}
	}
}

func Example() {
	start := func(name string) (*gossip.Node, *maxStore) {
		store := &maxStore{objs: map[string]string{}}
		cfg := gossip.DefaultLocalConfig()
		cfg.Name, cfg.Delegate = name, store
		// Meta is for the application; peers see it in Member.Meta.
		cfg.Meta = map[string]string{"zone": "zone-" + name}
		cfg.Memberlist.BindPort = 0 // any free port
		cfg.Memberlist.Label = "example"
		n, err := gossip.New(cfg)
		if err != nil {
			panic(err)
		}
		return n, store
	}
	a, storeA := start("a")
	defer a.Shutdown()
	b, storeB := start("b")
	defer b.Shutdown()

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := b.Join(ctx, []string{a.LocalMember().Addr}); err != nil {
		panic(err)
	}

	// A local change: apply, (commit,) then publish the delta.
	storeA.set("greeting", "hello")
	a.Publish("greeting", []byte("hello"), time.Now())

	// Wait, to a deadline, for b to hold the change and agree with a.
	deadline := time.Now().Add(10 * time.Second)
	for storeB.get("greeting") == "" || a.Digest() != b.Digest() {
		if time.Now().After(deadline) {
			fmt.Println("not replicated within 10s") // fails the example's output
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	var names []string
	for _, m := range b.Members() {
		names = append(names, m.Name+"="+m.State+"/"+m.Meta["zone"])
	}
	fmt.Println(storeB.get("greeting"))
	fmt.Println(strings.Join(names, " "))
	// Output:
	// hello
	// a=alive/zone-a b=alive/zone-b
}
