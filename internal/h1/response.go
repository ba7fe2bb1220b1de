package h1

import (
	"net/http"
	"strconv"
	"time"
)

// bufferLimit is the longest answer body held back to be sent with its
// length in one write; a longer one streams.
const bufferLimit = 64 << 10

// keptBuffer is the largest answer buffer a connection keeps for its next
// request.
const keptBuffer = 8 << 10

// response is the http.ResponseWriter of one request.
type response struct {
	c   *conn
	req *http.Request

	status   int   // 0 until WriteHeader
	declared int64 // the Content-Length the handler set, or -1
	written  int64 // body bytes the handler wrote
	// sniff: the handler set no Content-Type, so the body decides it.
	sniff bool
	head  bool // a HEAD request: the body is counted, not sent

	// committed: the head is on the wire and the body streams, chunked
	// when its length is unknown.
	committed, chunked bool
	// closeAfter: the connection closes after this answer.
	closeAfter bool
	// keepAlive10: an HTTP/1.0 client asked to keep the connection.
	keepAlive10 bool

	body     *requestBody // nil for a request without a body
	watching bool         // a goroutine watches for the client going away
	err      error
}

func (c *conn) newResponse(req *http.Request) *response {
	clear(c.header)
	w := &response{c: c, req: req, declared: -1, head: req.Method == http.MethodHead}
	if req.Body != http.NoBody {
		// An HTTP/1.0 client's expectation is ignored (RFC 9110, 10.1.1).
		expect := req.ProtoAtLeast(1, 1) && req.Header.Get("Expect") != ""
		c.reqBody = requestBody{w: w, r: req.Body, expect: expect}
		w.body = &c.reqBody
		req.Body = w.body
	}
	switch {
	case req.Close:
		w.closeAfter = true
	case !req.ProtoAtLeast(1, 1):
		w.keepAlive10 = hasToken(req.Header["Connection"], "keep-alive")
		w.closeAfter = !w.keepAlive10
	}
	c.out = c.out[:0]
	c.body = c.body[:0]
	return w
}

// Header returns the header map the answer is sent with; changes after
// WriteHeader do not count.
func (w *response) Header() http.Header { return w.c.header }

// WriteHeader sends the status code with the header as it is now (once;
// informational codes are not sent).
func (w *response) WriteHeader(code int) {
	if code < 100 || code > 999 {
		panic("h1: invalid WriteHeader code " + strconv.Itoa(code))
	}
	if w.status != 0 || code < 200 {
		return
	}
	w.status = code
	h := w.c.header
	if cl := h["Content-Length"]; len(cl) > 0 {
		if n, err := strconv.ParseInt(cl[0], 10, 64); err == nil && n >= 0 {
			w.declared = n
		}
	}
	if v, ok := h["Content-Type"]; !ok {
		w.sniff = true
	} else if len(v) == 0 {
		w.sniff = false // set to nil: no Content-Type at all
	}
	if hasToken(h["Connection"], "close") {
		w.closeAfter = true
	}
	now := time.Now()
	w.c.answered = now
	w.c.out = appendHead(w.c.out[:0], code, h, now)
}

// bodyAllowed reports whether the status may carry a body.
func (w *response) bodyAllowed() bool {
	return w.status != http.StatusNoContent && w.status != http.StatusNotModified
}

// Write adds p to the body: buffered while the body is short, sent as it
// comes once it is long or flushed.
func (w *response) Write(p []byte) (int, error) {
	if w.status == 0 {
		w.WriteHeader(http.StatusOK)
	}
	if w.err != nil {
		return 0, w.err
	}
	if !w.bodyAllowed() {
		return 0, http.ErrBodyNotAllowed
	}
	if w.declared >= 0 && w.written+int64(len(p)) > w.declared {
		return 0, http.ErrContentLength
	}
	w.written += int64(len(p))
	if w.head {
		return len(p), nil
	}
	if !w.committed {
		w.c.body = append(w.c.body, p...)
		if len(w.c.body) > bufferLimit {
			if err := w.commit(); err != nil {
				return 0, err
			}
		}
		return len(p), nil
	}
	w.appendBody(p)
	if len(w.c.out) >= bufferLimit {
		if err := w.send(); err != nil {
			return 0, err
		}
	}
	return len(p), nil
}

// WriteString is Write for a string.
func (w *response) WriteString(s string) (int, error) { return w.Write([]byte(s)) }

// appendBody frames p as the body goes: a chunk, or as it is.
func (w *response) appendBody(p []byte) {
	if len(p) == 0 {
		return
	}
	out := w.c.out
	if w.chunked {
		out = strconv.AppendInt(out, int64(len(p)), 16)
		out = append(out, "\r\n"...)
		out = append(out, p...)
		out = append(out, "\r\n"...)
	} else {
		out = append(out, p...)
	}
	w.c.out = out
}

