package cli

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/crdtd/crdtd/internal/buildinfo"
)

// runMain runs Main with args and returns the exit code, stdout and stderr.
func runMain(t *testing.T, args ...string) (ExitCode, string, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := Main(t.Context(), args, strings.NewReader(""), &stdout, &stderr)
	return code, stdout.String(), stderr.String()
}

func TestMainExitCodes(t *testing.T) {
	t.Setenv(envNode, "")
	t.Setenv(envToken, "")
	node := newFakeNode(t)
	rejecting := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusBadRequest)
		_, _ = io.WriteString(w, `{"error":{"code":"invalid_argument","message":"price above 10000000000.00"}}`)
	}))
	t.Cleanup(rejecting.Close)
	closed := closedAddr(t)

	tests := []struct {
		name       string
		args       []string
		want       ExitCode
		wantStdout string // substring
		wantStderr string // substring; "" means stderr must be empty
	}{
		{name: "success", args: []string{"--node", node.srv.URL, "show", "alice"}, want: ExitOK, wantStdout: "apple"},
		{name: "help", args: []string{"--help"}, want: ExitOK, wantStdout: "Exit status"},
		{name: "no command", args: []string{}, want: ExitOK, wantStdout: "Available Commands"},
		{name: "missing argument", args: []string{"show"}, want: ExitUsage,
			wantStderr: "Error: missing CART\nRun 'cartctl show --help' for usage.\n"},
		{name: "unknown command", args: []string{"shwo"}, want: ExitUsage, wantStderr: `unknown command "shwo"`},
		{name: "unknown flag", args: []string{"list", "--colour"}, want: ExitUsage, wantStderr: "unknown flag: --colour"},
		{name: "bad enum", args: []string{"list", "-o", "yaml"}, want: ExitUsage, wantStderr: "valid values are {table|json}"},
		{name: "bad quantity", args: []string{"add", "alice", "apple", "--qty", "0"}, want: ExitUsage,
			wantStderr: `Error: --qty "0": want a whole number in 1..1000000` + "\n"},
		{name: "bad node", args: []string{"--node", "ftp://x", "list"}, want: ExitUsage, wantStderr: "scheme must be http or https"},
		{name: "unreachable", args: []string{"--node", closed, "list"}, want: ExitUnreachable,
			wantStderr: "node unreachable"},
		{name: "timeout", args: []string{"--node", closed, "--timeout", "50ms", "show", "alice"}, want: ExitUnreachable,
			wantStderr: "context deadline exceeded"},
		{name: "api error", args: []string{"--node", rejecting.URL, "add", "alice", "apple"}, want: ExitFailure,
			wantStderr: "Error: add apple to cart alice: price above 10000000000.00 (invalid_argument, HTTP 400)\n"},
		{name: "node without scheme", args: []string{"--node", strings.TrimPrefix(node.srv.URL, "http://"), "list"},
			want: ExitOK, wantStdout: "alice\nbob\n"},
		{name: "mutation prints cart", args: []string{"--node", node.srv.URL, "-o", "json", "add", "bob", "kiwi", "--price", "0.5"},
			want: ExitOK, wantStdout: `"item": "kiwi",` + "\n      \"quantity\": 1,\n      \"unit_price_cents\": 50,"},
		{name: "price without units", args: []string{"--node", node.srv.URL, "-o", "json", "set", "bob", "pear", "2", "--price", ".5"},
			want: ExitOK, wantStdout: `"item": "pear",` + "\n      \"quantity\": 2,\n      \"unit_price_cents\": 50,"},
		{name: "price without cents", args: []string{"--node", node.srv.URL, "-o", "json", "set", "bob", "pear", "2", "--price", "5."},
			want: ExitOK, wantStdout: `"item": "pear",` + "\n      \"quantity\": 2,\n      \"unit_price_cents\": 500,"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, stdout, stderr := runMain(t, tt.args...)
			if code != tt.want {
				t.Errorf("Main(%q) = %d, want %d; stderr:\n%s", tt.args, code, tt.want, stderr)
			}
			if !strings.Contains(stdout, tt.wantStdout) {
				t.Errorf("Main(%q) stdout:\n%s\nwant it to contain %q", tt.args, stdout, tt.wantStdout)
			}
			switch {
			case tt.wantStderr == "" && stderr != "":
				t.Errorf("Main(%q) stderr:\n%s\nwant it empty", tt.args, stderr)
			case !strings.Contains(stderr, tt.wantStderr):
				t.Errorf("Main(%q) stderr:\n%s\nwant it to contain %q", tt.args, stderr, tt.wantStderr)
			}
			if tt.want != ExitOK && stdout != "" {
				t.Errorf("Main(%q) failed but wrote to stdout:\n%s", tt.args, stdout)
			}
		})
	}
}

