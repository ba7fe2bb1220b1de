package h1

import (
	"bufio"
	"context"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
)

// BenchmarkServe measures a small POST and its JSON answer on kept-alive
// loopback connections, served by this package and by net/http side by
// side, with the same handler and client:
//
//	go test ./internal/h1 -run '^$' -bench Serve -benchmem -cpu 2
func BenchmarkServe(b *testing.B) {
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		h := w.Header()
		h.Set("Content-Type", "application/json")
		h.Set("Content-Length", "28")
		w.WriteHeader(http.StatusOK)
		io.WriteString(w, `{"items":[{"x":1}],"ok":true}`[:28])
	})
	serve := map[string]func(net.Listener) func(){
		"h1": func(ln net.Listener) func() {
			s := &Server{Handler: handler}
			go s.Serve(ln)
			return func() { s.Close() }
		},
		"net-http": func(ln net.Listener) func() {
			s := &http.Server{Handler: handler}
			go s.Serve(ln)
			return func() { s.Close() }
		},
	}
	const request = "POST /v1/carts/c1/items HTTP/1.1\r\nHost: bench\r\nContent-Type: application/json\r\n" +
		"Content-Length: 25\r\n\r\n{\"item\":\"x\",\"quantity\":1}"
	for _, name := range []string{"h1", "net-http"} {
		b.Run(name, func(b *testing.B) {
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				b.Fatal(err)
			}
			stop := serve[name](ln)
			defer stop()
			b.ReportAllocs()
			b.SetParallelism(8)
			b.RunParallel(func(pb *testing.PB) {
				c, err := net.Dial("tcp", ln.Addr().String())
				if err != nil {
					b.Error(err)
					return
				}
				defer c.Close()
				br := bufio.NewReader(c)
				for pb.Next() {
					if _, err := io.WriteString(c, request); err != nil {
						b.Error(err)
						return
					}
					resp, err := http.ReadResponse(br, nil)
					if err != nil {
						b.Error(err)
						return
					}
					io.Copy(io.Discard, resp.Body)
					if resp.StatusCode != http.StatusOK {
						b.Errorf("status %d", resp.StatusCode)
						return
					}
				}
			})
		})
	}
}

// BenchmarkReadRequest reads the head of BenchmarkServe's request with
// this package's reader and with http.ReadRequest:
//
//	go test ./internal/h1 -run '^$' -bench ReadRequest -benchmem
func BenchmarkReadRequest(b *testing.B) {
	const request = "POST /v1/carts/c1/items HTTP/1.1\r\nHost: bench\r\nContent-Type: application/json\r\n" +
		"Content-Length: 25\r\nIdempotency-Key: 0f3c9a\r\n\r\n"
	src := strings.NewReader(request)
	br := bufio.NewReaderSize(src, 4<<10)
	h := headReader{br: br} // kept from one request to the next, as a connection's
	read := map[string]func() error{
		"h1": func() error {
			_, err := h.readRequest(context.Background())
			return err
		},
		"net-http": func() error {
			_, err := http.ReadRequest(br)
			return err
		},
	}
	for _, name := range []string{"h1", "net-http"} {
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				src.Reset(request)
				br.Reset(src)
				if err := read[name](); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
