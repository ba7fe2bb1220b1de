package cmdutil

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// ByteSize is a pflag.Value for a number of bytes, written as a whole
// number with an optional unit: B, KiB, MiB, GiB, TiB (powers of 1024) or
// kB, MB, GB, TB (powers of 1000), case-insensitive for the letters after
// the first: "268435456", "256MiB", "1.5GiB", "300MB".
type ByteSize int64

var byteUnits = []struct {
	suffix string
	scale  float64
}{
	{"kib", 1 << 10}, {"mib", 1 << 20}, {"gib", 1 << 30}, {"tib", 1 << 40},
	{"kb", 1e3}, {"mb", 1e6}, {"gb", 1e9}, {"tb", 1e12},
	{"b", 1},
}

// Set parses s.
func (b *ByteSize) Set(s string) error {
	t := strings.ToLower(strings.TrimSpace(s))
	scale := 1.0
	for _, u := range byteUnits {
		if strings.HasSuffix(t, u.suffix) {
			t, scale = strings.TrimSpace(strings.TrimSuffix(t, u.suffix)), u.scale
			break
		}
	}
	f, err := strconv.ParseFloat(t, 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
		return fmt.Errorf("want a size such as 256MiB, 1GiB or 268435456")
	}
	v := f * scale
	if v < 0 {
		return fmt.Errorf("a size cannot be negative")
	}
	if v >= 1<<62 {
		return fmt.Errorf("too large")
	}
	*b = ByteSize(v)
	return nil
}

// String formats b in the largest binary unit that divides it.
func (b ByteSize) String() string {
	for _, u := range []struct {
		name  string
		scale int64
	}{{"TiB", 1 << 40}, {"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}} {
		if b != 0 && int64(b)%u.scale == 0 {
			return strconv.FormatInt(int64(b)/u.scale, 10) + u.name
		}
	}
	return strconv.FormatInt(int64(b), 10)
}

// Type names the value in help text.
func (b *ByteSize) Type() string { return "size" }
