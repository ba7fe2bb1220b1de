package store

import (
	"errors"
	"fmt"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"
)

// must holds small fail-now assertions. (testify's require would pull in a
// YAML module that go.sum does not list yet.)
var must asserts

type asserts struct{}

func msg(args []any) string {
	if len(args) == 0 {
		return ""
	}
	if f, ok := args[0].(string); ok {
		return ": " + fmt.Sprintf(f, args[1:]...)
	}
	return ": " + fmt.Sprint(args...)
}

func (asserts) NoError(tb testing.TB, err error, args ...any) {
	tb.Helper()
	if err != nil {
		tb.Fatalf("got error %v, want none%s", err, msg(args))
	}
}

func (asserts) Error(tb testing.TB, err error, args ...any) {
	tb.Helper()
	if err == nil {
		tb.Fatalf("got no error, want one%s", msg(args))
	}
}

func (asserts) ErrorIs(tb testing.TB, err, target error, args ...any) {
	tb.Helper()
	if !errors.Is(err, target) {
		tb.Fatalf("got error %v, want %v%s", err, target, msg(args))
	}
}

func (asserts) ErrorAs(tb testing.TB, err error, target any, args ...any) {
	tb.Helper()
	if !errors.As(err, target) {
		tb.Fatalf("got error %v (%T), want %T%s", err, err, target, msg(args))
	}
}

func (asserts) Equal(tb testing.TB, want, got any, args ...any) {
	tb.Helper()
	if !reflect.DeepEqual(want, got) {
		tb.Fatalf("got %#v, want %#v%s", got, want, msg(args))
	}
}

func (asserts) NotEqual(tb testing.TB, a, b any, args ...any) {
	tb.Helper()
	if reflect.DeepEqual(a, b) {
		tb.Fatalf("got %#v twice, want different values%s", a, msg(args))
	}
}

func (asserts) True(tb testing.TB, v bool, args ...any) {
	tb.Helper()
	if !v {
		tb.Fatalf("got false, want true%s", msg(args))
	}
}

func (asserts) False(tb testing.TB, v bool, args ...any) {
	tb.Helper()
	if v {
		tb.Fatalf("got true, want false%s", msg(args))
	}
}

func (asserts) Zero(tb testing.TB, v any, args ...any) {
	tb.Helper()
	if !reflect.ValueOf(v).IsZero() {
		tb.Fatalf("got %#v, want zero%s", v, msg(args))
	}
}

func (asserts) Len(tb testing.TB, v any, n int, args ...any) {
	tb.Helper()
	if l := reflect.ValueOf(v).Len(); l != n {
		tb.Fatalf("got length %d, want %d%s", l, n, msg(args))
	}
}

func (asserts) Contains(tb testing.TB, s, sub string, args ...any) {
	tb.Helper()
	if !strings.Contains(s, sub) {
		tb.Fatalf("got %q, want it to contain %q%s", s, sub, msg(args))
	}
}

func (asserts) Regexp(tb testing.TB, re *regexp.Regexp, s string, args ...any) {
	tb.Helper()
	if !re.MatchString(s) {
		tb.Fatalf("got %q, want a match for %s%s", s, re, msg(args))
	}
}

func (asserts) Panics(tb testing.TB, want any, fn func(), args ...any) {
	tb.Helper()
	var got any
	func() {
		defer func() { got = recover() }()
		fn()
	}()
	if got != want {
		tb.Fatalf("got panic %v, want %v%s", got, want, msg(args))
	}
}

func (asserts) Eventually(tb testing.TB, cond func() bool, timeout time.Duration, args ...any) {
	tb.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			tb.Fatalf("condition not met within %v%s", timeout, msg(args))
		}
		time.Sleep(time.Millisecond)
	}
}
