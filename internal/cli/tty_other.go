//go:build !linux

package cli

import (
	"io"
	"os"
)

// isTerminal reports whether w is a terminal, so that tables get aligned columns and headers.
// Off Linux it settles for "a character device", which also counts /dev/null.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}
