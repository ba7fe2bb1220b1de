// Package agentcli implements the command line of crdtd, the node daemon: "crdtd agent"
// runs one node through package daemon, "crdtd cluster" starts a local cluster of agent processes
// on loopback, "crdtd keygen" makes a gossip encryption key and "crdtd version" reports the build.
// [Main] builds the cobra command tree, runs it with the caller's context and streams, and maps
// the outcome to an [ExitCode] in one place: 0 success, 1 failure, 2 usage or configuration
// error. Each command lives in its own file as an options struct, a constructor that parses argv
// into the options, and a run function. Data goes to stdout, logs, errors and hints to stderr.
package agentcli
