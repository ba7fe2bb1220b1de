package agentcli

import (
	"bytes"
	"encoding/base64"
	"strings"
	"testing"

	"github.com/crdtd/crdtd/gossip"
)

func TestKeygen(t *testing.T) {
	keys := map[string]bool{}
	for range 2 {
		var stdout, stderr bytes.Buffer
		if code := run(t.Context(), []string{"keygen"}, &factory{Out: &stdout, ErrOut: &stderr}); code != ExitOK {
			t.Fatalf("keygen = %d, want %d; stderr:\n%s", code, ExitOK, stderr.String())
		}
		out := stdout.String()
		line, ok := strings.CutSuffix(out, "\n")
		if !ok || strings.Contains(line, "\n") {
			t.Fatalf("keygen stdout %q: want exactly one line", out)
		}
		raw, err := base64.StdEncoding.DecodeString(line)
		if err != nil || len(raw) != 32 {
			t.Errorf("keygen printed %q: decodes to %d bytes, %v; want 32 bytes", line, len(raw), err)
		}
		if _, err := gossip.ParseKey(stdout.Bytes()); err != nil {
			t.Errorf("gossip.ParseKey(keygen output): %v", err)
		}
		for _, hint := range []string{"--gossip-key-file", "chmod 600"} {
			if !strings.Contains(stderr.String(), hint) {
				t.Errorf("keygen stderr %q: want a hint mentioning %q", stderr.String(), hint)
			}
		}
		keys[line] = true
	}
	if len(keys) != 2 {
		t.Errorf("two keygen runs printed the same key")
	}
}
