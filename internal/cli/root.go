package cli

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/crdtd/crdtd/client"
	"github.com/crdtd/crdtd/internal/buildinfo"
	"github.com/crdtd/crdtd/internal/cmdutil"
)

// Defaults and environment of the global flags.
const (
	defaultNode    = "http://127.0.0.1:7070"
	defaultTimeout = 10 * time.Second
	envNode        = "CARTCTL_NODE"
	envToken       = "CARTCTL_TOKEN"
	envCAFile      = "CARTCTL_CA_FILE"
	envCertFile    = "CARTCTL_CERT_FILE"
	envKeyFile     = "CARTCTL_KEY_FILE"
	maxTokenBytes  = 64 << 10
)

// globalOptions holds the persistent flags of the root command.
type globalOptions struct {
	Node      string
	TokenFile string
	CAFile    string
	CertFile  string
	KeyFile   string
	Output    string
	Timeout   time.Duration
	Device    deviceFlag // --device: the state file of a device replica; see device.go

	cancel context.CancelFunc // releases the --timeout context; set when a command runs
}

// newCmdRoot returns the cartctl command tree. Adding a command is one line in the list below.
func newCmdRoot(f *factory, g *globalOptions) *cobra.Command {
	root := newRootCmd(g)
	for _, cmd := range []*cobra.Command{
		newCmdAdd(f, nil),
		newCmdSet(f, nil),
		newCmdRemove(f, nil),
		newCmdClear(f, nil),
		newCmdShow(f, nil),
		newCmdWatch(f, nil),
		newCmdList(f, nil),
		newCmdSync(f, nil),
		newCmdMembers(f, nil),
		newCmdStatus(f, nil),
		newCmdBench(f, nil),
		newCmdCompletion(f, nil),
		newCmdVersion(f, nil),
	} {
		root.AddCommand(cmd)
	}
	return root
}

// newRootCmd returns the root command without subcommands: its help, global flags, the
// --timeout context and the mapping of flag errors to *FlagError. Tests hang a single command
// under it.
func newRootCmd(g *globalOptions) *cobra.Command {
	root := &cobra.Command{
		Use:   "cartctl <command>",
		Short: "Edit shopping carts and inspect a crdtd cluster",
		Long: `cartctl edits shopping carts on any crdtd node and inspects the cluster.

Every node accepts writes, even when cut off from the others; all nodes converge
to the same carts. Point cartctl at a node with --node or $CARTCTL_NODE. For a
node serving HTTPS with a private CA give --ca-file; for one that requires
client certificates, --cert-file and --key-file.

With --device PATH or $CARTCTL_DEVICE, add, set, remove, clear, show and list
work offline on a device's own replica of its carts, kept in PATH; cartctl sync
exchanges its changes with a node.

Exit status: 0 success, 1 failure, 2 usage error, 3 node unreachable. A node
that answers but fails the TLS handshake (its certificate not trusted, ours
missing or refused) is a failure (1), not unreachable: it is there, and only
a change of certificates or flags helps.`,
		Example: `  cartctl add alice apple --qty 2 --price 1.25
  cartctl show alice
  CARTCTL_NODE=127.0.0.1:7071 cartctl show alice -o json
  cartctl --node https://10.0.0.5:7070 --ca-file ca.crt --token-file token status
  cartctl --device ~/.cartctl-device add alice apple   # offline
  cartctl --device ~/.cartctl-device sync`,
		SilenceErrors: true,
		SilenceUsage:  true,
		Version:       buildinfo.Read().String(),
		PersistentPreRunE: func(cmd *cobra.Command, _ []string) error {
			if g.Timeout <= 0 {
				return flagErrorf("--timeout must be positive, got %v", g.Timeout)
			}
			ctx, cancel := context.WithTimeout(cmd.Context(), g.Timeout)
			g.cancel = cancel
			cmd.SetContext(ctx)
			return nil
		},
	}
	root.CompletionOptions.DisableDefaultCmd = true
	root.SetFlagErrorFunc(flagError)
	// Defined here so that cobra adds no -v shorthand; cobra prints the template on --version.
	root.Flags().Bool("version", false, "print the version of cartctl")
	root.SetVersionTemplate("cartctl {{.Version}}\n")
	addGlobalFlags(root, g)
	return root
}

