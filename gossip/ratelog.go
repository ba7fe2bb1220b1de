package gossip

import (
	"strings"
	"sync"
	"time"
)

// Log limits. Bad remote input is logged at Warn and counted (STYLE), but
// a peer can send it as fast as the network carries it: random UDP packets
// once made memberlist log 24,000 lines a second. So each kind of line is
// logged at most once per logInterval, and the next line of that kind
// carries a "suppressed" count of those held back. The counters in [Stats]
// count every one.
const (
	logInterval = time.Second
	// maxLogKeys bounds the kinds of line a limiter tracks. The kinds of
	// gossip's own warnings are few and fixed, but a memberlist line's kind
	// comes from its text, part of which a peer chooses; past this many, new
	// kinds share one limit.
	maxLogKeys = 256
	// logKeyIdle is how long a kind must have been quiet before it is
	// forgotten to make room: a peer cycling through new kinds gets at most
	// maxLogKeys lines through per logKeyIdle, plus one a second for all
	// the rest together.
	logKeyIdle = time.Minute
	// overflowLogKey is the kind every line shares once maxLogKeys are
	// tracked.
	overflowLogKey = "\x00overflow"
)

// logLimiter decides which log lines pass: at most one per key per
// interval. It is safe for concurrent use.
type logLimiter struct {
	interval, idle time.Duration
	now            func() time.Time // time.Now, or a test clock

	// mu guards keys.
	mu   sync.Mutex
	keys map[string]*logKey
}

// logKey is the state of one kind of line.
type logKey struct {
	last       time.Time // when a line last passed
	suppressed uint64    // lines held back since then
}

func newLogLimiter(now func() time.Time) *logLimiter {
	return &logLimiter{interval: logInterval, idle: logKeyIdle, now: now, keys: make(map[string]*logKey)}
}

// allow reports whether a line of kind key may be logged now and, if so,
// how many lines of that kind were held back since the last one passed.
func (l *logLimiter) allow(key string) (ok bool, suppressed uint64) {
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	k := l.keys[key]
	if k == nil {
		if len(l.keys) >= maxLogKeys {
			l.forgetIdleLocked(now)
		}
		if len(l.keys) >= maxLogKeys {
			key = overflowLogKey
			k = l.keys[key]
		}
		if k == nil {
			l.keys[key] = &logKey{last: now}
			return true, 0
		}
	}
	if now.Sub(k.last) < l.interval {
		k.suppressed++
		return false, 0
	}
	suppressed = k.suppressed
	k.last, k.suppressed = now, 0
	return true, suppressed
}

// forgetIdleLocked drops the kinds quiet for l.idle. Their held-back
// counts, if any, are lost to the log (the counters in Stats keep them).
func (l *logLimiter) forgetIdleLocked(now time.Time) {
	for key, k := range l.keys {
		if now.Sub(k.last) >= l.idle {
			delete(l.keys, key)
		}
	}
}

// maxShapeWords bounds a line's shape: the variable tail of a long line
// (an error text, what a peer sent) must not make every line a new kind.
const maxShapeWords = 10

// shapeOf reduces a log message to its kind for the limiter: every word
// holding a digit, a quote or an '=' (addresses, ports, counts, "from=...",
// quoted labels) becomes "#", and only the first maxShapeWords words count.
// So "failed to receive: Unknown message type: 177 from=10.0.0.9:4411" and
// the same line from another address or with another type are one kind.
func shapeOf(msg string) string {
	var b strings.Builder
	n := 0
	for w := range strings.FieldsSeq(msg) {
		if n == maxShapeWords {
			break
		}
		if n > 0 {
			b.WriteByte(' ')
		}
		if strings.ContainsAny(w, "0123456789\"'=`") {
			w = "#"
		}
		b.WriteString(w)
		n++
	}
	return b.String()
}
