//go:build linux || darwin || freebsd || netbsd || openbsd || dragonfly

package device

import (
	"errors"
	"fmt"
	"os"
	"syscall"
)

// lockFile takes an exclusive advisory lock on f without waiting. The lock
// goes with the open file: closing it, or the process ending, releases it.
func lockFile(f *os.File) error {
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		switch {
		case err == nil:
			return nil
		case errors.Is(err, syscall.EINTR):
			continue
		case errors.Is(err, syscall.EWOULDBLOCK):
			return fmt.Errorf("%w: another process holds %s", ErrInUse, f.Name())
		default:
			return fmt.Errorf("lock %s: %w", f.Name(), err)
		}
	}
}
