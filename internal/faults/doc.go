// Package faults holds a Jepsen-style suite of process-level tests: it builds
// the real crdtd binary, runs five agents (each in its own Linux network
// namespace when the tests run as root, on loopback otherwise), drives a
// randomized cart workload through the HTTP API while a scheduler kills,
// pauses, partitions and skews the nodes, and checks the recorded history
// against the cart specification (docs/semantics.md) once everything has
// healed. It also throws malformed input at the gossip port and the HTTP API.
//
// The tests are skipped with -short. FAULTS_DURATION, FAULTS_OPS,
// FAULTS_KILLS, FAULTS_PARTITIONS, FAULTS_ROUNDS and FAULTS_WORKERS make a run
// longer; FAULTS_NETNS=0 forces the loopback mode, where a partition is a
// SIGSTOP pause of one node. With CI=true the suite fails instead of
// falling back to loopback: CI must test real partitions.
package faults
