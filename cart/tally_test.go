package cart

import (
	"math"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// checkTallies fails unless every line of c keeps the true sum of its
// increments: quantities are read from that sum, never from the
// increments themselves.
func checkTallies(t interface{ Fatalf(string, ...any) }, who string, c *Cart) {
	c.m.Each(func(item string, l line) bool {
		if want := tallyOf(l.incs); l.added != want {
			t.Fatalf("%s: line %s keeps %+v as the sum of its increments; they sum to %+v", who, item, l.added, want)
		}
		return true
	})
}

// TestTallyFollowsMerges walks the merges that keep some of a line's
// increments and drop others, where the kept sum must be recounted: a
// delta seen twice, a remove that drops adds, a delta whose add the
// receiver already removed, and a restart from the encoding.
func TestTallyFollowsMerges(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	phone, laptop := newDevice(t, "phone", now), newDevice(t, "laptop", now)

	a1 := phone.add("apple", 2)
	a2 := phone.add("apple", 3)
	laptop.receive(a1, a2, a1) // the second a1 changes nothing
	checkTallies(t, "laptop", laptop.cart)
	require.Equal(t, uint64(5), laptop.cart.Quantity("apple"))

	rm := laptop.remove("apple")
	a3 := phone.add("apple", 4) // concurrent with the remove: survives it
	phone.receive(rm)
	checkTallies(t, "phone", phone.cart)
	require.Equal(t, uint64(4), phone.cart.Quantity("apple"))

	laptop.receive(a2, a3) // a2 is one the laptop removed
	checkTallies(t, "laptop", laptop.cart)
	require.Equal(t, uint64(4), laptop.cart.Quantity("apple"))

	b, err := laptop.cart.MarshalBinary()
	require.NoError(t, err)
	restarted := New()
	require.NoError(t, restarted.UnmarshalBinary(b))
	checkTallies(t, "restarted", restarted)
	checkTallies(t, "clone", restarted.Clone())
	restarted.m.Each(func(item string, l line) bool {
		require.Equal(t, l.added, l.Clone().added, "line %s cloned", item)
		return true
	})
	require.Equal(t, uint64(4), restarted.Quantity("apple"))
}

// TestTallyOverflow checks that a sum past what uint64 holds is an
// overflow, as the quantity of a line merged from hostile state must be,
// and that it stays one however the sums are added up.
func TestTallyOverflow(t *testing.T) {
	big := tally{sum: math.MaxUint64 - 1}
	require.Equal(t, tally{sum: math.MaxUint64}, big.plus(tally{sum: 1}))
	require.True(t, big.plus(tally{sum: 2}).over)
	require.True(t, tally{over: true}.plus(tally{}).over)
	require.True(t, tally{}.plus(tally{over: true}).over)
	q, ok := line{added: tally{sum: 5}}.quantity()
	require.True(t, ok)
	require.Equal(t, uint64(5), q)
	_, ok = line{added: tally{over: true}}.quantity()
	require.False(t, ok)
}
