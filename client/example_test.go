package client_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"

	"github.com/crdtd/crdtd/api"
	"github.com/crdtd/crdtd/client"
)

func Example() {
	// A stand-in for a crdtd node that answers every add with the same cart.
	node := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"cart":"alice","items":[{"item":"apple","quantity":2,`+
			`"unit_price_cents":125,"subtotal_cents":250}],"total_cents":250}`)
	}))
	defer node.Close()

	c, err := client.New(client.Config{BaseURL: node.URL})
	if err != nil {
		fmt.Println(err)
		return
	}
	price := int64(125)
	view, err := c.AddItem(context.Background(), "alice", api.AddItemRequest{
		Item: "apple", Quantity: 2, UnitPriceCents: &price,
	})
	var apiErr *client.APIError
	switch {
	case errors.Is(err, client.ErrUnreachable):
		fmt.Println("node is down; retrying later is safe")
		return
	case errors.As(err, &apiErr):
		fmt.Println("rejected:", apiErr.Code, apiErr.Message)
		return
	case err != nil:
		fmt.Println(err)
		return
	}
	for _, l := range view.Items {
		fmt.Printf("%s x%d = %d cents\n", l.Item, l.Quantity, *l.SubtotalCents)
	}
	fmt.Println("total:", view.TotalCents)
	// Output:
	// apple x2 = 250 cents
	// total: 250
}
