package daemon_test

import (
	"context"
	"fmt"
	"log"
	"os"

	"github.com/crdtd/crdtd/api"
	"github.com/crdtd/crdtd/client"
	"github.com/crdtd/crdtd/internal/daemon"
)

// A node started in-process on free loopback ports, edited through its HTTP
// API.
func ExampleStart() {
	dir, err := os.MkdirTemp("", "crdtd-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)

	d, err := daemon.Start(context.Background(), daemon.Config{
		Name:       "example",
		DataDir:    dir,
		GossipAddr: "127.0.0.1:0",
		APIAddr:    "127.0.0.1:0",
		Profile:    daemon.ProfileLocal,
	})
	if err != nil {
		log.Fatal(err)
	}
	defer d.Close()

	c, err := client.New(client.Config{BaseURL: "http://" + d.APIAddr()})
	if err != nil {
		log.Fatal(err)
	}
	price := int64(125)
	view, err := c.AddItem(context.Background(), "alice", api.AddItemRequest{Item: "apple", Quantity: 2, UnitPriceCents: &price})
	if err != nil {
		log.Fatal(err)
	}
	for _, l := range view.Items {
		fmt.Printf("%s: %d x %s at %d = %d\n", view.Cart, l.Quantity, l.Item, *l.UnitPriceCents, *l.SubtotalCents)
	}
	fmt.Printf("%s: total %d\n", view.Cart, view.TotalCents)
	// Output:
	// alice: 2 x apple at 125 = 250
	// alice: total 250
}
