package loadgen

import (
	"testing"
	"time"

	"github.com/crdtd/crdtd/client"
)

func TestProgressLine(t *testing.T) {
	tests := []struct {
		name    string
		cfg     Config
		nodes   int
		done    int64
		elapsed time.Duration
		rate    float64
		want    string
	}{
		{name: "count", cfg: Config{Requests: 1000}, nodes: 1, done: 250, elapsed: 1234 * time.Millisecond, rate: 201.4,
			want: "[=====               ]  25%  250 ops  1.2s  201 ops/s"},
		{name: "time with sampler", cfg: Config{Duration: 10 * time.Second, ConvergenceSamples: 200}, nodes: 2,
			done: 9000, elapsed: 5 * time.Second, rate: 1800,
			want: "[==========          ]  50%  9000 ops  5s  1800 ops/s  convergence 0/200"},
		{name: "overrun", cfg: Config{Duration: time.Second}, nodes: 1, done: 10, elapsed: 2 * time.Second,
			want: "[====================] 100%  10 ops  2s  0 ops/s"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := &run{cfg: tt.cfg, clients: make([]*client.Client, tt.nodes)}
			if got := r.progressLine(tt.done, tt.elapsed, tt.rate); got != tt.want {
				t.Errorf("progressLine(%d, %v, %v) =\n%q, want\n%q", tt.done, tt.elapsed, tt.rate, got, tt.want)
			}
		})
	}
}
