// Package gwproc runs the built gateway binary and its peers as child
// processes for the tools that measure it (cmd/tubebench, cmd/tubesoak):
// processes in their own process group whose output is kept and waited on
// line by line, a throw-away client identity, a `gateway serve` with a
// fresh data dir and one user, and its /metrics read as numbers. It is
// used only by tools and tests, never by the gateway.
package gwproc
