package sharelink

import (
	"testing"

	"github.com/tubegate/tubegate/internal/forward"
)

// A link revoked by another process (the command line) reads as revoked in
// the gateway's store, and after a restart.
func TestRevokedSeenAcrossProcesses(t *testing.T) {
	dir := t.TempDir()
	gw, err := Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	l, token, err := gw.Create(Params{User: "alice", Endpoint: "myapp:80"}, forward.Policy{})
	if err != nil {
		t.Fatal(err)
	}
	if gw.Revoked(token) {
		t.Fatal("a live link reads as revoked")
	}
	cli, err := Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := cli.Revoke(l.ID, ""); err != nil {
		t.Fatal(err)
	}
	if _, ok := gw.ByToken(token); ok || !gw.Revoked(token) {
		t.Fatalf("after the command line revoked it: live %v, revoked %v; want dead and revoked", ok, gw.Revoked(token))
	}
	again, err := Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if !again.Revoked(token) {
		t.Fatal("after a restart the link no longer reads as revoked")
	}
}
