package sharelink

import (
	"fmt"

	"github.com/tubegate/tubegate/internal/forward"
)

// A link names its endpoint by forward.Address, stored as its String:
// forward.ParseAddress reads it (and what a user typed), and the registry's
// Get finds the live endpoint.

// checkPublic says why a TCP link to a would reach nothing, or returns nil:
// a must be a TCP listener that anyone can reach, bound to a non-loopback
// address and allowed there by pol (so it is public by policy, not by
// accident).
func checkPublic(a forward.Address, pol forward.Policy) error {
	if a.Virtual() {
		return fmt.Errorf("%s is a virtual name: it has no TCP listener to share; share it as an HTTP link, or publish a port", a)
	}
	if a.IP.IsLoopback() {
		return fmt.Errorf("%s listens on loopback only, so a TCP link would not reach it; publish it on a public address (ssh -R 0.0.0.0:PORT:...), which needs a permit-listen rule for that address, or share it as an HTTP link", a)
	}
	if !pol.AllowsListen(a.IP.String(), a.Port) {
		return fmt.Errorf("%s: listening there is not permitted by the user's policy, so the port is not public", a)
	}
	return nil
}
