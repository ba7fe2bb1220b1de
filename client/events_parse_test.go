package client

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

func TestReadEvents(t *testing.T) {
	type ev struct{ typ, data string }
	tests := []struct {
		name   string
		stream string
		want   []ev
	}{
		{"one event", "id: 7\nevent: cart\ndata: {}\n\n", []ev{{"cart", "{}"}}},
		{"CRLF", "event: cart\r\ndata: {}\r\n\r\n", []ev{{"cart", "{}"}}},
		{"no space after colon", "event:cart\ndata:{}\n\n", []ev{{"cart", "{}"}}},
		{"only one space is taken", "data:  x\n\n", []ev{{"message", " x"}}},
		{"data lines join with LF", "data: a\ndata: b\ndata\n\n", []ev{{"message", "a\nb\n"}}},
		{"comments are skipped", ": keep-alive\n\n:x\ndata: a\n\n", []ev{{"message", "a"}}},
		{"no data, no event", "event: cart\n\nid: 3\n\n", nil},
		{"cut off at the end", "data: a\n\ndata: b\n", []ev{{"message", "a"}}},
		{"unknown fields", "retry: 100\nfoo: bar\ndata: a\n\n", []ev{{"message", "a"}}},
		{"type resets", "event: cart\ndata: a\n\ndata: b\n\n", []ev{{"cart", "a"}, {"message", "b"}}},
	}
	for _, tt := range tests {
		var got []ev
		err := readEvents(strings.NewReader(tt.stream), func(typ string, data []byte) error {
			got = append(got, ev{typ, string(data)})
			return nil
		})
		if err != nil {
			t.Errorf("%s: readEvents(%q): %v", tt.name, tt.stream, err)
		}
		if !reflect.DeepEqual(got, tt.want) {
			t.Errorf("%s: readEvents(%q) = %q, want %q", tt.name, tt.stream, got, tt.want)
		}
	}
}

func TestReadEventsLimits(t *testing.T) {
	line := strings.Repeat("x", maxEventBytes/2)
	for name, stream := range map[string]string{
		"long line": "data: " + strings.Repeat("x", maxEventBytes) + "\n\n",
		"long data": "data: " + line + "\ndata: " + line + "\ndata: " + line + "\n\n",
	} {
		err := readEvents(strings.NewReader(stream), func(string, []byte) error { return nil })
		if !errors.Is(err, errMalformed) {
			t.Errorf("%s: got %v, want errMalformed", name, err)
		}
	}
}

func FuzzReadEvents(f *testing.F) {
	f.Add("id: 1\nevent: cart\ndata: {}\n\n: keep-alive\r\n\r\n")
	f.Fuzz(func(t *testing.T, s string) {
		_ = readEvents(strings.NewReader(s), func(_ string, data []byte) error {
			if len(data) > maxEventBytes {
				t.Fatalf("event data of %d bytes", len(data))
			}
			return nil
		})
	})
}
