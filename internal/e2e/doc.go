// Package e2e holds process-level tests: they build the real crdtd and
// cartctl binaries, run clusters of real processes on loopback, kill them
// with SIGKILL and drive them with cartctl, as an operator would. They are
// skipped with -short.
package e2e
