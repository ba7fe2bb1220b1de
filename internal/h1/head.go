package h1

import (
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
)

// appendHead appends an answer's status line and the handler's header
// fields, with a Date unless the handler set one. The fields the server
// decides (Content-Length, Transfer-Encoding, Connection) are left for
// endHead; fields with invalid names are dropped.
func appendHead(out []byte, code int, h http.Header, now time.Time) []byte {
	out = append(out, "HTTP/1.1 "...)
	out = strconv.AppendInt(out, int64(code), 10)
	out = append(out, ' ')
	out = append(out, http.StatusText(code)...)
	out = append(out, "\r\n"...)
	if _, ok := h["Date"]; !ok {
		out = appendDate(out, now)
	}
	for k, vs := range h {
		switch k {
		case "Content-Length", "Transfer-Encoding", "Connection":
			continue
		}
		if !isToken(k) {
			continue
		}
		for _, v := range vs {
			out = appendField(out, k, v)
		}
	}
	return out
}

// appendField appends one header line. Control characters in the value
// (but tab) become spaces: a line break would start a field or an answer
// of its own, and clients refuse the others.
func appendField(out []byte, k, v string) []byte {
	out = append(out, k...)
	out = append(out, ": "...)
	if !validFieldValue(v) {
		v = strings.Map(func(r rune) rune {
			if r < ' ' && r != '\t' || r == 0x7f {
				return ' '
			}
			return r
		}, v)
	}
	out = append(out, strings.TrimSpace(v)...)
	return append(out, "\r\n"...)
}

// dateLine is a formatted Date field and the second it names.
type dateLine struct {
	sec  int64
	line []byte
}

// lastDate caches the Date field of the current second.
var lastDate atomic.Pointer[dateLine]

// appendDate appends the Date field for now.
func appendDate(out []byte, now time.Time) []byte {
	sec := now.Unix()
	d := lastDate.Load()
	if d == nil || d.sec != sec {
		line := now.UTC().AppendFormat([]byte("Date: "), http.TimeFormat)
		d = &dateLine{sec: sec, line: append(line, "\r\n"...)}
		lastDate.Store(d)
	}
	return append(out, d.line...)
}
