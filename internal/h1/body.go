package h1

import (
	"bufio"
	"errors"
	"io"
	"net/http"
	"net/http/httputil"
)

// errBodyNotSent is what reading a body returns once the answer went out
// before the client was asked to send it ("Expect: 100-continue").
var errBodyNotSent = errors.New("h1: request body not sent: the answer was already sent")

// requestBody is the body a handler reads. It records whether the body
// was read to its end, so that the connection can serve another request.
// Its Close reads nothing and makes later reads fail; the server decides
// after the handler what to read past. It sends "100 Continue" before the
// first read when the client waits for it.
type requestBody struct {
	w      *response
	r      io.Reader // the body as framed: a fixedBody or a chunkedBody
	eof    bool      // read to its end
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

// fixedBody is a body framed by its Content-Length: the next n bytes of
// the connection. A connection that ends before is io.ErrUnexpectedEOF.
// The last bytes come with io.EOF, so that the body is known to be read
// to its end without another read.
type fixedBody struct {
	r *bufio.Reader
	n int64 // bytes left
}

func (b *fixedBody) Read(p []byte) (int, error) {
	if b.n <= 0 {
		return 0, io.EOF
	}
	if int64(len(p)) > b.n {
		p = p[:b.n]
	}
	n, err := b.r.Read(p)
	b.n -= int64(n)
	switch {
	case b.n == 0:
		return n, io.EOF
	case err == io.EOF:
		return n, io.ErrUnexpectedEOF
	}
	return n, err
}

// Close reads nothing: the server decides what to read past.
func (b *fixedBody) Close() error { return nil }

// maxTrailerBytes bounds the trailer section after a chunked body's last
// chunk, as net/http bounds it (by its reader's buffer).
const maxTrailerBytes = 4 << 10

// errTrailerTooLong is a trailer section past maxTrailerBytes.
var errTrailerTooLong = errors.New("h1: trailer section too long")

// chunkedBody is a body in the chunked coding (RFC 9112, 7.1), read by
// net/http's own chunk reader. The trailer section after the last chunk
// is read and dropped before the body reports its end.
type chunkedBody struct {
	r      *bufio.Reader
	chunks io.Reader // the chunk reader over r
	err    error     // io.EOF once the trailer is read, or what went wrong
}

func newChunkedBody(r *bufio.Reader) *chunkedBody {
	return &chunkedBody{r: r, chunks: httputil.NewChunkedReader(r)}
}

func (b *chunkedBody) Read(p []byte) (int, error) {
	if b.err != nil {
		return 0, b.err
	}
	n, err := b.chunks.Read(p)
	if err == io.EOF {
		if err = discardTrailer(b.r); err == nil {
			err = io.EOF
		}
	}
	b.err = err
	return n, err
}

// Close reads nothing: the server decides what to read past.
func (b *chunkedBody) Close() error { return nil }

// discardTrailer reads the trailer section after a chunked body's last
// chunk (RFC 9112, 7.1.2) and drops it: field lines up to an empty one,
// each checked as a header's, and maxTrailerBytes in all.
func discardTrailer(br *bufio.Reader) error {
	left := maxTrailerBytes
	for {
		line, err := br.ReadSlice('\n')
		left -= len(line)
		switch {
		case err == io.EOF:
			return io.ErrUnexpectedEOF
		case err == bufio.ErrBufferFull || left < 0:
			return errTrailerTooLong
		case err != nil:
			return err
		}
		if line, err = cutCRLF(line); err != nil {
			return err
		}
		if len(line) == 0 {
			return nil
		}
		if _, _, err := splitField(line); err != nil {
			return err
		}
	}
}