// TestMainUsageMessages checks the messages of usage errors a new user meets: each names the
// argument or flag and what it wants, never a parser's internals.
func TestMainUsageMessages(t *testing.T) {
	t.Setenv(envNode, "")
	t.Setenv(envToken, "")
	tests := []struct {
		args []string
		want string // the first line of stderr
	}{
		{args: []string{"set", "alice", "apple", "-1"}, want: `Error: quantity "-1": want a whole number in 0..1000000`},
		{args: []string{"set", "alice", "apple", "-25", "--price", "2"}, want: `Error: quantity "-25": want a whole number in 0..1000000`},
		{args: []string{"set", "alice", "apple", "--", "-1"}, want: `Error: quantity "-1": want a whole number in 0..1000000`},
		{args: []string{"set", "alice", "apple", "1.5"}, want: `Error: quantity "1.5": want a whole number in 0..1000000`},
		{args: []string{"add", "alice", "apple", "--qty", "abc"}, want: `Error: --qty "abc": want a whole number in 1..1000000`},
		{args: []string{"add", "alice", "apple", "-n", "-3"}, want: `Error: --qty "-3": want a whole number in 1..1000000`},
		{args: []string{"add", "alice", "apple", "--qty=2000000"}, want: `Error: --qty "2000000": want a whole number in 1..1000000`},
		{args: []string{"show", "-1"}, want: "Error: -1 is not a flag of cartctl show, and no argument takes a negative number" +
			" (to pass an ID that starts with -, put -- before it: cartctl show -- -1)"},
		{args: []string{"add", "alice", "apple", "--price", "1.255"}, want: `Error: --price "1.255": more than two decimal places`},
		{args: []string{"add", "alice", "apple", "--price", "."}, want: `Error: --price ".": want a decimal such as 1.25`},
		{args: []string{"bench", "-c", "abc"}, want: `Error: --concurrency "abc": want a whole number`},
		{args: []string{"list", "--timeout", "soon"}, want: `Error: --timeout "soon": want a duration such as 500ms, 10s or 1m30s`},
	}
	for _, tt := range tests {
		code, stdout, stderr := runMain(t, tt.args...)
		first, _, _ := strings.Cut(stderr, "\n")
		if code != ExitUsage || stdout != "" || first != tt.want {
			t.Errorf("Main(%q) = %d, stdout %q, stderr:\n%s\nwant %d, no stdout, first line %q", tt.args, code, stdout, stderr, ExitUsage, tt.want)
		}
		if strings.Contains(stderr, "strconv") || strings.Contains(stderr, "shorthand") {
			t.Errorf("Main(%q) stderr shows a parser's message:\n%s", tt.args, stderr)
		}
	}
}

// TestMainVersion: "cartctl version" and "cartctl --version" print the same line, from the
// build info, without reaching a node.
func TestMainVersion(t *testing.T) {
	t.Setenv(envNode, closedAddr(t))
	want := "cartctl " + buildinfo.Read().String() + "\n"
	for _, args := range [][]string{{"version"}, {"--version"}} {
		code, stdout, stderr := runMain(t, args...)
		if code != ExitOK || stdout != want || stderr != "" {
			t.Errorf("Main(%q) = %d, stdout %q, stderr %q; want 0, %q, nothing", args, code, stdout, stderr, want)
		}
	}
	if code, _, _ := runMain(t, "version", "x"); code != ExitUsage {
		t.Errorf("version x = %d, want %d", code, ExitUsage)
	}
}

func TestMainNodeFromEnv(t *testing.T) {
	node := newFakeNode(t)
	t.Setenv(envNode, strings.TrimPrefix(node.srv.URL, "http://"))
	t.Setenv(envToken, "")
	code, stdout, stderr := runMain(t, "list")
	if code != ExitOK || stdout != "alice\nbob\ncarol\n" {
		t.Errorf("with $%s set: got code %d, stdout %q, stderr %q; want 0 and the fake node's carts", envNode, code, stdout, stderr)
	}
	// The flag wins over the environment.
	code, _, _ = runMain(t, "--node", closedAddr(t), "--timeout", "50ms", "list")
	if code != ExitUnreachable {
		t.Errorf("--node overriding $%s: got code %d, want %d", envNode, code, ExitUnreachable)
	}
}

