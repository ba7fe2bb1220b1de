package cli

import (
	"bytes"
	"errors"
	"flag"
	"net"
	"os"
	"path/filepath"
	"testing"

	"github.com/spf13/cobra"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden with the current output")

// assertGolden compares got with testdata/name.golden, or rewrites the file with -update.
func assertGolden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name+".golden")
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if got != string(want) {
		t.Errorf("output differs from %s (run go test -update to accept)\ngot:\n%s\nwant:\n%s", path, got, want)
	}
}

// testFactory returns a factory with buffers and a Client function that fails the test if a
// command constructor's test reaches the node.
func testFactory(t *testing.T) *factory {
	t.Helper()
	return &factory{
		In:     &bytes.Buffer{},
		Out:    &bytes.Buffer{},
		ErrOut: &bytes.Buffer{},
		Client: nil, // runF tests never reach the node
	}
}

// runTestCmd runs cmd under a bare root with the global flags, as cartctl would, with argv after
// the command's name.
func runTestCmd(t *testing.T, cmd *cobra.Command, argv ...string) error {
	t.Helper()
	root := newRootCmd(&globalOptions{})
	root.AddCommand(cmd)
	root.SetArgs(append([]string{cmd.Name()}, argv...))
	root.SetOut(&bytes.Buffer{})
	root.SetErr(&bytes.Buffer{})
	_, err := root.ExecuteContextC(t.Context())
	return err
}

// checkUsageError fails the test unless err is a usage error (or nil is wanted).
func checkUsageError(t *testing.T, argv []string, err error, wantErr bool) {
	t.Helper()
	var fe *FlagError
	switch {
	case wantErr && !errors.As(err, &fe):
		t.Errorf("argv %q: got error %v, want a *FlagError", argv, err)
	case !wantErr && err != nil:
		t.Errorf("argv %q: got error %v, want nil", argv, err)
	}
}

// runModes runs run once per output mode (aligned table, piped table, JSON), each against a
// fresh fake node, and compares the output with testdata/<name>_{tty,piped,json}.golden.
func runModes(t *testing.T, name string, run func(base baseOptions) error) {
	t.Helper()
	modes := []struct {
		suffix string
		tty    bool
		format string
	}{
		{"tty", true, formatTable},
		{"piped", false, formatTable},
		{"json", false, formatJSON},
	}
	for _, m := range modes {
		t.Run(m.suffix, func(t *testing.T) {
			node := newFakeNode(t)
			var out bytes.Buffer
			base := baseOptions{Out: &out, IsTTY: m.tty, Output: m.format, Client: node.clientFunc(t)}
			if err := run(base); err != nil {
				t.Fatalf("run: %v", err)
			}
			assertGolden(t, name+"_"+m.suffix, out.String())
		})
	}
}

// closedAddr returns a loopback address on which nothing listens.
func closedAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	_ = ln.Close()
	return addr
}
