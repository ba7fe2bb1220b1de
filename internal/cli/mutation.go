package cli

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net/http"

	"github.com/spf13/cobra"

	"github.com/crdtd/crdtd/api"
	"github.com/crdtd/crdtd/client"
)

// A mutation (add, set, remove, clear) sends an Idempotency-Key: the node applies the first
// request with a key and answers later ones with the stored result. package client makes up a
// fresh key per call, which makes its own retries safe but not a rerun of the command. cartctl
// therefore chooses the key itself, takes it from --idempotency-key when given, and prints it
// when the outcome is unknown, so that the user can retry the very same change.

// idempotencyKeyFlag is the flag that sets a mutation's Idempotency-Key.
const idempotencyKeyFlag = "idempotency-key"

// addIdempotencyKeyFlag defines --idempotency-key on a mutation command.
func addIdempotencyKeyFlag(cmd *cobra.Command, key *string) {
	cmd.Flags().StringVar(key, idempotencyKeyFlag, "",
		"apply the change at most once per node under this key, so a rerun with it is safe (default: a new key each run)")
}

// checkIdempotencyKey validates a key given with --idempotency-key ("" is none): the API takes
// 1-128 characters of the ID alphabet.
func checkIdempotencyKey(key string) error {
	if key == "" {
		return nil
	}
	if len(key) > api.MaxIDLength || api.InvalidIDByte(key) >= 0 {
		return flagErrorf("--%s %q: want 1-%d characters of A-Z a-z 0-9 . _ : @ -", idempotencyKeyFlag, key, api.MaxIDLength)
	}
	return nil
}

// mutationKey returns the key of a mutation: the one given, or a new random one.
func mutationKey(given string) string {
	if given != "" {
		return given
	}
	return rand.Text() // 26 characters of A-Z 2-7: 128 random bits
}

// keyContextKey is the context key under which withIdempotencyKey stores a key.
type keyContextKey struct{}

// withIdempotencyKey returns ctx carrying key; see keyTransport.
func withIdempotencyKey(ctx context.Context, key string) context.Context {
	return context.WithValue(ctx, keyContextKey{}, key)
}

// keyTransport sends a request whose context carries a key (withIdempotencyKey) with that key in
// place of the Idempotency-Key the client chose. Requests without the header (reads) are left as
// they are. It is safe for concurrent use if base is.
type keyTransport struct {
	base http.RoundTripper
}

// RoundTrip sends req, with its key replaced if its context carries one.
func (t keyTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	key, _ := req.Context().Value(keyContextKey{}).(string)
	if key == "" || req.Header.Get("Idempotency-Key") == "" {
		return t.base.RoundTrip(req)
	}
	req = req.Clone(req.Context()) // a RoundTripper must not modify its request
	req.Header.Set("Idempotency-Key", key)
	return t.base.RoundTrip(req)
}

// newHTTPClient returns the HTTP client of cartctl's API clients: package client's defaults (an
// attempt timeout, no redirects) over a keyTransport, with tc (if not nil) for https nodes.
func newHTTPClient(tc *tls.Config) *http.Client {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	if tc != nil {
		tr.TLSClientConfig = tc
	}
	return &http.Client{
		Transport: keyTransport{base: tr},
		Timeout:   client.DefaultAttemptTimeout,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse // the API never redirects; a redirected POST loses its body
		},
	}
}

// unsureError is the error of a mutation whose outcome is unknown: the node did not answer in
// time, or the command was interrupted, after the request may have reached it. Main prints how
// to retry the change safely (with its Idempotency-Key) or check it.
type unsureError struct {
	Err  error  // what went wrong; it wraps client.ErrUnreachable or a context error
	Cart string // the cart changed
	Key  string // the Idempotency-Key the request carried
}

// Error returns the message of Err.
func (e *unsureError) Error() string { return e.Err.Error() }

// Unwrap returns Err.
func (e *unsureError) Unwrap() error { return e.Err }

// mutationError returns err, the failure of a mutation of cart sent with key, as an
// *unsureError when its outcome is unknown.
func mutationError(err error, cart, key string) error {
	if errors.Is(err, client.ErrUnreachable) || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return &unsureError{Err: err, Cart: cart, Key: key}
	}
	return err
}

// printRetryHint tells the user what an *unsureError means and what to do.
func printRetryHint(w io.Writer, e *unsureError) {
	fmt.Fprintf(w, "The change may or may not have been applied. Running the command again as it is would\n"+
		"be a new change; to retry this one safely, run it again with --%s %s\n"+
		"against the same node, which applies a key at most once (it keeps keys for 24 hours).\n"+
		"To check first: cartctl show %s\n", idempotencyKeyFlag, e.Key, e.Cart)
}