func TestMainToken(t *testing.T) {
	const token = "t0ken-s3cret"
	authed := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer "+token {
			w.WriteHeader(http.StatusUnauthorized)
			_, _ = io.WriteString(w, `{"error":{"code":"unauthorized","message":"bad or missing bearer token"}}`)
			return
		}
		_, _ = io.WriteString(w, `{"carts":["alice"]}`)
	}))
	t.Cleanup(authed.Close)
	dir := t.TempDir()
	tokenFile := filepath.Join(dir, "token")
	if err := os.WriteFile(tokenFile, []byte("  "+token+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	emptyFile := filepath.Join(dir, "empty")
	if err := os.WriteFile(emptyFile, []byte("\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	wrongFile := filepath.Join(dir, "wrong")
	if err := os.WriteFile(wrongFile, []byte("nope\n"), 0o600); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name       string
		env        string
		args       []string
		want       ExitCode
		wantStderr string
	}{
		{name: "token file", args: []string{"--token-file", tokenFile}, want: ExitOK},
		{name: "token env", env: token, want: ExitOK},
		{name: "file wins over env", env: "nope", args: []string{"--token-file", tokenFile}, want: ExitOK},
		{name: "no token", want: ExitFailure, wantStderr: "--token-file or set $CARTCTL_TOKEN"},
		{name: "wrong token", args: []string{"--token-file", wrongFile}, want: ExitFailure, wantStderr: "HTTP 401"},
		{name: "empty file", args: []string{"--token-file", emptyFile}, want: ExitFailure, wantStderr: "is empty"},
		{name: "missing file", args: []string{"--token-file", filepath.Join(dir, "absent")}, want: ExitFailure,
			wantStderr: "no such file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv(envToken, tt.env)
			args := append([]string{"--node", authed.URL, "list"}, tt.args...)
			code, stdout, stderr := runMain(t, args...)
			if code != tt.want {
				t.Errorf("Main(%q) = %d, want %d; stderr:\n%s", args, code, tt.want, stderr)
			}
			if !strings.Contains(stderr, tt.wantStderr) {
				t.Errorf("Main(%q) stderr:\n%s\nwant it to contain %q", args, stderr, tt.wantStderr)
			}
			if strings.Contains(stdout+stderr, token) {
				t.Errorf("Main(%q) printed the token", args)
			}
		})
	}
}

func TestMainCompletion(t *testing.T) {
	t.Setenv(envNode, "")
	t.Setenv(envToken, "")
	node := newFakeNode(t)
	closed := closedAddr(t)
	tests := []struct {
		name string
		args []string
		want []string // suggestions, before the directive line
	}{
		{name: "carts", args: []string{"--node", node.srv.URL, "show", ""}, want: []string{"alice", "bob", "carol"}},
		{name: "cart prefix", args: []string{"--node", node.srv.URL, "add", "a"}, want: []string{"alice"}},
		{name: "items", args: []string{"--node", node.srv.URL, "remove", "alice", ""}, want: []string{"apple", "bread"}},
		{name: "item prefix", args: []string{"--node", node.srv.URL, "set", "alice", "b"}, want: []string{"bread"}},
		{name: "quantity", args: []string{"--node", node.srv.URL, "set", "alice", "bread", ""}, want: nil},
		{name: "output flag", args: []string{"show", "alice", "-o", ""}, want: []string{"table", "json"}},
		{name: "unreachable", args: []string{"--node", closed, "show", ""}, want: nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := append([]string{"__complete"}, tt.args...)
			code, stdout, _ := runMain(t, args...)
			if code != ExitOK {
				t.Fatalf("Main(%q) = %d, want 0", args, code)
			}
			lines := strings.Split(strings.TrimSuffix(stdout, "\n"), "\n")
			got, directive := lines[:len(lines)-1], lines[len(lines)-1]
			if strings.Join(got, ",") != strings.Join(tt.want, ",") {
				t.Errorf("Main(%q) suggested %q, want %q", args, got, tt.want)
			}
			if directive != ":4" { // cobra.ShellCompDirectiveNoFileComp
				t.Errorf("Main(%q) directive %q, want :4", args, directive)
			}
		})
	}
}

func TestMainCompletionScripts(t *testing.T) {
	for _, shell := range completionShells {
		code, stdout, stderr := runMain(t, "completion", shell)
		if code != ExitOK || !strings.Contains(stdout, "cartctl") || stderr != "" {
			t.Errorf("completion %s: got code %d, %d bytes of script, stderr %q; want 0, a script and no errors",
				shell, code, len(stdout), stderr)
		}
	}
}
