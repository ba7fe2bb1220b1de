package loadgen

import (
	"fmt"
	"io"
	"strings"
	"time"
)

// progressInterval is how often the progress line is redrawn.
const progressInterval = 250 * time.Millisecond

// progressWidth is the width of the bar, in characters.
const progressWidth = 20

// progress redraws the progress line on Config.Progress until stop is closed, then erases it. It
// runs in one goroutine of its own and reads only counters.
func (r *run) progress(stop <-chan struct{}) {
	w := r.cfg.Progress
	tick := time.NewTicker(progressInterval)
	defer tick.Stop()
	lastDone, lastAt := int64(0), r.start
	for {
		select {
		case <-stop:
			_, _ = io.WriteString(w, "\r\x1b[K")
			return
		case now := <-tick.C:
			done := r.done.Load()
			current := 0.0
			if dt := now.Sub(lastAt).Seconds(); dt > 0 {
				current = float64(done-lastDone) / dt
			}
			lastDone, lastAt = done, now
			_, _ = io.WriteString(w, "\r\x1b[K"+r.progressLine(done, now.Sub(r.start), current))
		}
	}
}

// progressLine renders the state of the run: a bar of how much of it is done (by operations or
// by time), operations done, elapsed time, the rate over the last interval and, when the
// sampler runs, how many markers it timed.
func (r *run) progressLine(done int64, elapsed time.Duration, current float64) string {
	frac := 0.0
	if r.cfg.Requests > 0 {
		frac = float64(done) / float64(r.cfg.Requests)
	} else if r.cfg.Duration > 0 {
		frac = elapsed.Seconds() / r.cfg.Duration.Seconds()
	}
	frac = max(0, min(frac, 1))
	filled := int(frac * progressWidth)
	bar := strings.Repeat("=", filled) + strings.Repeat(" ", progressWidth-filled)
	line := fmt.Sprintf("[%s] %3.0f%%  %d ops  %s  %.0f ops/s", bar, frac*100, done,
		elapsed.Round(100*time.Millisecond), current)
	if r.sampling() {
		line += fmt.Sprintf("  convergence %d/%d", r.samples.Load(), r.cfg.ConvergenceSamples)
	}
	return line
}
