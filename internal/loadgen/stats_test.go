package loadgen

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/crdtd/crdtd/api"
	"github.com/crdtd/crdtd/client"
)

func TestPercentile(t *testing.T) {
	seq := func(n int) []time.Duration { // 1..n ms
		ds := make([]time.Duration, n)
		for i := range ds {
			ds[i] = time.Duration(i+1) * time.Millisecond
		}
		return ds
	}
	ms := time.Millisecond
	tests := []struct {
		name string
		in   []time.Duration
		p    int
		want time.Duration
	}{
		{"empty", nil, 50, 0},
		{"one p50", seq(1), 50, 1 * ms},
		{"one p99", seq(1), 99, 1 * ms},
		{"two p50", seq(2), 50, 1 * ms},
		{"two p90", seq(2), 90, 2 * ms},
		{"ten p50", seq(10), 50, 5 * ms},
		{"ten p90", seq(10), 90, 9 * ms},
		{"ten p99", seq(10), 99, 10 * ms},
		{"hundred p50", seq(100), 50, 50 * ms},
		{"hundred p99", seq(100), 99, 99 * ms},
		{"hundred p100", seq(100), 100, 100 * ms},
		{"thousand p99", seq(1000), 99, 990 * ms},
		{"seven p90", seq(7), 90, 7 * ms}, // ceil(6.3) = 7
		{"seven p50", seq(7), 50, 4 * ms}, // ceil(3.5) = 4
		{"ties", []time.Duration{ms, ms, ms, 5 * ms}, 50, ms},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := percentile(tt.in, tt.p); got != tt.want {
				t.Errorf("percentile(%d values, p%d) = %v, want %v", len(tt.in), tt.p, got, tt.want)
			}
		})
	}
}

func TestSummarize(t *testing.T) {
	us := time.Microsecond
	tests := []struct {
		name string
		in   []time.Duration
		max  time.Duration
		want Latency
	}{
		{"empty", nil, 0, Latency{}},
		{"unsorted", []time.Duration{3000 * us, 1000 * us, 2000 * us, 4000 * us}, 0,
			Latency{P50: 2, P90: 4, P99: 4, Max: 4}},
		{"true max beyond the sample", []time.Duration{1500 * us}, 9 * time.Millisecond,
			Latency{P50: 1.5, P90: 1.5, P99: 1.5, Max: 9}},
		{"rounded to the microsecond", []time.Duration{1234567}, 0,
			Latency{P50: 1.235, P90: 1.235, P99: 1.235, Max: 1.235}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := summarize(slices.Clone(tt.in), tt.max); got != tt.want {
				t.Errorf("summarize(%v, max %v) = %+v, want %+v", tt.in, tt.max, got, tt.want)
			}
		})
	}
}

func TestRecorderReservoir(t *testing.T) {
	const limit, n = 1000, 20_000
	r := newRecorder(limit, 1)
	for i := range n {
		r.record(Op(i%2), time.Duration(i+1), nil) // adds and sets alternate; latency i+1 ns
	}
	r.record(OpGet, time.Second, fmt.Errorf("wrapped: %w", &client.APIError{StatusCode: 503, Code: api.CodeUnavailable}))
	r.record(OpGet, time.Second, fmt.Errorf("GET x: %w: connection refused", client.ErrUnreachable))

	if len(r.samples) != limit {
		t.Fatalf("reservoir holds %d samples after %d operations, want the limit %d", len(r.samples), n, limit)
	}
	if r.ops[OpAdd].ok != n/2 || r.ops[OpSet].ok != n/2 || r.ops[OpGet].failed != 2 {
		t.Errorf("tallies %+v, want %d adds, %d sets, 2 failed gets", r.ops, n/2, n/2)
	}
	if r.ops[OpSet].max != n {
		t.Errorf("max of sets = %v, want %v even when the sample missed it", r.ops[OpSet].max, time.Duration(n))
	}
	wantErrs := map[string]int64{"unavailable": 1, "unreachable": 1}
	if fmt.Sprint(r.errors) != fmt.Sprint(wantErrs) {
		t.Errorf("errors %v, want %v", r.errors, wantErrs)
	}
	// A uniform sample of 1..n has its median near n/2 and both kinds near half of it.
	ds := make([]time.Duration, 0, limit)
	adds := 0
	for _, s := range r.samples {
		ds = append(ds, s.d)
		if s.op == OpAdd {
			adds++
		}
	}
	slices.Sort(ds)
	if med := percentile(ds, 50); med < n*4/10 || med > n*6/10 {
		t.Errorf("median of the reservoir = %v, want about %v", med, time.Duration(n/2))
	}
	if adds < limit*4/10 || adds > limit*6/10 {
		t.Errorf("reservoir holds %d adds of %d samples, want about half", adds, limit)
	}
}

func TestErrorKind(t *testing.T) {
	tests := []struct {
		err  error
		want string
	}{
		{&client.APIError{StatusCode: 400, Code: api.CodeInvalidArgument}, "invalid_argument"},
		{fmt.Errorf("POST x: %w: %w", client.ErrUnreachable, context.DeadlineExceeded), "timeout"},
		{fmt.Errorf("GET x: bad gateway: %w", context.DeadlineExceeded), "timeout"},
		{fmt.Errorf("GET x: %w: connection refused (4 attempts)", client.ErrUnreachable), "unreachable"},
		{fmt.Errorf("decode response: unexpected EOF"), "other"},
	}
	for _, tt := range tests {
		if got := errorKind(tt.err); got != tt.want {
			t.Errorf("errorKind(%v) = %q, want %q", tt.err, got, tt.want)
		}
	}
}
