package crdt_test

import (
	"testing"

	"github.com/crdtd/crdtd/crdt/crdttest"
)

// The lattice laws, delta equivalence, codec round trip and convergence of
// every CRDT in the package, on states reached by real operations (see
// crdttest). Each law runs 1,000 cases (100 with -short; see TestMain).

func TestGCounterLaws(t *testing.T) { crdttest.Run(t, gcounterType()) }

func TestPNCounterLaws(t *testing.T) { crdttest.Run(t, pncounterType()) }

func TestLWWRegisterLaws(t *testing.T) { crdttest.Run(t, lwwType()) }

func TestORSetLaws(t *testing.T) { crdttest.Run(t, orsetType()) }

func TestORMapLaws(t *testing.T) { crdttest.Run(t, ormapType()) }
