package gossip

import (
	"bytes"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
)

// genDelegate is a cheap Delegate for tests at scale: it holds objects
// genKey(0) to genKey(n-1), each with a state of genStateLen bytes made
// from its key, and keeps only the states that differ from the made ones.
// Merge keeps the larger state (a max-register, which is a join), so a
// state set with bump wins over the made one.
type genDelegate struct {
	n atomic.Int64
	// mu guards changed.
	mu      sync.Mutex
	changed map[string][]byte
}

const genStateLen = 150

func newGenDelegate(n int) *genDelegate {
	d := &genDelegate{changed: make(map[string][]byte)}
	d.n.Store(int64(n))
	return d
}

// genKey is the i-th object's key, shaped like a daemon cart key
// ("c/cart-000123456", 16 bytes).
func genKey(i int) string { return fmt.Sprintf("c/cart-%09d", i) }

// made returns key's made state, or ok=false if key is not one of d's.
func (d *genDelegate) made(key string) ([]byte, bool) {
	num, ok := strings.CutPrefix(key, "c/cart-")
	if !ok || len(num) != 9 {
		return nil, false
	}
	i, err := strconv.Atoi(num)
	if err != nil || i < 0 || int64(i) >= d.n.Load() {
		return nil, false
	}
	b := bytes.Repeat([]byte{'a'}, genStateLen)
	copy(b, key)
	return b, true
}

// grow makes d hold objects up to genKey(n-1), as local changes: the
// caller tells gossip with Updated.
func (d *genDelegate) grow(n int) { d.n.Store(int64(n)) }

// bump gives key a new state larger than any it had, as a local change,
// and returns it.
func (d *genDelegate) bump(key string) []byte {
	cur, _ := d.State(key)
	next := append(append([]byte(nil), cur...), 'z')
	d.mu.Lock()
	d.changed[key] = next
	d.mu.Unlock()
	return next
}

func (d *genDelegate) Merge(key string, data []byte, _ MergeInfo) (bool, error) {
	cur, _ := d.State(key)
	if bytes.Compare(data, cur) <= 0 {
		return false, nil
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	d.changed[key] = append([]byte(nil), data...)
	return true, nil
}

func (d *genDelegate) State(key string) ([]byte, bool) {
	d.mu.Lock()
	s, ok := d.changed[key]
	d.mu.Unlock()
	if ok {
		return s, true
	}
	return d.made(key)
}

func (d *genDelegate) Hashes(fn func(string, uint64) bool) {
	for i := range int(d.n.Load()) {
		k := genKey(i)
		s, _ := d.State(k)
		if !fn(k, ObjectHash(k, s)) {
			return
		}
	}
}
