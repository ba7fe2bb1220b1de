package cli

import (
	"bytes"
	"testing"

	"github.com/crdtd/crdtd/api"
)

func TestStatusWithoutPeers(t *testing.T) {
	var out bytes.Buffer
	p := &tablePrinter{w: &out, tty: true}
	st := api.Status{Node: "solo", Replica: "r-1", UptimeSeconds: 0.25, Ready: true, Digest: "00", Members: api.MemberCounts{Alive: 1}}
	if err := p.status(st); err != nil {
		t.Fatal(err)
	}
	want := `Node:     solo
Replica:  r-1
API:      -
Gossip:   -
Version:  -
Uptime:   250ms
Ready:    yes
Carts:    0 (and 0 emptied)
Digest:   00
Members:  1 alive, 0 suspect, 0 dead, 0 left
Peers:    none
`
	if out.String() != want {
		t.Errorf("got:\n%s\nwant:\n%s", out.String(), want)
	}
}

func TestTableSanitizesFields(t *testing.T) {
	for _, tty := range []bool{true, false} {
		var out bytes.Buffer
		p := &tablePrinter{w: &out, tty: tty}
		ml := api.MemberList{Members: []api.Member{{Name: "evil\x1b[2J\tname\n", State: "alive"}}}
		if err := p.members(ml); err != nil {
			t.Fatal(err)
		}
		if bytes.ContainsAny(out.Bytes(), "\x1b") || bytes.Count(out.Bytes(), []byte("\n")) != map[bool]int{true: 2, false: 1}[tty] {
			t.Errorf("tty=%t: got %q, want control characters replaced", tty, out.String())
		}
	}
}

func TestFormatSeconds(t *testing.T) {
	tests := []struct {
		in   float64
		want string
	}{
		{0, "0s"}, {0.4, "400ms"}, {0.0004, "0s"}, {1.2, "1.2s"}, {12.75, "12.8s"}, {3723.25, "1h2m3.3s"},
	}
	for _, tt := range tests {
		if got := formatSeconds(tt.in); got != tt.want {
			t.Errorf("formatSeconds(%v) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestNewPrinterUnknownFormat(t *testing.T) {
	if _, err := newPrinter("yaml", &bytes.Buffer{}, false); err == nil {
		t.Error("newPrinter(yaml): got nil error, want one")
	}
}

func TestFormatFloat(t *testing.T) {
	tests := []struct {
		in   float64
		want string
	}{
		{11.872239326999999, "11.872"}, {0.4000004, "0.4"}, {3723.2505, "3723.251"}, {2, "2"},
		{-1, "-1"}, {-0.0001, "0"}, {0.0005, "0.001"}, {1e9 + 0.1234, "1000000000.123"},
	}
	for _, tt := range tests {
		if got := formatFloat(tt.in); got != tt.want {
			t.Errorf("formatFloat(%v) = %q, want %q", tt.in, got, tt.want)
		}
	}
}
