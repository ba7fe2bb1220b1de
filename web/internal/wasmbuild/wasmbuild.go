// Package wasmbuild builds the browser app's WebAssembly cart the one way
// both the generator (go generate ./web) and the staleness test do, so
// that the same sources give the same bytes: -trimpath, no VCS stamp, no
// build ID, no symbol table or DWARF.
package wasmbuild

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// Package is the import path of the WebAssembly entry point.
const Package = "github.com/crdtd/crdtd/web/internal/wasmcart"

// Flags are the go build flags; changing them changes the bytes.
var Flags = []string{"-trimpath", "-buildvcs=false", "-ldflags=-s -w -buildid="}

// Build compiles Package for js/wasm with the go command on PATH, from
// dir (any directory inside the module), and returns the WebAssembly
// bytes.
func Build(ctx context.Context, dir string) ([]byte, error) {
	tmp, err := os.MkdirTemp("", "crdtd-wasm-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	out := filepath.Join(tmp, "cart.wasm")
	args := append([]string{"build"}, Flags...)
	args = append(args, "-o", out, Package)
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Dir = dir
	// Only the target and a clean GOFLAGS: a developer's GOFLAGS (-race,
	// -tags) would change the bytes.
	cmd.Env = append(os.Environ(), "GOOS=js", "GOARCH=wasm", "CGO_ENABLED=0", "GOFLAGS=")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("go %s: %v: %s", strings.Join(args, " "), err, stderr.Bytes())
	}
	return os.ReadFile(out)
}

// ExecJS returns the wasm_exec.js of the Go toolchain on PATH: the
// JavaScript half of Go's js/wasm port, which must match the compiler
// that built the WebAssembly.
func ExecJS(ctx context.Context) ([]byte, error) {
	goroot, err := exec.CommandContext(ctx, "go", "env", "GOROOT").Output()
	if err != nil {
		return nil, fmt.Errorf("go env GOROOT: %v", err)
	}
	return os.ReadFile(filepath.Join(strings.TrimSpace(string(goroot)), "lib", "wasm", "wasm_exec.js"))
}

// GoVersion returns the version of the go command on PATH, for messages.
func GoVersion(ctx context.Context) string {
	v, err := exec.CommandContext(ctx, "go", "env", "GOVERSION").Output()
	if err != nil {
		return "unknown"
	}
	return strings.TrimSpace(string(v))
}
