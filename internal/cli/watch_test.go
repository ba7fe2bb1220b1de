package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/crdtd/crdtd/internal/testbin"

	"github.com/crdtd/crdtd/api"
	"github.com/crdtd/crdtd/client"
	"github.com/crdtd/crdtd/internal/daemon"
)

func TestNewCmdWatch(t *testing.T) {
	type args struct {
		Cart, Output string
		StartTimeout time.Duration
	}
	tests := []struct {
		argv    []string
		want    args
		wantErr bool
	}{
		{argv: []string{"alice"}, want: args{Cart: "alice", Output: "table", StartTimeout: defaultTimeout}},
		{argv: []string{"alice", "-o", "json", "--timeout", "2s"}, want: args{Cart: "alice", Output: "json", StartTimeout: 2 * time.Second}},
		{argv: []string{}, wantErr: true},
		{argv: []string{"alice", "bob"}, wantErr: true},
		{argv: []string{"a/b"}, wantErr: true},
		{argv: []string{"alice", "--timeout", "0s"}, wantErr: true},
		{argv: []string{"alice", "-o", "yaml"}, wantErr: true},
	}
	for _, tt := range tests {
		var got *watchOptions
		cmd := newCmdWatch(testFactory(t), func(o *watchOptions) error { got = o; return nil })
		err := runTestCmd(t, cmd, tt.argv...)
		checkUsageError(t, tt.argv, err, tt.wantErr)
		if tt.wantErr || err != nil {
			continue
		}
		g := args{Cart: got.Cart, Output: got.Output, StartTimeout: got.StartTimeout}
		if g != tt.want {
			t.Errorf("argv %q: got %+v, want %+v", tt.argv, g, tt.want)
		}
	}
}