// commit puts the head on the wire with what the body has so far and
// turns the answer to streaming.
func (w *response) commit() error {
	if w.status == 0 {
		w.WriteHeader(http.StatusOK)
	}
	w.committed = true
	if w.bodyAllowed() && w.declared < 0 && !w.head {
		if w.req.ProtoAtLeast(1, 1) {
			w.chunked = true
		} else {
			w.closeAfter = true // HTTP/1.0: the body ends where the connection does
		}
	}
	w.endHead(-1)
	body := w.c.body
	w.c.body = w.c.body[:0]
	w.appendBody(body)
	return w.send()
}

// endHead appends the head's last lines: the framing, sniffed type and
// connection, decided now. length is the whole body's, or -1 while it is
// not known.
func (w *response) endHead(length int64) {
	out := w.c.out
	if w.bodyAllowed() {
		switch {
		case w.declared >= 0:
			out = appendField(out, "Content-Length", strconv.FormatInt(w.declared, 10))
		case length >= 0 && !(w.head && length == 0):
			out = append(out, "Content-Length: "...)
			out = strconv.AppendInt(out, length, 10)
			out = append(out, "\r\n"...)
		case w.chunked:
			out = append(out, "Transfer-Encoding: chunked\r\n"...)
		}
		if w.sniff && len(w.c.body) > 0 {
			out = appendField(out, "Content-Type", http.DetectContentType(w.c.body))
		}
	}
	switch {
	case w.closeAfter || w.c.srv.inShutdown.Load():
		w.closeAfter = true
		out = append(out, "Connection: close\r\n"...)
	case w.keepAlive10:
		out = append(out, "Connection: keep-alive\r\n"...)
	}
	w.c.out = append(out, "\r\n"...)
}

// send writes what the answer has pending to the connection.
func (w *response) send() error {
	if w.err != nil {
		return w.err
	}
	if len(w.c.out) == 0 {
		return nil
	}
	_, err := w.c.sock.Write(w.c.out)
	w.c.out = w.c.out[:0]
	if err != nil {
		w.err = err
		w.closeAfter = true
	}
	return err
}

// Flush sends what the handler has written so far; FlushError says
// whether that worked. The answer streams from then on, and the request's
// context ends if the client goes away.
func (w *response) Flush() { w.FlushError() }

// FlushError is Flush, reporting a failed write.
func (w *response) FlushError() error {
	var err error
	if w.committed {
		err = w.send()
	} else {
		err = w.commit()
	}
	if err == nil {
		w.watch()
	}
	return err
}

// SetWriteDeadline moves the deadline for writing the answer.
func (w *response) SetWriteDeadline(t time.Time) error {
	w.c.wdl = t
	return w.c.rwc.SetWriteDeadline(t)
}

// SetReadDeadline moves the deadline for reading the request's body.
func (w *response) SetReadDeadline(t time.Time) error {
	w.c.rdl = t
	return w.c.rwc.SetReadDeadline(t)
}

// watch ends the request's context (the connection's) when the client
// closes the connection or sends anything, once an answer streams with
// its request body read: a stream that waits for events would otherwise
// not learn of it until its next write. The connection closes after the
// answer, which ends the watch.
func (w *response) watch() {
	if w.watching || !w.bodyDone() {
		return
	}
	w.watching, w.closeAfter = true, true
	c := w.c
	go func() {
		var b [1]byte
		c.rwc.SetReadDeadline(time.Time{})
		c.rwc.Read(b[:])
		c.cancel()
	}()
}

// bodyDone reports whether the request body, if any, was read to its end.
func (w *response) bodyDone() bool { return w.body == nil || w.body.done() }

// finish completes the answer after the handler returned and reports
// whether the connection may serve another request.
func (w *response) finish() bool {
	if w.status == 0 {
		w.WriteHeader(http.StatusOK)
	}
	// A body left unread is read past only if the connection is to serve
	// another request; otherwise the answer goes first and the
	// connection lingers while the client finishes sending.
	if w.body != nil && !w.body.done() {
		if w.closeAfter || w.c.srv.inShutdown.Load() || !w.body.drain(w.req.ContentLength) {
			w.closeAfter = true
			w.c.unread = true
		}
	}
	if !w.committed {
		w.endHead(w.written)
		if !w.head && w.bodyAllowed() {
			w.c.out = append(w.c.out, w.c.body...)
		}
	} else if w.chunked {
		w.c.out = append(w.c.out, "0\r\n\r\n"...)
	}
	w.send()
	if w.declared >= 0 && w.written != w.declared && !w.head && w.bodyAllowed() {
		w.closeAfter = true // the client waits for bytes that will not come
	}
	// An idle connection keeps small buffers only: a few thousand idle
	// keep-alives must not each hold a long answer's worth.
	if cap(w.c.body) > keptBuffer {
		w.c.body = nil
	}
	if cap(w.c.out) > keptBuffer {
		w.c.out = nil
	}
	return !w.closeAfter && w.err == nil
}
