// Package h1 serves HTTP/1.1 with less work per request than net/http's
// server, for an API whose requests are small and many.
//
// net/http's server pays, on every request of a kept-alive connection, for
// a goroutine that reads ahead in the background (to notice a client that
// goes away), the deadline changes that stop it again, a fresh header map
// and a buffered writer that writes a response in up to three pieces. For
// a request that adds an item to a cart, that is a third of the node's CPU.
// A Server here reads each request itself, runs the same http.Handler,
// and writes the whole answer (status line, headers and body) in one
// write. On Linux it reads and writes a TCP or Unix socket with raw
// system calls, waiting in the runtime's poller when the socket is not
// ready (socket_linux.go): a call the scheduler is told of and the kernel
// preempts has its thread's P handed off by the runtime's monitor, which
// then wakes every 20 µs: on a loaded node its sleeps alone were a third
// of the node's context switches.
//
// It parses the request's head itself (request.go): the request line,
// the header fields, and the framing of the body, into the *http.Request
// that http.ReadRequest would return (Host taken out of the header, as
// there). http.ReadRequest cost a dozen allocations per request (a
// header map and a string per value, canonical names, its body
// readers); the head's reader keeps its buffers between requests, interns
// the common field names, and makes one string for the target and all
// values of a short head. The *http.Request itself, its header map, its
// URL and its body's reader are the connection's, filled again for each
// request: a handler keeps none of them after it returns (the strings in
// them it may keep). A target that needs no decoding (a path of
// unreserved characters, a plain query) is read to the URL that
// url.ParseRequestURI would make; the package borrows only
// url.ParseRequestURI, for other targets, and net/http's chunk reader
// (httputil.NewChunkedReader), for a chunked body. Where RFC 9112 lets a server refuse what a proxy in front
// of it could read otherwise, it refuses, with 400: a line that ends in a
// bare LF, a folded field line (obs-fold), white space in a field name,
// Transfer-Encoding in an HTTP/1.0 request, a malformed or ambiguous
// Content-Length; a Transfer-Encoding other than chunked alone is 501; a
// request with both Transfer-Encoding and Content-Length is read as
// chunked and then closes its connection. A chunked body's trailer
// section is read and dropped.
//
// What it serves:
//
//   - HTTP/1.1 and HTTP/1.0 with keep-alive and pipelining (answers in
//     order); request bodies with Content-Length or chunked, and
//     "Expect: 100-continue" (the 100 is sent when the handler first reads
//     the body, if its answer has not gone out yet). A body's Close reads
//     nothing. What a handler left unread is read past, up to 256 KiB,
//     when the connection is to serve another request; otherwise the
//     answer goes first and the connection lingers (500 ms at most),
//     reading and dropping what the client still sends, so that the
//     client gets the answer rather than a reset.
//   - Answers buffered up to 64 KiB and sent with their length; a longer
//     one, or one whose handler flushes (an event stream), is sent as it
//     is written, chunked when its length is unknown.
//   - http.ResponseController's Flush, SetReadDeadline and
//     SetWriteDeadline. A request's context is its connection's: it ends
//     when the connection closes, when the server shuts down, and, once
//     an answer streams, when the client goes away; not when the handler
//     returns, so a handler must not leave work behind that waits for it.
//   - Timeouts for the header, the whole request, the answer and an idle
//     connection (the last two left in place from one request to the next
//     while they are within an eighth of where they would go, so that a
//     busy connection moves them every few seconds, not at every
//     request); a bound on the header's size (431); a 400 for a
//     malformed request, 501 for a transfer coding other than chunked,
//     505 for an HTTP version other than 1.0 and 1.1, 417 for another
//     expectation, each closing the connection.
//   - Shutdown that stops accepting, closes idle connections (those
//     accepted in the last 5 s once they have served a request) and waits
//     for the answers in progress.
//   - Idle connections keep at most 8 KiB of answer buffers each.
//
// What it does not: HTTP/2, protocol upgrades and Hijack, trailers,
// automatic gzip. A server that needs them uses net/http.
//
// Connection states are reported through ConnState with net/http's
// values: StateNew when accepted, StateActive once a request's header is
// read (a client still sending its header is idle, so a connection cap
// may close it first), StateIdle between requests, StateClosed.
package h1
