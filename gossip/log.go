package gossip

import (
	"bytes"
	"context"
	"log"
	"log/slog"
	"net"
	"strings"
	"sync/atomic"
	"time"
)

// subsystemKey names memberlist's lines. It is not "component": the daemon
// gives gossip a logger that already has a component, and a JSON line
// holding one key twice is invalid for many readers.
const subsystemKey = "subsystem"

// logWriter adapts memberlist's *log.Logger output to slog: it maps the
// "[DEBUG]", "[INFO]", "[WARN]" and "[ERR]"/"[ERROR]" prefixes to levels.
// Warnings and errors pass through limit, if set, per kind of line
// (shapeOf), and are counted in errors first: most are about input a peer
// sent (a wrong key or label, a malformed packet), which a peer can send
// faster than anyone reads logs.
type logWriter struct {
	l      *slog.Logger
	limit  *logLimiter    // nil: no limit
	errors *atomic.Uint64 // nil: not counted
	// closing reports that the node is leaving or shutting down; nil means
	// never. memberlist's goroutines then race the closing of its sockets,
	// and their "use of closed network connection" errors are expected.
	closing func() bool
}

// newMemberlistLogger returns a *log.Logger for memberlist, without limits
// (tests give it to the transports they build).
func newMemberlistLogger(l *slog.Logger) *log.Logger {
	return log.New(&logWriter{l: l.With(subsystemKey, "memberlist")}, "", 0)
}

// memberlistLogger returns the *log.Logger the node gives memberlist: lines
// are limited per kind, counted in Stats.TransportErrors, and errors about
// closed sockets while the node closes are Debug.
func (n *Node) memberlistLogger() *log.Logger {
	return log.New(&logWriter{
		l:       n.log.With(subsystemKey, "memberlist"),
		limit:   newLogLimiter(time.Now),
		errors:  &n.stats.transportErrors,
		closing: func() bool { return n.leaving.Load() || n.shutdown.Load() },
	}, "", 0)
}

var logLevels = []struct {
	prefix string
	level  slog.Level
}{
	{"[DEBUG]", slog.LevelDebug},
	{"[INFO]", slog.LevelInfo},
	{"[WARN]", slog.LevelWarn},
	{"[ERR]", slog.LevelError},
	{"[ERROR]", slog.LevelError},
}

// errClosedText is how net.ErrClosed reads inside memberlist's messages.
var errClosedText = []byte(net.ErrClosed.Error())

func (w *logWriter) Write(p []byte) (int, error) {
	n := len(p)
	msg := bytes.TrimSpace(p)
	level := slog.LevelInfo
	for _, l := range logLevels {
		if bytes.HasPrefix(msg, []byte(l.prefix)) {
			level = l.level
			msg = bytes.TrimSpace(msg[len(l.prefix):])
			break
		}
	}
	msg = bytes.TrimPrefix(msg, []byte("memberlist: "))
	if level >= slog.LevelWarn && w.closing != nil && w.closing() && bytes.Contains(msg, errClosedText) {
		level = slog.LevelDebug
	}
	var suppressed uint64
	if level >= slog.LevelWarn {
		if w.errors != nil {
			w.errors.Add(1)
		}
		if !w.l.Enabled(context.Background(), level) {
			return n, nil
		}
		if w.limit != nil {
			var ok bool
			if ok, suppressed = w.limit.allow(shapeOf(string(msg))); !ok {
				return n, nil
			}
		}
	} else if !w.l.Enabled(context.Background(), level) {
		return n, nil
	}
	if suppressed > 0 {
		w.l.Log(context.Background(), level, string(msg), "suppressed", suppressed)
	} else {
		w.l.Log(context.Background(), level, string(msg))
	}
	return n, nil
}

// warnLimited logs a warning about bad remote input unless a line of the
// same kind passed within the last second (see logLimiter); the line that
// passes next says how many were held back. Callers count the input in
// Stats before calling, so the counters see every one.
func (n *Node) warnLimited(kind, msg string, args ...any) {
	if !n.log.Enabled(context.Background(), slog.LevelWarn) {
		return
	}
	ok, suppressed := n.warnLimit.allow(kind)
	if !ok {
		return
	}
	if suppressed > 0 {
		args = append(args, "suppressed", suppressed)
	}
	n.log.Warn(msg, args...)
}

// oneLine flattens a multi-line error, such as the "2 errors occurred:\n\t*
// ..." of memberlist's Join, to one line for a log attribute or an error
// string.
func oneLine(err error) string {
	if err == nil {
		return ""
	}
	if m, ok := err.(interface{ WrappedErrors() []error }); ok {
		var parts []string
		for _, e := range m.WrappedErrors() {
			parts = append(parts, oneLine(e))
		}
		return strings.Join(parts, "; ")
	}
	return strings.Join(strings.Fields(err.Error()), " ")
}
