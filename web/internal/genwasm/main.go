// Command genwasm writes the browser app's generated files into
// web/static: cart.wasm.gz, the WebAssembly cart (gzip-compressed, as it
// is served), and wasm_exec.js from the Go toolchain. Run it with
// go generate ./web; it must run in the web directory.
package main

import (
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/crdtd/crdtd/web/internal/wasmbuild"
)

func main() {
	if err := run(context.Background()); err != nil {
		fmt.Fprintln(os.Stderr, "genwasm:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context) error {
	wasm, err := wasmbuild.Build(ctx, ".")
	if err != nil {
		return err
	}
	var gz bytes.Buffer
	zw, err := gzip.NewWriterLevel(&gz, gzip.BestCompression)
	if err != nil {
		return err
	}
	if _, err := zw.Write(wasm); err != nil {
		return err
	}
	if err := zw.Close(); err != nil {
		return err
	}
	js, err := wasmbuild.ExecJS(ctx)
	if err != nil {
		return err
	}
	for name, b := range map[string][]byte{"cart.wasm.gz": gz.Bytes(), "wasm_exec.js": js} {
		if err := os.WriteFile(filepath.Join("static", name), b, 0o644); err != nil {
			return err
		}
	}
	fmt.Printf("genwasm: cart.wasm %d bytes, %d gzipped (%s)\n", len(wasm), gz.Len(), wasmbuild.GoVersion(ctx))
	return nil
}
