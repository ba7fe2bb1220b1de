package h1

import (
	"errors"
	"io"
	"net/http"
)

// errBodyNotSent is what reading a body returns once the answer went out
// before the client was asked to send it ("Expect: 100-continue").
var errBodyNotSent = errors.New("h1: request body not sent: the answer was already sent")

// requestBody is the body a handler reads. It records whether the body
// was read to its end, so that the connection can serve another request.
// Its Close reads nothing (a request body's own Close would read all that
// remains, without bound); the server decides after the handler what to
// read past. It sends "100 Continue" before the first read when the client
// waits for it.
type requestBody struct {
	w      *response
	r      io.ReadCloser // http.ReadRequest's body
	eof    bool          // read to its end
	closed bool
	// expect: the client waits for "100 Continue" before sending.
	expect, sentContinue bool
}

func (b *requestBody) Read(p []byte) (int, error) {
	if b.closed {
		return 0, http.ErrBodyReadAfterClose
	}
	if b.eof {
		return 0, io.EOF
	}
	if b.expect && !b.sentContinue {
		if b.w.committed {
			return 0, errBodyNotSent
		}
		b.sentContinue = true
		if _, err := io.WriteString(b.w.c.rwc, "HTTP/1.1 100 Continue\r\n\r\n"); err != nil {
			b.w.err = err
			return 0, err
		}
	}
	n, err := b.r.Read(p)
	if err == io.EOF {
		b.eof = true
	}
	return n, err
}

// Close makes later reads fail; it reads nothing.
func (b *requestBody) Close() error {
	b.closed = true
	return nil
}

// done reports whether the body was read to its end.
func (b *requestBody) done() bool { return b.eof }

// drain reads what the handler left of the body, up to maxDrainBytes, and
// reports whether the body ended. A body the client was not asked for (it
// waits for "100 Continue"), one known to be longer than the bound, or one
// the handler closed unread is not read.
func (b *requestBody) drain(length int64) bool {
	switch {
	case b.eof:
		return true
	case b.closed, b.expect && !b.sentContinue, length > maxDrainBytes:
		return false
	}
	n, err := io.CopyN(io.Discard, b.r, maxDrainBytes+1)
	if err == io.EOF {
		b.eof = true
	}
	return b.eof && n <= maxDrainBytes
}
