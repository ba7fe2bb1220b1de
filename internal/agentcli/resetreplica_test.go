package agentcli

import (
	"bytes"
	"strings"
	"testing"

	"github.com/crdtd/crdtd/internal/store"
)

// newStoreDir makes a closed data directory and returns it with its replica ID.
func newStoreDir(t *testing.T) (dir, id string) {
	t.Helper()
	dir = t.TempDir()
	s, err := store.Open(dir, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	id = s.ReplicaID()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	return dir, id
}

func replicaOf(t *testing.T, dir string) string {
	t.Helper()
	s, err := store.Open(dir, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	return s.ReplicaID()
}

func TestResetReplica(t *testing.T) {
	held, _ := newStoreDir(t)
	s, err := store.Open(held, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })

	tests := []struct {
		name       string
		argv       []string
		env        map[string]string
		want       ExitCode
		wantStderr string
	}{
		{name: "flag", argv: []string{"--data-dir", "DIR"}, want: ExitOK},
		{name: "environment", env: map[string]string{"CRDTD_DATA_DIR": "DIR"}, want: ExitOK},
		{name: "running node", argv: []string{"--data-dir", held}, want: ExitFailure,
			wantStderr: "in use by a running node: stop it first"},
		{name: "no data file", argv: []string{"--data-dir", "EMPTY"}, want: ExitFailure,
			wantStderr: "holds no data file (crdtd.db): nothing to reset"},
		{name: "empty data dir", argv: []string{"--data-dir", ""}, want: ExitUsage, wantStderr: "--data-dir must not be empty"},
		{name: "argument", argv: []string{"somewhere"}, want: ExitUsage, wantStderr: "takes no arguments"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir, oldID := newStoreDir(t)
			empty := t.TempDir()
			subst := func(s string) string {
				return strings.NewReplacer("DIR", dir, "EMPTY", empty).Replace(s)
			}
			argv := []string{"reset-replica"}
			for _, a := range tt.argv {
				argv = append(argv, subst(a))
			}
			var stdout, stderr bytes.Buffer
			f := &factory{Out: &stdout, ErrOut: &stderr, LookupEnv: func(k string) (string, bool) {
				v, ok := tt.env[k]
				return subst(v), ok
			}}
			code := run(t.Context(), argv, f)
			if code != tt.want || !strings.Contains(stderr.String(), tt.wantStderr) {
				t.Fatalf("crdtd %q = %d, stderr:\n%s\nwant %d and %q", argv, code, stderr.String(), tt.want, tt.wantStderr)
			}
			newID := replicaOf(t, dir)
			if tt.want != ExitOK {
				if newID != oldID {
					t.Errorf("crdtd %q failed but changed the replica ID of another directory", argv)
				}
				return
			}
			if newID == oldID {
				t.Fatalf("crdtd %q: replica ID still %s", argv, oldID)
			}
			if want := dir + ": replica ID " + oldID + " replaced by " + newID + "\n"; stdout.String() != want {
				t.Errorf("crdtd %q stdout %q, want %q", argv, stdout.String(), want)
			}
		})
	}
}
