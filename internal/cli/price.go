package cli

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/crdtd/crdtd/api"
)

// ParsePrice parses a price written as a decimal number of currency units, such as "1.25", "3",
// "0.5" or ".5", into integer cents, exactly: no floating point is involved. It accepts digits
// with at most two after an optional decimal point; either side of the point may be empty
// (".5" is 50 cents, "5." is 500), but not both. It rejects signs, exponents, separators,
// spaces, and values above [api.MaxPriceCents].
func ParsePrice(s string) (cents int64, err error) {
	cents, err = parsePrice(s)
	if err != nil {
		return 0, fmt.Errorf("price %q: %v", s, err)
	}
	return cents, nil
}

// parsePrice is ParsePrice with errors that say only what is wrong, for callers that name the
// value themselves.
func parsePrice(s string) (int64, error) {
	units, frac, _ := strings.Cut(s, ".")
	if units == "" && frac == "" || !allDigits(units) || !allDigits(frac) {
		return 0, errors.New("want a decimal such as 1.25")
	}
	if len(frac) > 2 {
		return 0, errors.New("more than two decimal places")
	}
	tooHigh := fmt.Errorf("above the maximum %s", FormatCents(api.MaxPriceCents))
	const maxUnits = api.MaxPriceCents / 100
	var u int64
	if units != "" {
		var err error
		if u, err = strconv.ParseInt(units, 10, 64); err != nil || u > maxUnits {
			return 0, tooHigh
		}
	}
	var f int64
	if frac != "" {
		f, _ = strconv.ParseInt(frac, 10, 64) // 1 or 2 digits, checked above
		if len(frac) == 1 {
			f *= 10
		}
	}
	cents := u*100 + f
	if cents > api.MaxPriceCents {
		return 0, tooHigh
	}
	return cents, nil
}

// allDigits reports whether s holds only ASCII digits; the empty string does.
func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// FormatCents formats cents as a decimal with two places: 125 is "1.25", 300 is "3.00", -5 is
// "-0.05". [ParsePrice] reads back every non-negative result.
func FormatCents(cents int64) string {
	sign := ""
	u := uint64(cents)
	if cents < 0 {
		sign = "-"
		u = -u // two's complement: exact for math.MinInt64 too
	}
	return fmt.Sprintf("%s%d.%02d", sign, u/100, u%100)
}

// priceFlag is a pflag.Value for a --price flag: the parsed cents, and whether it was given at
// all (a price of 0 is a valid price).
type priceFlag struct {
	Cents int64
	Given bool
}

func (p *priceFlag) Set(s string) error {
	c, err := parsePrice(s)
	if err != nil {
		return err
	}
	p.Cents, p.Given = c, true
	return nil
}

func (p *priceFlag) String() string {
	if !p.Given {
		return ""
	}
	return FormatCents(p.Cents)
}

func (p *priceFlag) Type() string { return "price" }

// ptr returns the cents if the price was given, nil otherwise, for the API's optional fields.
func (p *priceFlag) ptr() *int64 {
	if !p.Given {
		return nil
	}
	c := p.Cents
	return &c
}
