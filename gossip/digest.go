package gossip

import (
	"encoding/binary"
	"sync"
)

// FNV-1a 64 constants.
const (
	fnvOffset = 14695981039346656037
	fnvPrime  = 1099511628211
)

func fnvAdd(h uint64, p []byte) uint64 {
	for _, c := range p {
		h ^= uint64(c)
		h *= fnvPrime
	}
	return h
}

func fnvAddString(h uint64, s string) uint64 {
	for i := 0; i < len(s); i++ {
		h ^= uint64(s[i])
		h *= fnvPrime
	}
	return h
}

// mix is the splitmix64 finalizer: it spreads FNV's weak low bits so bucket
// choice and XOR sums behave like random 64-bit values.
func mix(h uint64) uint64 {
	h ^= h >> 30
	h *= 0xbf58476d1ce4e5b9
	h ^= h >> 27
	h *= 0x94d049bb133111eb
	h ^= h >> 31
	return h
}

// keyHash is the mixed FNV-1a hash of a key: its low byte picks the key's
// digest bucket and the next byte its sub-bucket.
func keyHash(key string) uint64 { return mix(fnvAddString(fnvOffset, key)) }

// bucketOf picks a key's digest bucket.
func bucketOf(key string) int { return int(keyHash(key) % digestBuckets) }

// subBucketOf picks a key's sub-bucket within its bucket.
func subBucketOf(key string) uint8 { return uint8(keyHash(key) >> 8) }

// ObjectHash is the per-object hash the digest uses: a hash of key and of
// state, the object's canonical full-state bytes (what [Delegate].State
// returns). It is never 0. A Delegate that stores its objects' hashes, to
// yield them from [Delegate].Hashes, must compute them with it.
//
// It is FNV-1a 64 over the uvarint key length, the key and the state,
// finished with the splitmix64 mixer: the length in front makes ("ab", "c")
// and ("a", "bc") differ. Its value is part of the wire protocol: nodes
// compare digests built from it.
func ObjectHash(key string, state []byte) uint64 {
	var n [binary.MaxVarintLen64]byte
	h := fnvAdd(fnvOffset, n[:binary.PutUvarint(n[:], uint64(len(key)))])
	h = fnvAddString(h, key)
	h = mix(fnvAdd(h, state))
	if h == 0 {
		h = 1
	}
	return h
}

// rootOf hashes a bucket array into the root. Equal bucket arrays give
// equal roots; the all-zero array (no objects) has root 0.
func rootOf(b *[digestBuckets]uint64) uint64 {
	h := uint64(fnvOffset)
	zero := true
	var w [8]byte
	for _, x := range b {
		if x != 0 {
			zero = false
		}
		binary.BigEndian.PutUint64(w[:], x)
		h = fnvAdd(h, w[:])
	}
	if zero {
		return 0
	}
	return mix(h)
}

// digest is the anti-entropy summary of the local objects: per key a 64-bit
// hash, XORed into one of 256 buckets chosen by the key. Updating one key is
// O(1): XOR the old hash out and the new one in, in the bucket and in one
// of its 256 sub-buckets, chosen by the key too. It is safe for concurrent
// use.
type digest struct {
	// mu guards the fields below.
	mu      sync.Mutex
	keys    [digestBuckets]map[string]uint64 // per bucket: key -> object hash
	buckets [digestBuckets]uint64
	// subs holds every bucket's sub-bucket hashes (512 KiB whatever the
	// number of keys): kept up to date like buckets, an offer made or
	// answered copies them instead of reading every key of its buckets.
	subs  [digestBuckets][subBuckets]uint64
	n     int    // number of keys
	root  uint64 // cached; valid when !dirty
	dirty bool
	// loading is set while the hashes a node starts with are being read
	// (Node.loadDigest); touched then holds the keys set meanwhile from
	// their current state, which the hashes read must not overwrite.
	loading bool
	touched map[string]struct{}
}

