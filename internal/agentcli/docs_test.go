package agentcli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spf13/pflag"
)

// TestOperationsDocsListEveryVariable: the operator's guide and the example
// environment file name the variable of every agent flag, so that a new flag
// cannot go undocumented there.
func TestOperationsDocsListEveryVariable(t *testing.T) {
	for _, doc := range []string{"docs/operations.md", "deploy/crdtd.env.example"} {
		b, err := os.ReadFile(filepath.Join("..", "..", doc))
		if err != nil {
			t.Fatal(err)
		}
		text := string(b)
		newCmdAgent(testFactory(t), nil).Flags().VisitAll(func(fl *pflag.Flag) {
			if fl.Hidden || fl.Name == "help" {
				return
			}
			if env := envName(fl.Name); !strings.Contains(text, env) {
				t.Errorf("%s does not mention $%s (--%s)", doc, env, fl.Name)
			}
		})
	}
}
