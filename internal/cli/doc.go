// Package cli implements cartctl, the command-line client of crdtd. [Main] builds the
// cobra command tree, runs it with the caller's context and streams, and maps the outcome to an
// [ExitCode] in one place: 0 success, 1 failure, 2 usage error, 3 node unreachable. Each command
// lives in its own file as an options struct, a constructor that parses argv into the options,
// and a run function that talks to the node only through package client (or, with --device, to
// a device replica through package device: device.go, sync.go) and prints through a printer
// (output.go): an aligned table on a terminal, tab-separated rows when piped, or the API's
// JSON with -o json. Data goes to stdout, errors to stderr. The bench command is the same shape
// around package loadgen, which runs the load and returns its report.
package cli
