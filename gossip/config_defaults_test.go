package gossip

import (
	"testing"
	"time"
)

// TestProfileDurations pins every duration the two profiles set, as their
// doc comments state them: the LAN profile's anti-entropy, TCP, reclaim,
// reconnect and digest timings, and the local profile's shorter ones plus
// the ones it inherits from the LAN profile.
func TestProfileDurations(t *testing.T) {
	t.Parallel()
	lan, local := DefaultConfig(), DefaultLocalConfig()
	for _, tt := range []struct {
		name      string
		got, want time.Duration
	}{
		{"LAN PushPullInterval", lan.Memberlist.PushPullInterval, 10 * time.Second},
		{"LAN TCPTimeout", lan.Memberlist.TCPTimeout, 10 * time.Second},
		{"LAN DeadNodeReclaimTime", lan.Memberlist.DeadNodeReclaimTime, 30 * time.Second},
		{"LAN ReconnectInterval", lan.ReconnectInterval, 15 * time.Second},
		{"LAN ReconnectTimeout", lan.ReconnectTimeout, 72 * time.Hour},
		{"LAN DigestDelay", lan.DigestDelay, 500 * time.Millisecond},
		{"LAN DigestMaxDelay", lan.DigestMaxDelay, 5 * time.Second},
		{"local PushPullInterval", local.Memberlist.PushPullInterval, 2 * time.Second},
		{"local DeadNodeReclaimTime", local.Memberlist.DeadNodeReclaimTime, 5 * time.Second},
		{"local ReconnectInterval", local.ReconnectInterval, 2 * time.Second},
		{"local ReconnectTimeout", local.ReconnectTimeout, 72 * time.Hour},
		{"local DigestDelay", local.DigestDelay, 500 * time.Millisecond},
		{"local DigestMaxDelay", local.DigestMaxDelay, 5 * time.Second},
	} {
		if tt.got != tt.want {
			t.Errorf("%s = %v, want %v", tt.name, tt.got, tt.want)
		}
	}
}

// TestWithDefaultsFillsOnlyZeroFields pins withDefaults field by field: a
// zero tuning field gets the LAN profile's value, and a field the caller set
// is kept as it is.
func TestWithDefaultsFillsOnlyZeroFields(t *testing.T) {
	t.Parallel()
	def := DefaultConfig()
	for _, tt := range []struct {
		name string
		set  func(c *Config, v int) // sets the field to v
		get  func(c *Config) int
		def  int
	}{
		{"ReconnectInterval", func(c *Config, v int) { c.ReconnectInterval = time.Duration(v) }, func(c *Config) int { return int(c.ReconnectInterval) }, int(def.ReconnectInterval)},
		{"ReconnectTimeout", func(c *Config, v int) { c.ReconnectTimeout = time.Duration(v) }, func(c *Config) int { return int(c.ReconnectTimeout) }, int(def.ReconnectTimeout)},
		{"RepairBytesPerSecond", func(c *Config, v int) { c.RepairBytesPerSecond = v }, func(c *Config) int { return c.RepairBytesPerSecond }, def.RepairBytesPerSecond},
		{"MaxRepairChunk", func(c *Config, v int) { c.MaxRepairChunk = v }, func(c *Config) int { return c.MaxRepairChunk }, def.MaxRepairChunk},
		{"DigestDelay", func(c *Config, v int) { c.DigestDelay = time.Duration(v) }, func(c *Config) int { return int(c.DigestDelay) }, int(def.DigestDelay)},
		{"DigestMaxDelay", func(c *Config, v int) { c.DigestMaxDelay = time.Duration(v) }, func(c *Config) int { return int(c.DigestMaxDelay) }, int(def.DigestMaxDelay)},
		{"InboundWorkers", func(c *Config, v int) { c.InboundWorkers = v }, func(c *Config) int { return c.InboundWorkers }, def.InboundWorkers},
		{"InboundQueue", func(c *Config, v int) { c.InboundQueue = v }, func(c *Config) int { return c.InboundQueue }, def.InboundQueue},
		{"InboundQueueBytes", func(c *Config, v int) { c.InboundQueueBytes = v }, func(c *Config) int { return c.InboundQueueBytes }, def.InboundQueueBytes},
		{"OutboundQueue", func(c *Config, v int) { c.OutboundQueue = v }, func(c *Config) int { return c.OutboundQueue }, def.OutboundQueue},
		{"ReliableQueue", func(c *Config, v int) { c.ReliableQueue = v }, func(c *Config) int { return c.ReliableQueue }, def.ReliableQueue},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if tt.def == 0 {
				t.Fatal("the LAN profile leaves the field zero")
			}
			for _, v := range []int{0, 1, 7777} {
				c := validConfig()
				tt.set(c, v)
				want := v
				if v == 0 {
					want = tt.def
				}
				d := c.withDefaults()
				if got := tt.get(&d); got != want {
					t.Errorf("set to %d: withDefaults gives %d, want %d", v, got, want)
				}
			}
		})
	}
}
