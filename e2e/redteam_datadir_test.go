package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

// TestRedteamLeftoverTempFiles: a gateway killed with SIGKILL in the middle of a save leaves the
// temporary file of the atomic write (".users.json.tmpNNN") in the data dir. The next start removes
// such files, and only those.
func TestRedteamLeftoverTempFiles(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	g := startGateway(t, dir, gatewayOpts{})
	g.proc.kill() // as after a kill -9 mid-save
	g.proc.waitExit(t, waitTimeout)
	stale := []string{".users.json.tmp4242", ".session_keys.tmp17", ".links.json.tmp99"}
	for _, n := range append(stale, "notes.tmp") {
		if err := os.WriteFile(filepath.Join(dir, n), []byte("half a save"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	startGateway(t, dir, gatewayOpts{})
	left := 0
	for _, n := range stale {
		if _, err := os.Stat(filepath.Join(dir, n)); err == nil {
			left++
		}
	}
	redteam(t, "kill -9 mid-save leaves .tmp files in the data dir", "removed at the next start",
		fmt.Sprintf("%d of %d left after restart", left, len(stale)))
	if left > 0 {
		t.Fatalf("%d of %d leftover temp files still in the data dir after a restart", left, len(stale))
	}
	if _, err := os.Stat(filepath.Join(dir, "notes.tmp")); err != nil {
		t.Fatalf("a file that is not a save's temp file was removed: %v", err)
	}
}
