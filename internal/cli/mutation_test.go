package cli

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
)

func TestNewCmdIdempotencyKey(t *testing.T) {
	long := strings.Repeat("k", 129)
	tests := []struct {
		argv    []string
		want    string
		wantErr bool
	}{
		{argv: nil, want: ""},
		{argv: []string{"--idempotency-key", "order-17:try@2"}, want: "order-17:try@2"},
		{argv: []string{"--idempotency-key", strings.Repeat("k", 128)}, want: strings.Repeat("k", 128)},
		{argv: []string{"--idempotency-key", "a b"}, wantErr: true},
		{argv: []string{"--idempotency-key", long}, wantErr: true},
		{argv: []string{"--idempotency-key", "ключ"}, wantErr: true},
	}
	for _, tt := range tests {
		var add, set, remove, clr string
		f := testFactory(t)
		runs := map[string]struct {
			run func() error
			got *string
		}{
			"add": {func() error {
				cmd := newCmdAdd(f, func(o *addOptions) error { add = o.IdempotencyKey; return nil })
				return runTestCmd(t, cmd, append([]string{"alice", "apple"}, tt.argv...)...)
			}, &add},
			"set": {func() error {
				cmd := newCmdSet(f, func(o *setOptions) error { set = o.IdempotencyKey; return nil })
				return runTestCmd(t, cmd, append([]string{"alice", "apple", "2"}, tt.argv...)...)
			}, &set},
			"remove": {func() error {
				cmd := newCmdRemove(f, func(o *removeOptions) error { remove = o.IdempotencyKey; return nil })
				return runTestCmd(t, cmd, append([]string{"alice", "apple"}, tt.argv...)...)
			}, &remove},
			"clear": {func() error {
				cmd := newCmdClear(f, func(o *clearOptions) error { clr = o.IdempotencyKey; return nil })
				return runTestCmd(t, cmd, append([]string{"alice"}, tt.argv...)...)
			}, &clr},
		}
		for name, r := range runs {
			err := r.run()
			checkUsageError(t, append([]string{name}, tt.argv...), err, tt.wantErr)
			if err == nil && *r.got != tt.want {
				t.Errorf("%s %q: got key %q, want %q", name, tt.argv, *r.got, tt.want)
			}
		}
	}
}

// keyRecorder is a node that records the Idempotency-Key of every request and then either
// answers with an empty cart or, when hang is set, never answers (until the client gives up).
type keyRecorder struct {
	mu   sync.Mutex
	keys []string
	hang bool
	srv  *httptest.Server
}

func newKeyRecorder(t *testing.T, hang bool) *keyRecorder {
	t.Helper()
	k := &keyRecorder{hang: hang}
	release := make(chan struct{})
	k.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		k.mu.Lock()
		k.keys = append(k.keys, r.Header.Get("Idempotency-Key"))
		k.mu.Unlock()
		if k.hang {
			select {
			case <-r.Context().Done():
			case <-release:
			}
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"cart": "alice", "items": []any{}})
	}))
	t.Cleanup(k.srv.Close)
	t.Cleanup(func() { close(release) }) // runs first: Close waits for the handlers
	return k
}

func (k *keyRecorder) recorded() []string {
	k.mu.Lock()
	defer k.mu.Unlock()
	return append([]string(nil), k.keys...)
}

// TestMutationUnsure: a mutation whose request reached a node that never answered exits 3 and
// says that the change may have been applied, how to retry it under the key the node saw, and
// how to check.
func TestMutationUnsure(t *testing.T) {
	t.Setenv(envNode, "")
	t.Setenv(envToken, "")
	mutations := [][]string{
		{"add", "alice", "apple", "--qty", "2"},
		{"set", "alice", "apple", "5"},
		{"remove", "alice", "apple"},
		{"clear", "alice"},
	}
	for _, m := range mutations {
		for _, given := range []string{"", "order-17"} {
			node := newKeyRecorder(t, true)
			args := append([]string{"--node", node.srv.URL, "--timeout", "300ms"}, m...)
			if given != "" {
				args = append(args, "--idempotency-key", given)
			}
			code, stdout, stderr := runMain(t, args...)
			keys := node.recorded()
			if len(keys) != 1 || keys[0] == "" || given != "" && keys[0] != given {
				t.Fatalf("Main(%q): node saw keys %q, want one key (%q if given)", args, keys, given)
			}
			if code != ExitUnreachable || stdout != "" {
				t.Errorf("Main(%q) = %d, stdout %q; want %d and no output", args, code, stdout, ExitUnreachable)
			}
			for _, want := range []string{
				"The change may or may not have been applied.",
				"Running the command again as it is would\nbe a new change",
				"run it again with --idempotency-key " + keys[0] + "\n",
				"To check first: cartctl show alice\n",
			} {
				if !strings.Contains(stderr, want) {
					t.Errorf("Main(%q) stderr:\n%s\nwant it to contain %q", args, stderr, want)
				}
			}
		}
	}
}

// TestMutationKeyOnEveryAttempt: the key cartctl chose is the one sent, on the first attempt and
// on the client's retries alike, and reads send none.
func TestMutationKeyOnEveryAttempt(t *testing.T) {
	t.Setenv(envNode, "")
	t.Setenv(envToken, "")
	var mu sync.Mutex
	var keys []string
	attempts := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		keys = append(keys, r.Header.Get("Idempotency-Key"))
		attempts++
		first := attempts == 1
		mu.Unlock()
		if first { // the node is busy: the client retries
			writeJSON(w, http.StatusServiceUnavailable, map[string]any{"error": map[string]string{"code": "unavailable", "message": "busy"}})
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"cart": "alice", "items": []any{}})
	}))
	t.Cleanup(srv.Close)
	code, _, stderr := runMain(t, "--node", srv.URL, "add", "alice", "apple", "--idempotency-key", "k-1")
	if code != ExitOK {
		t.Fatalf("add = %d, stderr:\n%s", code, stderr)
	}
	if strings.Join(keys, ",") != "k-1,k-1" {
		t.Errorf("node saw keys %q, want k-1 on both attempts", keys)
	}
	keys = nil
	if code, _, stderr := runMain(t, "--node", srv.URL, "show", "alice"); code != ExitOK || len(keys) != 1 || keys[0] != "" {
		t.Errorf("show = %d (stderr %q), node saw keys %q; want 0 and no key", code, stderr, keys)
	}
}

// TestMutationRetryWithKey runs a real node: the same add run twice with one --idempotency-key
// is applied once; without the key, twice.
func TestMutationRetryWithKey(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a node")
	}
	t.Setenv(envNode, "")
	t.Setenv(envToken, "")
	node := startBenchCluster(t, 1)[0]
	for range 2 {
		if code, _, stderr := runMain(t, "--node", node, "add", "alice", "apple", "--idempotency-key", "k-7"); code != ExitOK {
			t.Fatalf("add with key = %d, stderr:\n%s", code, stderr)
		}
		if code, _, stderr := runMain(t, "--node", node, "add", "bob", "pear"); code != ExitOK {
			t.Fatalf("add without key = %d, stderr:\n%s", code, stderr)
		}
	}
	for cart, want := range map[string]string{"alice": "apple\t1\t", "bob": "pear\t2\t"} {
		if code, stdout, _ := runMain(t, "--node", node, "show", cart); code != ExitOK || !strings.HasPrefix(stdout, want) {
			t.Errorf("show %s = %d, %q; want a line starting %q", cart, code, stdout, want)
		}
	}
}