// waitOutput polls until out holds want, failing the test after 10 s.
func waitOutput(t *testing.T, out *testbin.SyncBuffer, want string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(out.String(), want) {
		if time.Now().After(deadline) {
			t.Fatalf("output has no %q after 10s:\n%s", want, out.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

var watchViews = []api.CartView{
	{Cart: "alice", Items: []api.Line{
		{Item: "apple", Quantity: 2, UnitPriceCents: api.Cents(125), SubtotalCents: api.Cents(250)},
	}, TotalCents: 250},
	{Cart: "alice", Items: []api.Line{
		{Item: "apple", Quantity: 2, UnitPriceCents: api.Cents(125), SubtotalCents: api.Cents(250)},
		{Item: "fig", Quantity: 3},
	}, TotalCents: 250, UnpricedItems: 1},
	{Cart: "alice", Items: []api.Line{
		{Item: "cherry", Quantity: 1, UnitPriceCents: api.Cents(40), SubtotalCents: api.Cents(40)},
	}, TotalCents: 40},
}

// newFakeEvents serves the event stream of every cart as the node would: first views[0], then,
// each time the test sends on next, the following view, among keep-alive comments. The stream
// stays open until the client goes away.
func newFakeEvents(t *testing.T, views []api.CartView) (*httptest.Server, chan<- struct{}) {
	t.Helper()
	next := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/v1/carts/"+views[0].Cart+"/events" {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "text/event-stream")
		for i, v := range views {
			if i > 0 {
				select {
				case <-next:
				case <-r.Context().Done():
					return
				}
			}
			b, _ := json.Marshal(v)
			fmt.Fprintf(w, ": keep-alive\n\nid: %d\nevent: cart\ndata: %s\n\n", i+1, b)
			w.(http.Flusher).Flush()
		}
		<-r.Context().Done()
	}))
	t.Cleanup(srv.Close)
	return srv, next
}

// TestWatchRun prints each view as it arrives: tables under a heading on a terminal, rows and an
// empty line when piped, a JSON object per line with -o json; the end of ctx ends the watch
// without an error.
func TestWatchRun(t *testing.T) {
	for _, m := range []struct {
		suffix string
		tty    bool
		format string
	}{
		{"tty", true, formatTable},
		{"piped", false, formatTable},
		{"json", false, formatJSON},
	} {
		t.Run(m.suffix, func(t *testing.T) {
			srv, next := newFakeEvents(t, watchViews)
			var out, errOut testbin.SyncBuffer
			opts := &watchOptions{
				baseOptions: baseOptions{Out: &out, ErrOut: &errOut, IsTTY: m.tty, Output: m.format,
					Client: func() (*client.Client, error) { return client.New(client.Config{BaseURL: srv.URL}) }},
				Cart:         "alice",
				StartTimeout: 10 * time.Second,
				now:          func() time.Time { return time.Date(2026, 12, 1, 9, 30, 0, 0, time.UTC) },
			}
			ctx, cancel := context.WithCancel(t.Context())
			done := make(chan error, 1)
			go func() { done <- runWatch(ctx, opts) }()
			for _, marker := range []string{"apple", "fig", "cherry"} {
				waitOutput(t, &out, marker)
				if marker != "cherry" {
					next <- struct{}{}
				}
			}
			cancel()
			if err := <-done; err != nil {
				t.Fatalf("runWatch ended by its context: got %v, want nil", err)
			}
			assertGolden(t, "watch_"+m.suffix, out.String())
			if errOut.String() != "" {
				t.Errorf("stderr: %q, want nothing", errOut.String())
			}
		})
	}
}

// TestWatchMain runs watch through Main: --timeout bounds only the start, so the watch outlives
// it; Ctrl-C ends it with exit 0; a node that is not there exits 3, and so does one that does not
// answer within --timeout.
func TestWatchMain(t *testing.T) {
	t.Setenv(envNode, "")
	t.Setenv(envToken, "")

	t.Run("outlives timeout", func(t *testing.T) {
		srv, next := newFakeEvents(t, watchViews[:2])
		var stdout, stderr testbin.SyncBuffer
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan ExitCode, 1)
		go func() {
			done <- Main(ctx, []string{"--node", srv.URL, "--timeout", "100ms", "-o", "json", "watch", "alice"},
				strings.NewReader(""), &stdout, &stderr)
		}()
		waitOutput(t, &stdout, "apple")
		time.Sleep(300 * time.Millisecond) // the scenario: the next change comes after --timeout
		next <- struct{}{}
		waitOutput(t, &stdout, "fig")
		cancel() // Ctrl-C
		if code := <-done; code != ExitOK {
			t.Fatalf("exit %d, want %d; stderr:\n%s", code, ExitOK, stderr.String())
		}
		if lines := strings.Count(stdout.String(), "\n"); lines != 2 {
			t.Errorf("got %d lines of JSON, want 2:\n%s", lines, stdout.String())
		}
	})

	t.Run("unreachable", func(t *testing.T) {
		code, stdout, stderr := runMain(t, "--node", closedAddr(t), "watch", "alice")
		if code != ExitUnreachable || stdout != "" || !strings.Contains(stderr, "node unreachable") {
			t.Errorf("exit %d, stdout %q, stderr %q; want exit %d and node unreachable", code, stdout, stderr, ExitUnreachable)
		}
	})

	t.Run("no answer", func(t *testing.T) {
		hanging := httptest.NewServer(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
			<-r.Context().Done()
		}))
		t.Cleanup(hanging.Close)
		code, stdout, stderr := runMain(t, "--node", hanging.URL, "--timeout", "200ms", "watch", "alice")
		if code != ExitUnreachable || stdout != "" || !strings.Contains(stderr, "no answer within 200ms") {
			t.Errorf("exit %d, stdout %q, stderr %q; want exit %d and no answer within 200ms", code, stdout, stderr, ExitUnreachable)
		}
	})

	t.Run("refused", func(t *testing.T) {
		refusing := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			w.WriteHeader(http.StatusUnauthorized)
			_, _ = io.WriteString(w, `{"error":{"code":"unauthorized","message":"missing or wrong bearer token"}}`)
		}))
		t.Cleanup(refusing.Close)
		code, _, stderr := runMain(t, "--node", refusing.URL, "watch", "alice")
		if code != ExitFailure || !strings.Contains(stderr, "watch cart alice: missing or wrong bearer token") {
			t.Errorf("exit %d, stderr %q; want exit %d and the node's message", code, stderr, ExitFailure)
		}
	})
}

// TestWatchNode watches a cart on an in-process node while another client changes it.
func TestWatchNode(t *testing.T) {
	d, err := daemon.Start(context.Background(), daemon.Config{
		Name: "watch1", DataDir: t.TempDir(), GossipAddr: "127.0.0.1:0", APIAddr: "127.0.0.1:0",
		ClusterLabel: fmt.Sprintf("watch-test-%d", time.Now().UnixNano()), Profile: daemon.ProfileLocal,
		ShutdownTimeout: 2 * time.Second,
	})
	if err != nil {
		t.Fatalf("start node: %v", err)
	}
	t.Cleanup(func() { _ = d.Close() })
	node := "http://" + d.APIAddr()

	var stdout, stderr testbin.SyncBuffer
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan ExitCode, 1)
	go func() {
		done <- Main(ctx, []string{"--node", node, "-o", "json", "watch", "erin"}, strings.NewReader(""), &stdout, &stderr)
	}()
	waitOutput(t, &stdout, `{"cart":"erin","items":[],"total_cents":0,"unpriced_items":0}`+"\n")
	if code, _, errOut := runMain(t, "--node", node, "add", "erin", "apple", "--qty", "2", "--price", "1.25"); code != ExitOK {
		t.Fatalf("add: exit %d: %s", code, errOut)
	}
	waitOutput(t, &stdout, `{"cart":"erin","items":[{"item":"apple","quantity":2,"unit_price_cents":125,"subtotal_cents":250}],"total_cents":250,"unpriced_items":0}`+"\n")
	cancel()
	if code := <-done; code != ExitOK {
		t.Fatalf("exit %d, want %d; stderr:\n%s", code, ExitOK, stderr.String())
	}
}
