package cli

import (
	"bytes"
	"strings"
	"testing"

	"github.com/crdtd/crdtd/api"
)

func TestPrintCartWarnsOnOverflow(t *testing.T) {
	for _, overflow := range []bool{false, true} {
		var out, errOut bytes.Buffer
		opts := &baseOptions{Out: &out, ErrOut: &errOut, Output: formatTable}
		view := api.CartView{Cart: "alice", Items: []api.Line{{Item: "gold", Quantity: 1, UnitPriceCents: api.Cents(1), SubtotalCents: api.Cents(1)}}, TotalCents: 1, Overflow: overflow}
		if err := printCart(opts, view); err != nil {
			t.Fatal(err)
		}
		if got := strings.Contains(errOut.String(), "capped"); got != overflow {
			t.Fatalf("overflow=%v: warning printed %v (stderr %q)", overflow, got, errOut.String())
		}
		if !strings.Contains(out.String(), "gold") {
			t.Fatalf("overflow=%v: stdout %q lacks the line", overflow, out.String())
		}
	}
}
