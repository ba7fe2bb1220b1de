package h1_test

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"time"

	"github.com/crdtd/crdtd/internal/h1"
)

// A Server runs any http.Handler; here one that greets, on a loopback port.
func ExampleServer() {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	s := &h1.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			fmt.Fprintf(w, "hello, %s\n", r.URL.Query().Get("name"))
		}),
		ReadHeaderTimeout: 5 * time.Second,
		IdleTimeout:       30 * time.Second,
	}
	go s.Serve(ln)
	defer s.Close()

	resp, err := http.Get("http://" + ln.Addr().String() + "/?name=ada")
	if err != nil {
		panic(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	fmt.Print(resp.Status, " ", string(body))
	// Output: 200 OK hello, ada
}
