package gossip

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/memberlist"
)

func validConfig() *Config {
	c := DefaultLocalConfig()
	c.Name, c.Delegate = "a", newSetDelegate()
	c.Meta = map[string]string{"api": "127.0.0.1:7070"}
	return c
}

func TestConfigValidate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		tweak func(*Config)
	}{
		{"no name", func(c *Config) { c.Name = "" }},
		{"long name", func(c *Config) { c.Name = strings.Repeat("x", 300) }},
		{"no delegate", func(c *Config) { c.Delegate = nil }},
		{"no memberlist", func(c *Config) { c.Memberlist = nil }},
		{"memberlist delegate set", func(c *Config) { c.Memberlist.Delegate = &mlDelegate{} }},
		{"small udp", func(c *Config) { c.Memberlist.UDPBufferSize = 100 }},
		{"tiny chunk", func(c *Config) { c.MaxRepairChunk = 10 }},
		{"huge chunk", func(c *Config) { c.MaxRepairChunk = 100 << 20 }},
		{"rate below chunk", func(c *Config) { c.RepairBytesPerSecond = 10 << 10 }},
		{"negative direct", func(c *Config) { c.DirectPushPeers = -1 }},
		{"negative digest max delay", func(c *Config) { c.DigestMaxDelay = -time.Second }},
		{"negative interval", func(c *Config) { c.ReconnectInterval = -time.Second }},
		{"bad key", func(c *Config) { c.Memberlist.SecretKey = []byte("short") }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := validConfig()
			tt.tweak(c)
			n, err := New(c)
			if !errors.Is(err, ErrConfig) {
				if n != nil {
					_ = n.Shutdown()
				}
				t.Fatalf("New: got %v, want ErrConfig", err)
			}
		})
	}
	if _, err := New(nil); !errors.Is(err, ErrConfig) {
		t.Fatalf("New(nil): got %v, want ErrConfig", err)
	}
}

// manyEntries returns k meta entries with keys of klen bytes and values of
// vlen bytes.
func manyEntries(k, klen, vlen int) map[string]string {
	m := make(map[string]string, k)
	for i := range k {
		key := fmt.Sprintf("%0*d", klen, i)
		m[key] = strings.Repeat("v", vlen)
	}
	return m
}

// TestConfigMeta checks the bounds on Config.Meta at their edges: what fits
// memberlist's 512 bytes is accepted, anything beyond a bound is refused by
// New with an error that names the bound.
func TestConfigMeta(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		meta map[string]string
		want string // substring of the error; "" for valid
	}{
		{"none", nil, ""},
		{"empty map", map[string]string{}, ""},
		{"empty value", map[string]string{"k": ""}, ""},
		{"longest key and value", map[string]string{strings.Repeat("k", maxMetaKeyLen): strings.Repeat("v", maxMetaValueLen)}, ""},
		{"most entries", manyEntries(maxMetaEntries, 2, 1), ""},
		// Version, flags and count take 3 bytes; each entry 1+1+2 bytes of
		// lengths and key, then its value: 3 + 4+255 + 4+246 = 512.
		{"exactly 512 bytes", map[string]string{"a": strings.Repeat("v", 255), "b": strings.Repeat("v", 246)}, ""},
		{"513 bytes", map[string]string{"a": strings.Repeat("v", 255), "b": strings.Repeat("v", 247)}, "encodes to 513 bytes, more than memberlist's limit of 512"},
		{"empty key", map[string]string{"": "x"}, "empty key"},
		{"long key", map[string]string{strings.Repeat("k", maxMetaKeyLen+1): "x"}, "is 65 bytes, more than 64"},
		{"long value", map[string]string{"api": strings.Repeat("v", maxMetaValueLen+1)}, `value of key "api" is 256 bytes, more than 255`},
		{"too many entries", manyEntries(maxMetaEntries+1, 2, 0), "33 entries, more than 32"},
		{"large in total", manyEntries(4, 60, 200), "more than memberlist's limit of 512"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := validConfig()
			c.Meta = tt.meta
			d := c.withDefaults()
			err := d.validate()
			if tt.want == "" {
				if err != nil {
					t.Fatalf("validate: got %v, want nil", err)
				}
				if got := len(encodeMeta(d.Meta, true)); got != metaSize(d.Meta) || got > memberlist.MetaMaxSize {
					t.Fatalf("valid meta encodes to %d bytes, want metaSize %d, at most %d", got, metaSize(d.Meta), memberlist.MetaMaxSize)
				}
				return
			}
			if !errors.Is(err, ErrConfig) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("validate: got %v, want ErrConfig containing %q", err, tt.want)
			}
		})
	}
}

