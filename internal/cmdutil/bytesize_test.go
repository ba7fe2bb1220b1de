package cmdutil

import "testing"

func TestByteSize(t *testing.T) {
	for in, want := range map[string]int64{
		"0": 0, "268435456": 268435456, "256MiB": 256 << 20, "256mib": 256 << 20, "1.5GiB": 3 << 29,
		"300MB": 300_000_000, "4 KiB": 4096, "10B": 10, "2tib": 2 << 40,
	} {
		var b ByteSize
		if err := b.Set(in); err != nil || int64(b) != want {
			t.Errorf("Set(%q) = %d, %v; want %d", in, b, err, want)
		}
	}
	for _, in := range []string{"", "MiB", "-1MiB", "abc", "1XB", "NaN", "inf", "1e30GiB"} {
		var b ByteSize
		if err := b.Set(in); err == nil {
			t.Errorf("Set(%q) = %d, want an error", in, b)
		}
	}
	for in, want := range map[ByteSize]string{0: "0", 256 << 20: "256MiB", 1 << 30: "1GiB", 1000: "1000", 3 << 29: "1536MiB"} {
		if got := in.String(); got != want {
			t.Errorf("%d.String() = %q, want %q", in, got, want)
		}
	}
}
