// Package api is the HTTP contract of crdtd: the JSON bodies of every route, the error codes and
// the HTTP status each travels with, the limits the node enforces, and the rule for cart and item
// IDs. The daemon answers with these types and the Go client decodes them, so a change here is a
// change of the API for both sides at once.
//
// The package holds values and pure checks only. It imports nothing of this module, so a program
// that speaks the API (the client, a load generator, a test) needs neither the CRDT library nor
// the daemon. The routes and their semantics are described in docs/http-api.md.
//
// The types are plain values with no behaviour; copying one is safe, and sharing one between
// goroutines is safe for reading.
package api
