//go:build !unix

package daemon

import "time"

// cpuTime is not measured here: BenchmarkAddCPU reports 0.
func cpuTime() time.Duration { return 0 }
