// Package h1 serves HTTP/1.1 with less work per request than net/http's
// server, for an API whose requests are small and many.
//
// net/http's server pays, on every request of a kept-alive connection, for
// a goroutine that reads ahead in the background (to notice a client that
// goes away), the deadline changes that stop it again, a fresh header map
// and a buffered writer that writes a response in up to three pieces. For
// a request that adds an item to a cart, that is a third of the node's CPU.
// A Server here reads each request with net/http's own parser
// (http.ReadRequest), runs the same http.Handler, and writes the whole
// answer (status line, headers and body) in one write.
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
//     SetWriteDeadline. A request's context ends when its connection
//     closes, when the server shuts down, and, once an answer streams,
//     when the client goes away.
//   - Timeouts for the header, the whole request, the answer and an idle
//     connection; a bound on the header's size (431); a 400 for a
//     malformed request, 505 for another HTTP version, 417 for another
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
