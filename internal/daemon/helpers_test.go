package daemon

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"sync/atomic"
	"testing"
	"time"

	"github.com/crdtd/crdtd/client"
	"github.com/crdtd/crdtd/gossip"
)

var nodeSeq atomic.Int64

// testConfig returns a config for an in-process node on loopback with free
// ports, a fresh data directory, the local profile and a cluster label
// unique to the test.
func testConfig(tb testing.TB, label string) Config {
	tb.Helper()
	return Config{
		Name:              fmt.Sprintf("node%d", nodeSeq.Add(1)),
		DataDir:           tb.TempDir(),
		GossipAddr:        "127.0.0.1:0",
		APIAddr:           "127.0.0.1:0",
		ClusterLabel:      label,
		Profile:           ProfileLocal,
		HeartbeatInterval: 200 * time.Millisecond,
		ShutdownTimeout:   2 * time.Second,
		// A cache of one byte: every cart leaves memory as soon as it is
		// saved, so every test also runs the paths of carts read back from
		// the data file (a write, a merge, a repair, a sync, a read).
		CacheSize: 1,
		Logger:    testLogger(tb),
		TuneGossip: func(c *gossip.Config) {
			c.Memberlist.PushPullInterval = 500 * time.Millisecond
			c.ReconnectInterval = 500 * time.Millisecond
		},
	}
}

func testLogger(tb testing.TB) *slog.Logger {
	if os.Getenv("CRDTD_TEST_LOG") == "" {
		return slog.New(slog.DiscardHandler)
	}
	return slog.New(slog.NewTextHandler(tb.Output(), &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// newTestNode starts a node, applying f to its config, and stops it when
// the test ends.
func newTestNode(tb testing.TB, f func(*Config)) *Daemon {
	tb.Helper()
	cfg := testConfig(tb, fmt.Sprintf("test-%d-%d", time.Now().UnixNano(), nodeSeq.Load()))
	if f != nil {
		f(&cfg)
	}
	d, err := Start(context.Background(), cfg)
	if err != nil {
		tb.Fatalf("start node: %v", err)
	}
	tb.Cleanup(func() { d.Close() })
	return d
}

func newTestClient(tb testing.TB, d *Daemon, token string) *client.Client {
	tb.Helper()
	c, err := client.New(client.Config{BaseURL: "http://" + d.APIAddr(), Token: token, Retries: -1})
	if err != nil {
		tb.Fatal(err)
	}
	return c
}

func i64(v int64) *int64 { return &v }