// TestNewCopiesMeta checks that a Node keeps its own copy of Config.Meta
// and hands out copies of it.
func TestNewCopiesMeta(t *testing.T) {
	t.Parallel()
	c := validConfig()
	c.Memberlist.BindPort = 0
	n, err := New(c)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = n.Shutdown() })
	want := map[string]string{"api": "127.0.0.1:7070"}
	c.Meta["api"] = "changed by the caller"
	if got := n.LocalMember().Meta; !maps.Equal(got, want) {
		t.Fatalf("after the caller changed Config.Meta: LocalMember meta %v, want %v", got, want)
	}
	n.LocalMember().Meta["api"] = "changed through a Member"
	if got := n.Members()[0].Meta; !maps.Equal(got, want) {
		t.Fatalf("after a caller changed a Member's meta: %v, want %v", got, want)
	}
}

func TestConfigDefaults(t *testing.T) {
	t.Parallel()
	c := validConfig()
	c.ReconnectInterval, c.MaxRepairChunk, c.InboundWorkers = 0, 0, 0
	d := c.withDefaults()
	if err := d.validate(); err != nil {
		t.Fatal(err)
	}
	if d.ReconnectInterval != 15*time.Second || d.MaxRepairChunk != 1<<20 || d.InboundWorkers != 4 || d.Logger == nil {
		t.Fatalf("defaults not applied: %+v", d)
	}
	lan := DefaultConfig()
	if lan.Memberlist.PushPullInterval != 10*time.Second || lan.Memberlist.TCPTimeout != 10*time.Second || lan.Memberlist.DeadNodeReclaimTime != 30*time.Second {
		t.Fatalf("LAN profile: %+v", lan.Memberlist)
	}
	local := DefaultLocalConfig()
	if local.Memberlist.RetransmitMult != 4 || local.Memberlist.BindAddr != "127.0.0.1" || local.ReconnectInterval != 2*time.Second {
		t.Fatalf("local profile: %+v", local.Memberlist)
	}
	if lan.Memberlist.EnableCompression || local.Memberlist.EnableCompression {
		t.Fatal("a profile compresses messages")
	}
	if lan.DirectPushPeers != 16 || local.DirectPushPeers != 16 {
		t.Fatalf("DirectPushPeers %d (LAN), %d (local), want 16", lan.DirectPushPeers, local.DirectPushPeers)
	}
}

func TestNewDoesNotModifyConfig(t *testing.T) {
	t.Parallel()
	c := validConfig()
	c.Memberlist.BindPort = 0
	c.Logger = slog.New(slog.DiscardHandler)
	n, err := New(c)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = n.Shutdown() })
	if c.Memberlist.Delegate != nil || c.Memberlist.Events != nil || c.Memberlist.BindPort != 0 {
		t.Fatal("New modified the caller's memberlist config")
	}
}

func TestParseKey(t *testing.T) {
	t.Parallel()
	k, err := GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	b, err := ParseKey([]byte(k + "\n"))
	if err != nil || len(b) != 32 {
		t.Fatalf("ParseKey(GenerateKey()) = %d bytes, %v", len(b), err)
	}
	for _, bad := range []string{"", "not base64!", "c2hvcnQ=" /* "short" */} {
		if _, err := ParseKey([]byte(bad)); err == nil {
			t.Errorf("ParseKey(%q): got nil error", bad)
		}
	}
	if b, err := ParseKey([]byte("AAAAAAAAAAAAAAAAAAAAAA==")); err != nil || len(b) != 16 {
		t.Errorf("16-byte key: %d bytes, %v", len(b), err)
	}
}

func TestLogWriter(t *testing.T) {
	t.Parallel()
	var got []slog.Level
	h := &recordHandler{levels: &got}
	l := newMemberlistLogger(slog.New(h))
	l.Print("[DEBUG] memberlist: a")
	l.Print("[WARN] memberlist: b")
	l.Print("[ERR] memberlist: c")
	l.Print("[INFO] memberlist: d")
	l.Print("plain")
	want := []slog.Level{slog.LevelDebug, slog.LevelWarn, slog.LevelError, slog.LevelInfo, slog.LevelInfo}
	if len(got) != len(want) {
		t.Fatalf("got levels %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("got levels %v, want %v", got, want)
		}
	}
	if h.last != "plain" {
		t.Fatalf("got message %q, want %q", h.last, "plain")
	}
}

type recordHandler struct {
	levels *[]slog.Level
	last   string
}

func (h *recordHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h *recordHandler) Handle(_ context.Context, r slog.Record) error {
	*h.levels = append(*h.levels, r.Level)
	h.last = r.Message
	return nil
}
func (h *recordHandler) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h *recordHandler) WithGroup(string) slog.Handler      { return h }
