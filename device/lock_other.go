//go:build !(linux || darwin || freebsd || netbsd || openbsd || dragonfly)

package device

import "os"

// lockFile does nothing where flock is missing: there, keeping one process
// per state file is the caller's task.
func lockFile(*os.File) error { return nil }
