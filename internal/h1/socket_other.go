//go:build !linux

package h1

import (
	"io"
	"net"
)

// newSocketIO returns c: raw socket calls are used on Linux only.
func newSocketIO(c net.Conn) io.ReadWriter { return c }
