package daemon

import (
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestConfigDefaults: fields left zero get their documented defaults, and
// fields that are set keep their values.
func TestConfigDefaults(t *testing.T) {
	t.Parallel()
	c, err := Config{DataDir: t.TempDir()}.withDefaults()
	require.NoError(t, err)
	require.Equal(t, DefaultGossipAddr, c.GossipAddr)
	require.Equal(t, DefaultAPIAddr, c.APIAddr)
	require.Equal(t, DefaultClusterLabel, c.ClusterLabel)
	require.Equal(t, ProfileLAN, c.Profile)
	require.Equal(t, DefaultMaxDrift, c.MaxDrift)
	require.Equal(t, DefaultHeartbeatInterval, c.HeartbeatInterval)
	require.Equal(t, DefaultShutdownTimeout, c.ShutdownTimeout)
	require.Equal(t, DefaultMaxConnections, c.MaxConnections)
	require.Equal(t, DefaultMaxEventStreams, c.MaxEventStreams)
	require.Equal(t, DefaultEventKeepAlive, c.EventKeepAlive)
	require.Equal(t, DefaultCheckpointInterval, c.CheckpointInterval)
	require.Equal(t, int64(DefaultCheckpointLogBytes), int64(c.CheckpointLogBytes))
	require.Equal(t, int64(DefaultCacheSize), c.CacheSize)
	require.NotEmpty(t, c.Name)
	require.NotNil(t, c.Logger)

	set := Config{
		DataDir: t.TempDir(), Name: "n1", GossipAddr: "127.0.0.1:1", APIAddr: "127.0.0.1:2",
		ClusterLabel: "blue", Profile: ProfileLocal, MaxDrift: 2 * time.Second,
		HeartbeatInterval: 3 * time.Second, ShutdownTimeout: 4 * time.Second,
		MaxConnections: 100, MaxEventStreams: 10, EventKeepAlive: 5 * time.Second,
		CheckpointInterval: 6 * time.Second, CheckpointLogBytes: 7 << 20, CacheSize: 8 << 20,
	}
	c, err = set.withDefaults()
	require.NoError(t, err)
	c.Logger = nil
	require.Equal(t, set, c)
}

// TestConfigRefusesNegatives: each duration or size that must not be
// negative is refused alone.
func TestConfigRefusesNegatives(t *testing.T) {
	t.Parallel()
	for name, set := range map[string]func(*Config){
		"MaxDrift":           func(c *Config) { c.MaxDrift = -1 },
		"HeartbeatInterval":  func(c *Config) { c.HeartbeatInterval = -1 },
		"ShutdownTimeout":    func(c *Config) { c.ShutdownTimeout = -1 },
		"CheckpointInterval": func(c *Config) { c.CheckpointInterval = -1 },
		"CheckpointLogBytes": func(c *Config) { c.CheckpointLogBytes = -1 },
		"EventKeepAlive":     func(c *Config) { c.EventKeepAlive = -1 },
		"MaxConnections":     func(c *Config) { c.MaxConnections = -1 },
		"MaxEventStreams":    func(c *Config) { c.MaxEventStreams = -1 },
		"CacheSize":          func(c *Config) { c.CacheSize = -1 },
	} {
		c := Config{DataDir: t.TempDir()}
		set(&c)
		_, err := c.withDefaults()
		require.ErrorIs(t, err, ErrConfig, name)
	}
}

// TestConfigGossipKeyLengths: a gossip key is AES-128, -192 or -256: 16,
// 24 or 32 bytes; any other length is refused.
func TestConfigGossipKeyLengths(t *testing.T) {
	t.Parallel()
	for n, ok := range map[int]bool{5: false, 15: false, 16: true, 24: true, 31: false, 32: true, 33: false} {
		c := Config{DataDir: t.TempDir(), GossipKey: make([]byte, n)}
		_, err := c.withDefaults()
		if ok && err != nil {
			t.Errorf("a %d-byte gossip key: %v", n, err)
		}
		if !ok && !errors.Is(err, ErrConfig) {
			t.Errorf("a %d-byte gossip key: %v, want ErrConfig", n, err)
		}
	}
}