// addGlobalFlags defines the persistent flags on root.
func addGlobalFlags(root *cobra.Command, g *globalOptions) {
	fs := root.PersistentFlags()
	fs.StringVar(&g.Node, "node", "",
		fmt.Sprintf("API address of the node, as URL or host:port (default $%s, then %s)", envNode, defaultNode))
	fs.StringVar(&g.TokenFile, "token-file", "",
		fmt.Sprintf("file holding the node's bearer token (default: the token in $%s)", envToken))
	fs.StringVar(&g.CAFile, "ca-file", "",
		fmt.Sprintf("PEM CA certificates to trust for an https node instead of the system's (default $%s)", envCAFile))
	fs.StringVar(&g.CertFile, "cert-file", "",
		fmt.Sprintf("PEM client certificate, for a node that requires one; with --key-file (default $%s)", envCertFile))
	fs.StringVar(&g.KeyFile, "key-file", "",
		fmt.Sprintf("PEM private key of --cert-file (default $%s)", envKeyFile))
	cmdutil.StringEnumFlag(root, fs, &g.Output, "output", "o", formatTable, outputFormats, "output format")
	fs.DurationVar(&g.Timeout, "timeout", defaultTimeout, "give up on the node after this long")
	fs.Var(&g.Device, "device",
		fmt.Sprintf("edit and show carts in this device's own replica, offline; sync sends them to --node (default $%s; \"\" for none)", envDevice))
}

// release cancels the --timeout context of the command that ran, if any.
func (g *globalOptions) release() {
	if g.cancel != nil {
		g.cancel()
	}
}

// newClient builds a client from the global flags and the environment. It is the factory's
// Client function.
func (g *globalOptions) newClient() (*client.Client, error) {
	node := g.Node
	if node == "" {
		node = os.Getenv(envNode)
	}
	if node == "" {
		node = defaultNode
	}
	token, err := g.token()
	if err != nil {
		return nil, err
	}
	tc, err := g.tlsConfig()
	if err != nil {
		return nil, err
	}
	c, err := client.New(client.Config{BaseURL: node, Token: token, HTTPClient: newHTTPClient(tc)})
	if err != nil {
		return nil, flagErrorf("--node %q: %v", node, err)
	}
	return c, nil
}

// token returns the bearer token: the trimmed contents of --token-file if given, else
// $CARTCTL_TOKEN, else none. Errors name the file, never the token.
func (g *globalOptions) token() (string, error) {
	if g.TokenFile == "" {
		return strings.TrimSpace(os.Getenv(envToken)), nil
	}
	fh, err := os.Open(g.TokenFile)
	if err != nil {
		return "", fmt.Errorf("read token: %v", err)
	}
	defer fh.Close()
	b, err := io.ReadAll(io.LimitReader(fh, maxTokenBytes+1))
	if err != nil {
		return "", fmt.Errorf("read token file %s: %v", g.TokenFile, err)
	}
	if len(b) > maxTokenBytes {
		return "", fmt.Errorf("token file %s is larger than %d bytes", g.TokenFile, maxTokenBytes)
	}
	token := strings.TrimSpace(string(b))
	if token == "" {
		return "", fmt.Errorf("token file %s is empty", g.TokenFile)
	}
	return token, nil
}

// tlsConfig returns the TLS settings for https nodes from --ca-file, --cert-file and --key-file
// or their variables, or nil for Go's defaults (the system's CAs, no client certificate). A
// certificate without its key, or the reverse, is a usage error; a file that cannot be read or
// holds no certificate is a failure naming the file.
func (g *globalOptions) tlsConfig() (*tls.Config, error) {
	caFile, certFile, keyFile := orEnv(g.CAFile, envCAFile), orEnv(g.CertFile, envCertFile), orEnv(g.KeyFile, envKeyFile)
	if caFile == "" && certFile == "" && keyFile == "" {
		return nil, nil
	}
	if (certFile == "") != (keyFile == "") {
		return nil, flagErrorf("a client certificate needs both --cert-file and --key-file ($%s, $%s)", envCertFile, envKeyFile)
	}
	tc := &tls.Config{MinVersion: tls.VersionTLS12}
	if caFile != "" {
		pem, err := os.ReadFile(caFile)
		if err != nil {
			return nil, fmt.Errorf("read CA file: %v", err)
		}
		tc.RootCAs = x509.NewCertPool()
		if !tc.RootCAs.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("CA file %s holds no PEM certificate", caFile)
		}
	}
	if certFile != "" {
		cert, err := tls.LoadX509KeyPair(certFile, keyFile)
		if err != nil {
			return nil, fmt.Errorf("client certificate %s with key %s: %v", certFile, keyFile, err)
		}
		tc.Certificates = []tls.Certificate{cert}
	}
	return tc, nil
}

// orEnv returns v, or the value of the environment variable env if v is empty.
func orEnv(v, env string) string {
	if v != "" {
		return v
	}
	return os.Getenv(env)
}
