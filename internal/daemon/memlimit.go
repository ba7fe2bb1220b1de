package daemon

import (
	"math"
	"runtime/debug"
)

// The Go runtime lets the heap grow to (1 + GOGC/100) times the live data
// before it collects: three times at the node's GOGC=200. A node whose live
// heap is mostly its cart cache would then use up to three times
// --cache-size. With Config.SetMemoryLimit, the node sets Go's soft memory
// limit to what its live heap may reach, with room to spare, so the
// collector works harder near it instead of letting the heap grow:
//
//	2 x cache size + perCartMemory x carts held + memoryBase
//
// The per-cart term covers the anti-entropy digest (about 83 bytes per
// cart), the base the rest (gossip and HTTP buffers, the data file's pages
// in a commit). The limit follows the number of carts (memoryLimitLoop).
const (
	perCartMemory = 200
	memoryBase    = 512 << 20
)

// memoryLimit returns the soft memory limit for a cache of cacheSize bytes
// and carts carts.
func memoryLimit(cacheSize int64, carts int) int64 {
	l := 2*cacheSize + perCartMemory*int64(carts) + memoryBase
	if l < 0 || l > math.MaxInt64/2 {
		return math.MaxInt64
	}
	return l
}

// updateMemoryLimit sets Go's soft memory limit for the carts held now.
func (d *Daemon) updateMemoryLimit() {
	if !d.cfg.SetMemoryLimit {
		return
	}
	debug.SetMemoryLimit(memoryLimit(d.cfg.CacheSize, d.carts.count()))
}
