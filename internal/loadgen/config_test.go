package loadgen

import (
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestMixString(t *testing.T) {
	tests := []struct{ in, want string }{
		{"add=70,set=10,remove=10,get=10", "add=70,set=10,remove=10,get=10"},
		{"get=10,add=90", "add=90,get=10"},
		{"set=0,remove=100", "remove=100"},
	}
	for _, tt := range tests {
		m, err := ParseMix(tt.in)
		if err != nil {
			t.Fatalf("ParseMix(%q): %v", tt.in, err)
		}
		if got := m.String(); got != tt.want {
			t.Errorf("ParseMix(%q).String() = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestParseMixErrors(t *testing.T) {
	tests := []struct{ in, want string }{
		{"add=70,set=10,remove=10", "sum to 90"},
		{"add=70,set=40", "sum to 110"},
		{"add=100,clear=0", `unknown operation "clear"`},
		{"add=50,add=50", "given twice"},
		{"add", "want OP=PERCENT"},
		{"add=1.5,get=98.5", "whole percentage"},
		{"add=-10,get=110", "whole percentage"},
		{"", "want OP=PERCENT"},
	}
	for _, tt := range tests {
		if m, err := ParseMix(tt.in); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("ParseMix(%q) = %v, %v; want an error saying %q", tt.in, m, err, tt.want)
		}
	}
}

func TestMixPick(t *testing.T) {
	m, err := ParseMix("add=70,set=0,remove=10,get=20")
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	var counts [numOps]int
	const n = 100_000
	for range n {
		counts[m.pick(rng)]++
	}
	for op, pct := range m {
		got := float64(counts[op]) * 100 / n
		if got < float64(pct)-1 || got > float64(pct)+1 {
			t.Errorf("mix %s: %s drawn %.2f%% of the time, want %d%% ± 1", m.String(), Op(op), got, pct)
		}
	}
}

func TestConfigDefaults(t *testing.T) {
	if got, want := (Config{}).withDefaults(), DefaultConfig(); !reflect.DeepEqual(got, want) {
		t.Errorf("zero Config with defaults:\ngot  %+v\nwant %+v", got, want)
	}
	if got, want := DefaultConfig().Mix.String(), "add=70,set=10,remove=10,get=10"; got != want {
		t.Errorf("default mix %q, want %q", got, want)
	}
	// Values that mean something else than the default stay.
	c := Config{Requests: 5, Retries: -1, ConvergenceSamples: -1, Seed: 0}.withDefaults()
	if c.Duration != 0 || c.Requests != 5 || c.Retries != -1 || c.ConvergenceSamples != -1 || c.Seed != 0 {
		t.Errorf("with defaults: duration %v, requests %d, retries %d, samples %d, seed %d; want 0, 5, -1, -1, 0",
			c.Duration, c.Requests, c.Retries, c.ConvergenceSamples, c.Seed)
	}
}

func TestConfigValidate(t *testing.T) {
	nodes := []string{"http://127.0.0.1:7070"}
	tests := []struct {
		name string
		cfg  Config
		want string // "" for valid
	}{
		{"defaults", Config{Nodes: nodes}, ""},
		{"requests", Config{Nodes: nodes, Requests: 10, Retries: -1, ConvergenceSamples: -1}, ""},
		{"no nodes", Config{}, "no nodes"},
		{"duration and requests", Config{Nodes: nodes, Duration: time.Second, Requests: 10}, "give one"},
		{"negative duration", Config{Nodes: nodes, Duration: -time.Second}, "duration"},
		{"concurrency", Config{Nodes: nodes, Concurrency: MaxConcurrency + 1}, "concurrency"},
		{"carts", Config{Nodes: nodes, Carts: -1}, "carts"},
		{"items", Config{Nodes: nodes, Items: MaxItems + 1}, "items"},
		{"rate", Config{Nodes: nodes, Rate: -1}, "rate"},
		{"samples", Config{Nodes: nodes, ConvergenceSamples: MaxConvergenceSamples + 1}, "convergence samples"},
		{"poll", Config{Nodes: nodes, ConvergencePoll: 2 * time.Second}, "convergence poll"},
		{"mix sum", Config{Nodes: nodes, Mix: Mix{OpAdd: 50}}, "sum to 50"},
		{"mix negative", Config{Nodes: nodes, Mix: Mix{OpAdd: 110, OpGet: -10}}, "whole percentage"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := tt.cfg.withDefaults()
			err := c.validate()
			switch {
			case tt.want == "" && err != nil:
				t.Errorf("validate(%+v) = %v, want nil", tt.cfg, err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Errorf("validate(%+v) = %v, want an error saying %q", tt.cfg, err, tt.want)
			}
		})
	}
}