func newDigest() *digest {
	d := &digest{}
	for i := range d.keys {
		d.keys[i] = make(map[string]uint64)
	}
	return d
}

// set records key's current state; ok=false removes the key. It reports
// whether the digest changed.
func (d *digest) set(key string, state []byte, ok bool) bool {
	var h uint64
	if ok {
		h = ObjectHash(key, state)
	}
	return d.setHash(key, h)
}

// setHash records a precomputed object hash (0 = absent).
func (d *digest) setHash(key string, h uint64) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.loading {
		d.touched[key] = struct{}{}
	}
	return d.setHashLocked(key, h)
}

// beginLoad marks the digest as being loaded: until endLoad, loadHash
// leaves alone the keys setHash sets.
func (d *digest) beginLoad() {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.loading, d.touched = true, make(map[string]struct{})
}

// loadHash records a hash read at start, unless the key was set since the
// load began (its entry is then newer).
func (d *digest) loadHash(key string, h uint64) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if _, ok := d.touched[key]; !ok {
		d.setHashLocked(key, h)
	}
}

// endLoad ends the load that beginLoad began.
func (d *digest) endLoad() {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.loading, d.touched = false, nil
}

// loaded reports whether no load is under way.
func (d *digest) loaded() bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return !d.loading
}

func (d *digest) setHashLocked(key string, h uint64) bool {
	kh := keyHash(key)
	b, sub := kh%digestBuckets, uint8(kh>>8)
	old, had := d.keys[b][key]
	if old == h {
		return false
	}
	d.buckets[b] ^= old ^ h
	d.subs[b][sub] ^= old ^ h
	switch {
	case h == 0:
		delete(d.keys[b], key)
		d.n--
	case !had:
		d.keys[b][key] = h
		d.n++
	default:
		d.keys[b][key] = h
	}
	d.dirty = true
	return true
}

// Root returns the root hash over the buckets.
func (d *digest) Root() uint64 {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.rootLocked()
}

func (d *digest) rootLocked() uint64 {
	if d.dirty {
		d.root = rootOf(&d.buckets)
		d.dirty = false
	}
	return d.root
}

// snapshot is an immutable copy of the bucket array.
type snapshot struct {
	Root    uint64
	Keys    int
	Buckets [digestBuckets]uint64
}

func (d *digest) snapshot() *snapshot {
	d.mu.Lock()
	defer d.mu.Unlock()
	return &snapshot{Root: d.rootLocked(), Keys: d.n, Buckets: d.buckets}
}

// subHashes returns the hashes of bucket b's sub-buckets, each the XOR of
// its keys' object hashes.
func (d *digest) subHashes(b uint8) *[subBuckets]uint64 {
	d.mu.Lock()
	defer d.mu.Unlock()
	out := d.subs[b]
	return &out
}

// offerBucket returns bucket b as we offer it: its non-empty sub-buckets
// and their hashes; ok=false if we hold nothing in it.
func (d *digest) offerBucket(b uint8) (ob offerBucket, ok bool) {
	ob.Bucket = b
	for s, h := range d.subHashes(b) {
		if h != 0 {
			ob.Subs.add(uint8(s))
			ob.Hashes = append(ob.Hashes, h)
		}
	}
	return ob, len(ob.Hashes) > 0
}

// keysIn returns the keys currently in the given sub-buckets.
func (d *digest) keysIn(parts []subSet) []string {
	d.mu.Lock()
	defer d.mu.Unlock()
	var out []string
	for i := range parts {
		p := &parts[i]
		for k := range d.keys[p.Bucket] {
			if p.Subs.has(subBucketOf(k)) {
				out = append(out, k)
			}
		}
	}
	return out
}

// diffBuckets returns the indexes where a and b differ, ascending.
func diffBuckets(a, b *[digestBuckets]uint64) []uint8 {
	var out []uint8
	for i := range a {
		if a[i] != b[i] {
			out = append(out, uint8(i))
		}
	}
	return out
}
