package daemon

import (
	"math"
	"testing"
)

func TestMemoryLimit(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		cache int64
		carts int
		want  int64
	}{
		{256 << 20, 0, 512<<20 + 512<<20},
		{256 << 20, 1_000_000, 512<<20 + 200_000_000 + 512<<20},
		{1 << 30, 5_000_000, 2<<30 + 1_000_000_000 + 512<<20},
		{math.MaxInt64 / 2, 10, math.MaxInt64},
	} {
		if got := memoryLimit(tc.cache, tc.carts); got != tc.want {
			t.Errorf("memoryLimit(%d, %d) = %d, want %d", tc.cache, tc.carts, got, tc.want)
		}
	}
}
