package cli

import (
	"strings"
	"testing"

	"pgregory.net/rapid"

	"github.com/crdtd/crdtd/api"
)

func TestParsePrice(t *testing.T) {
	valid := []struct {
		in   string
		want int64
	}{
		{"0", 0},
		{"0.0", 0},
		{"0.00", 0},
		{"0.5", 50},
		{".5", 50},
		{".05", 5},
		{"5.", 500},
		{"0.", 0},
		{".0", 0},
		{"0.05", 5},
		{"1.25", 125},
		{"3", 300},
		{"007.10", 710},
		{"19.99", 1999},
		{"10000000000", api.MaxPriceCents},
		{"10000000000.00", api.MaxPriceCents},
	}
	for _, tt := range valid {
		got, err := ParsePrice(tt.in)
		if err != nil || got != tt.want {
			t.Errorf("ParsePrice(%q) = %d, %v; want %d", tt.in, got, err, tt.want)
		}
	}
	invalid := []string{
		"", " ", "1.255", "1.2.3", "-1", "+1", "-0.5", "1e3", "1E3", "NaN", "Inf", "0x10", ".", "..5", "5..", ".5.", "-.5", "+.5", ". 5", ".555",
		" 1", "1 ", "1,00", "1_000", "10000000000.01", "10000000001", "99999999999999999999999",
		"１", "1.2a", "$1", "١",
	}
	for _, in := range invalid {
		if got, err := ParsePrice(in); err == nil {
			t.Errorf("ParsePrice(%q) = %d, want an error", in, got)
		}
	}
}

func TestFormatCents(t *testing.T) {
	tests := []struct {
		in   int64
		want string
	}{
		{0, "0.00"}, {5, "0.05"}, {50, "0.50"}, {125, "1.25"}, {300, "3.00"}, {-5, "-0.05"}, {-125, "-1.25"},
		{api.MaxPriceCents, "10000000000.00"},
		{-9223372036854775808, "-92233720368547758.08"},
	}
	for _, tt := range tests {
		if got := FormatCents(tt.in); got != tt.want {
			t.Errorf("FormatCents(%d) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestPriceRoundTrip(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		cents := rapid.Int64Range(0, api.MaxPriceCents).Draw(t, "cents")
		s := FormatCents(cents)
		got, err := ParsePrice(s)
		if err != nil || got != cents {
			t.Fatalf("ParsePrice(FormatCents(%d) = %q) = %d, %v; want %d", cents, s, got, err, cents)
		}
	})
}

func TestParsePriceCanonical(t *testing.T) {
	// Any accepted spelling reads as the same cents as its canonical form.
	rapid.Check(t, func(t *rapid.T) {
		units := rapid.StringMatching(`[0-9]{0,11}`).Draw(t, "units")
		frac := rapid.StringMatching(`(\.[0-9]{0,2})?`).Draw(t, "frac")
		s := units + frac
		if s == "" || s == "." {
			return
		}
		got, err := ParsePrice(s)
		if err != nil {
			if !strings.Contains(err.Error(), "maximum") {
				t.Fatalf("ParsePrice(%q): unexpected error %v", s, err)
			}
			return
		}
		again, err := ParsePrice(FormatCents(got))
		if err != nil || again != got {
			t.Fatalf("ParsePrice(%q) = %d, but its canonical form %q reads as %d, %v", s, got, FormatCents(got), again, err)
		}
	})
}

func TestParsePriceNeverOutOfRange(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		s := rapid.String().Draw(t, "s")
		got, err := ParsePrice(s)
		if err == nil && (got < 0 || got > api.MaxPriceCents) {
			t.Fatalf("ParsePrice(%q) = %d, outside 0..%d", s, got, api.MaxPriceCents)
		}
	})
}
