package h1

import (
	"bufio"
	"bytes"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// serveSeeds are requests FuzzServe and FuzzReadRequest start from.
var serveSeeds = []string{
	"GET / HTTP/1.1\r\nHost: x\r\n\r\n",
	"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabcGET /flush HTTP/1.1\r\nHost: x\r\n\r\n",
	"POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
	"POST /echo HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\nhi",
	"GET /a HTTP/1.0\r\nConnection: keep-alive\r\n\r\nGET /b HTTP/1.0\r\n\r\n",
	"GET /header?v=a%0d%0ab HTTP/1.1\r\nHost: x\r\n\r\n",
	"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n",
	"GET / HTTP/1.1\r\nHost: a b\r\n\r\n",
}

// FuzzServe sends arbitrary bytes as requests. Whatever they are, the
// server must not crash, must close the connection once the client has
// sent everything, and must send only well-formed answers.
func FuzzServe(f *testing.F) {
	for _, seed := range serveSeeds {
		f.Add([]byte(seed))
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		f.Fatal(err)
	}
	s := &Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/echo":
			io.Copy(w, io.LimitReader(r.Body, 1<<10))
		case "/flush":
			io.WriteString(w, "part")
			http.NewResponseController(w).Flush()
		case "/header":
			w.Header().Set("X-V", r.URL.Query().Get("v"))
		default:
			io.WriteString(w, r.Method+" "+r.URL.Path)
		}
	}), ReadHeaderTimeout: time.Second, IdleTimeout: time.Second, MaxHeaderBytes: 1 << 10}
	go s.Serve(ln)
	f.Cleanup(func() { s.Close() })

	f.Fuzz(func(t *testing.T, in []byte) {
		c, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(10 * time.Second))
		go func() {
			c.Write(in)
			c.(*net.TCPConn).CloseWrite()
		}()
		out, err := io.ReadAll(c)
		if err != nil {
			t.Fatalf("the connection did not end after the client's last byte: %v", err)
		}
		if len(out) == 0 {
			return
		}
		// Each answer parses; a HEAD request's has no body, whatever its
		// length says, so only the first answer is read when there is one.
		br := bufio.NewReader(bytes.NewReader(out))
		for {
			method := "GET"
			if bytes.Contains(in, []byte("HEAD")) {
				method = "HEAD"
			}
			resp, err := http.ReadResponse(br, &http.Request{Method: method})
			if err != nil {
				t.Fatalf("an answer that does not parse: %v\n%q", err, out)
			}
			if _, err := io.Copy(io.Discard, resp.Body); err != nil && method == "GET" {
				t.Fatalf("an answer's body does not parse: %v\n%q", err, out)
			}
			for k, vs := range resp.Header {
				for _, v := range vs {
					if strings.ContainsAny(k+v, "\r\n") {
						t.Fatalf("a header with a line break: %q: %q", k, v)
					}
				}
			}
			if method == "HEAD" || resp.Close {
				return
			}
			if _, err := br.Peek(1); err != nil {
				return
			}
		}
	})
}
