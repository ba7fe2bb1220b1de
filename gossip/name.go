package gossip

import (
	"errors"
	"fmt"
)

// checkName reports why name cannot be a node name, or nil. It is the one
// rule for names: New applies it to Config.Name, and the alive check to
// every member memberlist hears of, since gossip's messages carry names of
// at most maxNameLen bytes and a member named otherwise is no gossip node.
func checkName(name string) error {
	switch {
	case name == "":
		return errors.New("empty name")
	case len(name) > maxNameLen:
		return fmt.Errorf("name of %d bytes, more than %d", len(name), maxNameLen)
	}
	return nil
}
