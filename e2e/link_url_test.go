package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestLinkCreateUsesServeURL: `gateway link create` without --url prints links on the address
// the running `gateway serve` listens on (here a port the kernel chose), read from the public_url
// file serve records in the data dir, owner-only.
func TestLinkCreateUsesServeURL(t *testing.T) {
	w := newWorld(t, gatewayOpts{})
	w.addUser(t, "alice")
	res := w.gw.mustCLI(t, "", "link", "create", "myapp:80", "--user", "alice")
	url := strings.TrimSpace(strings.SplitN(res.stdout, "\n", 2)[0])
	if want := "http://" + w.gw.httpAddr + "/s/"; !strings.HasPrefix(url, want) {
		t.Fatalf("gateway link create printed %q, want a URL starting with %s (serve's address)", url, want)
	}
	fi, err := os.Stat(filepath.Join(w.gw.dataDir, "public_url"))
	if err != nil {
		t.Fatalf("serve recorded no public URL: %v", err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Fatalf("public_url has mode %v, want 0600", fi.Mode().Perm())
	}
	t.Logf("gateway link create: %s", url)
}
