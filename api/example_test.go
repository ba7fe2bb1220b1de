package api_test

import (
	"encoding/json"
	"fmt"

	"github.com/crdtd/crdtd/api"
)

func ExampleValidID() {
	fmt.Println(api.ValidID("alice"))
	fmt.Println(api.ValidID("bob smith"))
	// Output:
	// <nil>
	// "bob smith" has byte ' ' at 3 (allowed: A-Z a-z 0-9 . _ : @ -)
}

func ExampleCartView() {
	v := api.CartView{
		Cart:       "alice",
		Items:      []api.Line{{Item: "apple", Quantity: 2, UnitPriceCents: api.Cents(125), SubtotalCents: api.Cents(250)}},
		TotalCents: 250,
	}
	b, _ := json.Marshal(v)
	fmt.Println(string(b))
	// Output:
	// {"cart":"alice","items":[{"item":"apple","quantity":2,"unit_price_cents":125,"subtotal_cents":250}],"total_cents":250,"unpriced_items":0}
}

func ExampleErrorBody() {
	b, _ := json.Marshal(api.ErrorBody{Error: api.ErrorDetail{Code: api.CodeNotFound, Message: "no route for /v2"}})
	fmt.Println(string(b))
	// Output:
	// {"error":{"code":"not_found","message":"no route for /v2"}}
}
