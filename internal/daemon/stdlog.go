package daemon

import (
	"context"
	"log"
	"log/slog"
	"strings"
)

// newStdLogger adapts slog for http.Server's *log.Logger (TLS handshake and
// connection errors), at Warn.
func newStdLogger(l *slog.Logger) *log.Logger {
	return log.New(slogWriter{l}, "", 0)
}

type slogWriter struct{ l *slog.Logger }

func (w slogWriter) Write(p []byte) (int, error) {
	w.l.Log(context.Background(), slog.LevelWarn, strings.TrimSpace(string(p)), "component", "http")
	return len(p), nil
}
