package device_test

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"time"

	"github.com/crdtd/crdtd/client"
	"github.com/crdtd/crdtd/device"
)

// A phone edits a cart with no network, keeps the changes while the node
// is down, and syncs them when it is back.
func Example() {
	ctx := context.Background()
	phone, err := device.New(device.Config{Storage: &device.MemoryStorage{}})
	if err != nil {
		fmt.Println(err)
		return
	}
	price := int64(125)
	_ = phone.Add("groceries", "apple", 2, &price) // no network needed
	_ = phone.SetQuantity("groceries", "pear", 3)
	fmt.Println(phone.Pending("groceries"), "changes waiting")

	down := httptest.NewServer(nil)
	down.Close()
	offline, _ := client.New(client.Config{BaseURL: down.URL, Retries: -1})
	if err := phone.Sync(ctx, offline, "groceries"); errors.Is(err, client.ErrUnreachable) {
		fmt.Println("offline:", phone.Pending("groceries"), "changes waiting")
	}

	node := httptest.NewServer(newFakeNode()) // a stand-in for a crdtd node
	defer node.Close()
	online, _ := client.New(client.Config{BaseURL: node.URL})
	if err := phone.Sync(ctx, online, "groceries"); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("synced:", phone.Pending("groceries"), "changes waiting")
	for _, l := range phone.View("groceries").Lines {
		fmt.Println(l.Item, l.Quantity)
	}
	// Output:
	// 2 changes waiting
	// offline: 2 changes waiting
	// synced: 0 changes waiting
	// apple 2
	// pear 3
}

// Two devices edit the same cart apart and agree after syncing with the
// same node (or with different nodes of one cluster).
func ExampleDevice() {
	ctx := context.Background()
	node := httptest.NewServer(newFakeNode()) // a stand-in for a crdtd node
	defer node.Close()
	c, _ := client.New(client.Config{BaseURL: node.URL})

	phone, _ := device.New(device.Config{Storage: &device.MemoryStorage{}})
	laptop, _ := device.New(device.Config{Storage: &device.MemoryStorage{}})
	_ = phone.Add("groceries", "apple", 1, nil)
	_ = laptop.Add("groceries", "apple", 1, nil) // concurrent adds both count
	_ = laptop.Add("groceries", "bread", 1, nil)

	for _, d := range []*device.Device{phone, laptop, phone} {
		if err := d.Sync(ctx, c, "groceries"); err != nil {
			fmt.Println(err)
			return
		}
	}
	for _, d := range []*device.Device{phone, laptop} {
		fmt.Println(d.View("groceries").Lines)
	}
	// Output:
	// [{apple 2 0 0 false} {bread 1 0 0 false}]
	// [{apple 2 0 0 false} {bread 1 0 0 false}]
}

// A sync whose answer is lost keeps every change; sending them again, here
// to another node, applies them once.
func ExampleDevice_Sync() {
	ctx := context.Background()
	a, b := newFakeNode(), newFakeNode() // stand-ins for two crdtd nodes
	d, _ := device.New(device.Config{Storage: &device.MemoryStorage{}})
	_ = d.Add("groceries", "apple", 2, nil)

	toA, _ := client.New(client.Config{BaseURL: "http://a", HTTPClient: &http.Client{Transport: a}, Retries: -1})
	toB, _ := client.New(client.Config{BaseURL: "http://b", HTTPClient: &http.Client{Transport: b}})

	a.setFate(loseAnswer) // node a applies the push; its answer never arrives
	err := d.Sync(ctx, toA, "groceries")
	fmt.Println(errors.Is(err, client.ErrUnreachable), d.Pending("groceries"))

	if err := d.Sync(ctx, toB, "groceries"); err != nil {
		fmt.Println(err)
		return
	}
	a.gossip(b) // the nodes replicate to each other
	fmt.Println(d.Pending("groceries"), a.cart("groceries").Quantity("apple"))
	// Output:
	// true 1
	// 0 2
}

// Pending counts the edits no node has acknowledged, for an app to show
// "3 changes waiting".
func ExampleDevice_Pending() {
	d, _ := device.New(device.Config{Storage: &device.MemoryStorage{}})
	price := int64(99)
	_ = d.Add("groceries", "milk", 1, &price) // one change, with its price
	_ = d.Add("groceries", "milk", 1, nil)
	_ = d.Remove("groceries", "eggs") // not in the cart: no change
	_ = d.Clear("groceries")
	fmt.Println(d.Pending("groceries"), "changes waiting")
	fmt.Println(len(d.View("groceries").Lines), "lines")
	// Output:
	// 3 changes waiting
	// 0 lines
}

// A fixed clock makes a device's timestamps repeat exactly, for tests.
func ExampleConfig() {
	noon := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	store := &device.MemoryStorage{}
	cfg := device.Config{Storage: store, Now: func() time.Time { return noon }}
	d, _ := device.New(cfg)
	_ = d.SetQuantity("groceries", "apple", 3)

	again, _ := device.New(cfg) // the same storage: the same device
	fmt.Println(again.ID() == d.ID(), again.Pending("groceries"))
	// Output:
	// true 1
}

// kvStorage keeps a device's state under one key of a string key-value
// store, as a browser app keeps it in localStorage.
type kvStorage struct {
	kv  map[string]string
	key string
}

func (s kvStorage) Load() ([]byte, error) {
	v, ok := s.kv[s.key]
	if !ok {
		return nil, nil // nothing saved yet: a new device
	}
	return base64.StdEncoding.DecodeString(v)
}

func (s kvStorage) Save(b []byte) error {
	s.kv[s.key] = base64.StdEncoding.EncodeToString(b) // one assignment: atomic
	return nil
}

// A Storage of your own: anything that can keep one byte string and
// replace it atomically.
func ExampleStorage() {
	kv := map[string]string{}
	d, _ := device.New(device.Config{Storage: kvStorage{kv: kv, key: "crdtd-device"}})
	_ = d.Add("groceries", "apple", 1, nil)

	again, _ := device.New(device.Config{Storage: kvStorage{kv: kv, key: "crdtd-device"}})
	fmt.Println(again.ID() == d.ID(), again.View("groceries").Lines)
	// Output:
	// true [{apple 1 0 0 false}]
}

// A device on disk survives a restart with its pending changes.
func ExampleFileStorage() {
	dir, _ := os.MkdirTemp("", "device-example")
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "device.state")

	store, err := device.NewFileStorage(path)
	if err != nil {
		fmt.Println(err) // wraps device.ErrInUse when another process has it
		return
	}
	d, _ := device.New(device.Config{Storage: store})
	_ = d.Add("groceries", "apple", 2, nil)
	_ = store.Close()

	store, _ = device.NewFileStorage(path) // after a restart
	defer store.Close()
	d, err = device.New(device.Config{Storage: store})
	if err != nil {
		fmt.Println(err) // wraps device.ErrCorrupt when the file was damaged
		return
	}
	fmt.Println(d.Pending("groceries"), d.View("groceries").Lines)
	// Output:
	// 1 [{apple 2 0 0 false}]
}

// Every change is saved before the call that made it returns.
func ExampleMemoryStorage() {
	store := &device.MemoryStorage{}
	d, _ := device.New(device.Config{Storage: store}) // saves the new ID
	_ = d.Add("groceries", "apple", 1, nil)
	_ = d.SetPrice("groceries", "apple", 45)
	fmt.Println(store.Saves(), "saves")
	// Output:
	// 3 saves
}
