package agentcli

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/crdtd/crdtd/internal/store"
)

func TestCheckData(t *testing.T) {
	held, _ := newStoreDir(t)
	s, err := store.Open(held, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	damaged, _ := newStoreDir(t)
	path := filepath.Join(damaged, store.FileName)
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for i := 2 * os.Getpagesize(); i < len(b); i++ {
		b[i] = 0x5a
	}
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name                string
		argv                []string
		want                ExitCode
		wantOut, wantErrOut string
	}{
		{name: "sound", argv: []string{"--data-dir", "DIR"}, want: ExitOK, wantOut: "crdtd.db: sound ("},
		{name: "damaged", argv: []string{"--data-dir", damaged}, want: ExitFailure, wantErrOut: "is corrupt or unreadable"},
		{name: "running node", argv: []string{"--data-dir", held}, want: ExitFailure, wantErrOut: "in use by a running node: stop it first"},
		{name: "no data file", argv: []string{"--data-dir", "EMPTY"}, want: ExitFailure, wantErrOut: "holds no data file (crdtd.db)"},
		{name: "empty data dir", argv: []string{"--data-dir", ""}, want: ExitUsage, wantErrOut: "--data-dir must not be empty"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir, _ := newStoreDir(t)
			r := strings.NewReplacer("DIR", dir, "EMPTY", t.TempDir())
			argv := []string{"check-data"}
			for _, a := range tt.argv {
				argv = append(argv, r.Replace(a))
			}
			var stdout, stderr bytes.Buffer
			code := run(t.Context(), argv, &factory{Out: &stdout, ErrOut: &stderr})
			if code != tt.want || !strings.Contains(stdout.String(), tt.wantOut) || !strings.Contains(stderr.String(), tt.wantErrOut) {
				t.Fatalf("crdtd %q = %d, stdout %q, stderr %q; want %d, %q, %q",
					argv, code, stdout.String(), stderr.String(), tt.want, tt.wantOut, tt.wantErrOut)
			}
		})
	}
}
