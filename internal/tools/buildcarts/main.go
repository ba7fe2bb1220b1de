// Command buildcarts fills a data directory with many small carts, fast,
// for measuring a node at scale: crdtd agent then starts on the directory
// as on any other. Each cart has two lines (one priced) made by one
// replica that is not the node's; cart IDs are cart-0000000 upwards.
//
//	go run ./internal/tools/buildcarts --dir /tmp/scale --carts 1000000
//
// It writes through the store, in transactions of 10,000 carts with their
// index entries, without fsync (run sync(1) after, if the figures should
// not include the page cache's writeback).
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/crdtd/crdtd/cart"
	"github.com/crdtd/crdtd/crdt"
	"github.com/crdtd/crdtd/gossip"
	"github.com/crdtd/crdtd/internal/store"
)

func main() {
	dir := flag.String("dir", "", "data directory to fill (created if missing)")
	n := flag.Int("carts", 100_000, "how many carts to write")
	start := flag.Int("from", 0, "number of the first cart")
	flag.Parse()
	if *dir == "" || *n <= 0 || *start < 0 {
		fmt.Fprintln(os.Stderr, "usage: buildcarts --dir DIR --carts N [--from K]")
		os.Exit(2)
	}
	if err := build(*dir, *start, *n); err != nil {
		fmt.Fprintln(os.Stderr, "buildcarts:", err)
		os.Exit(1)
	}
}

const batch = 10_000

func build(dir string, from, n int) error {
	s, err := store.Open(dir, store.Options{NoSync: true, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		return err
	}
	defer s.Close()
	hlc, err := crdt.NewHLC("r-b0b0b0b0b0b0b0b0")
	if err != nil {
		return err
	}
	began := time.Now()
	wall := time.Now().Add(-time.Hour)
	var bytes int64
	for i := from; i < from+n; {
		w := store.Write{Objects: make(map[string][]byte, batch), Index: make(map[string]store.Entry, batch)}
		for ; i < from+n && len(w.Objects) < batch; i++ {
			c := cart.New()
			wall = wall.Add(time.Microsecond)
			for _, edit := range []func() (*cart.Cart, error){
				func() (*cart.Cart, error) {
					return c.Add(hlc.Now(wall), fmt.Sprintf("sku-%04d", i%9973), uint64(1+i%3))
				},
				func() (*cart.Cart, error) { return c.Add(hlc.Now(wall), fmt.Sprintf("sku-%04d", (i+1)%9973), 1) },
				func() (*cart.Cart, error) {
					return c.SetPrice(hlc.Now(wall), fmt.Sprintf("sku-%04d", i%9973), int64(100+i%5000))
				},
			} {
				if _, err := edit(); err != nil {
					return err
				}
			}
			enc, err := c.MarshalBinary()
			if err != nil {
				return err
			}
			key := fmt.Sprintf("c/cart-%07d", i)
			w.Objects[key] = enc
			w.Index[key] = store.Entry{Hash: gossip.ObjectHash(key, enc), Listed: true}
			bytes += int64(len(enc))
		}
		if err := s.Commit(context.Background(), w); err != nil {
			return err
		}
		if i%(batch*50) == 0 {
			fmt.Fprintf(os.Stderr, "%d carts, %s\n", i-from, time.Since(began).Round(time.Second))
		}
	}
	fmt.Printf("wrote %d carts (%d bytes of state, %.0f per cart) to %s in %s\n",
		n, bytes, float64(bytes)/float64(n), s.Path(), time.Since(began).Round(time.Millisecond))
	return s.Close()
}
