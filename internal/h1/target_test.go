package h1

import (
	"net/url"
	"testing"

	"pgregory.net/rapid"
)

// requirePlainTargetAsParseRequestURI fails unless plainTarget refuses
// target or reads it as url.ParseRequestURI does: the URL with its path
// and raw query alone.
func requirePlainTargetAsParseRequestURI(t interface{ Fatalf(string, ...any) }, target string) {
	path, query, ok := plainTarget(target)
	if !ok {
		return
	}
	want, err := url.ParseRequestURI(target)
	if err != nil {
		t.Fatalf("plainTarget takes %q, which ParseRequestURI refuses: %v", target, err)
	}
	if got := (url.URL{Path: path, RawQuery: query}); got != *want {
		t.Fatalf("%q: plainTarget reads %#v, ParseRequestURI %#v", target, got, *want)
	}
}

// TestPlainTargetsParseAsParseRequestURI checks plainTarget against
// url.ParseRequestURI on targets mixing the characters plainTarget takes
// with those that matter to a URL's parser, and requires it to take the
// forms the API's clients send.
func TestPlainTargetsParseAsParseRequestURI(t *testing.T) {
	for _, target := range []string{
		"", "*", "/", "/?", "/a?", "//a", "/%", "/%41", "/a%2Fb", "/a?b?c", "/a#f", "/a?b#f", "/a b", "/a;b",
		"/a?%zz", "/a?b=%20", "/a?b=c d", "http://h/p", "/a:b", "/a@b", "/é",
	} {
		requirePlainTargetAsParseRequestURI(t, target)
	}
	plain := rapid.SampledFrom([]rune("/aZ09-._~"))
	special := rapid.SampledFrom([]rune("/?=&+%#:@!$'()*;, \x00\x7féaf"))
	rapid.Check(t, func(t *rapid.T) {
		start := rapid.SampledFrom([]string{"/", "/", "/", "", "//", "http://h/"}).Draw(t, "start")
		rest := rapid.StringOf(rapid.OneOf(plain, plain, special)).Draw(t, "rest")
		requirePlainTargetAsParseRequestURI(t, start+rest)
	})
	for _, target := range []string{"/", "/v1/carts/c1/items", "/v1/carts/c-1.x_y~z/items/i", "/v1/events?cart=c1&since=42", "/q?a=%20b+c"} {
		if _, _, ok := plainTarget(target); !ok {
			t.Errorf("plainTarget does not take %q", target)
		}
	}
}
