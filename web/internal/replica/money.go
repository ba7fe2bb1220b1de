package replica

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/crdtd/crdtd/cart"
)

// ErrPrice is wrapped by the error of ParseCents.
var ErrPrice = errors.New("invalid price")

// FormatCents formats an amount of integer cents as a decimal with two
// places ("12.05"), exactly: the page never turns money into a float.
func FormatCents(c int64) string {
	neg := c < 0
	u := uint64(c)
	if neg {
		u = -u
	}
	s := strconv.FormatUint(u/100, 10) + "." + strconv.FormatUint(u%100/10, 10) + strconv.FormatUint(u%10, 10)
	if neg {
		return "-" + s
	}
	return s
}

// ParseCents parses a price typed by a person, "3", "3.5" or "3.50", into
// integer cents (350), exactly; more than two decimal places, a sign, or
// an amount beyond cart.MaxPriceCents is an error.
func ParseCents(s string) (int64, error) {
	s = strings.TrimSpace(s)
	whole, frac, dot := strings.Cut(s, ".")
	if whole == "" && (!dot || frac == "") || len(frac) > 2 || !digits(whole) || !digits(frac) {
		return 0, fmt.Errorf("%w: %q is not an amount like 3.50", ErrPrice, s)
	}
	for len(frac) < 2 {
		frac += "0"
	}
	if whole == "" {
		whole = "0"
	}
	w, err := strconv.ParseInt(whole, 10, 64)
	if err != nil || w > cart.MaxPriceCents/100 {
		return 0, fmt.Errorf("%w: %q is over the largest price, %s", ErrPrice, s, FormatCents(cart.MaxPriceCents))
	}
	f, _ := strconv.ParseInt(frac, 10, 64)
	c := w*100 + f
	if c > cart.MaxPriceCents {
		return 0, fmt.Errorf("%w: %q is over the largest price, %s", ErrPrice, s, FormatCents(cart.MaxPriceCents))
	}
	return c, nil
}

func digits(s string) bool {
	for i := range len(s) {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}
