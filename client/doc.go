// Package client is the Go client of the crdtd HTTP API (docs/http-api.md). Its requests and
// answers are the wire types of package [github.com/crdtd/crdtd/api]. [New] takes a [Config] (node address,
// bearer token, retry policy) and returns a [Client], safe for concurrent use, whose methods take
// a context first. Every mutation carries a random Idempotency-Key, and is retried with that same
// key, a bounded number of times with backoff, only when the node may not have answered (the
// connection failed or was dropped, the attempt timed out) or answered 503; the node applies a
// key at most once. [Client.Sync] carries a device's sync body (package device builds it); it
// needs no key, since merging the same changes twice changes nothing, and is retried the same
// way. Errors from the node are [*APIError]; a node that cannot be reached gives an
// error wrapping [ErrUnreachable]; an ID the API would reject gives [ErrInvalidID] before anything
// is sent.
package client
