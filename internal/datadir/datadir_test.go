package datadir

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// TestRemoveTemp: the temporary files of an interrupted WriteFile are removed, nothing else is.
func TestRemoveTemp(t *testing.T) {
	dir := t.TempDir()
	keep := []string{"users.json", "links.db", "notes.tmp", ".hidden"}
	stale := []string{".users.json.tmp123456", ".links.json.tmp9"}
	for _, n := range append(append([]string{}, keep...), stale...) {
		if err := os.WriteFile(filepath.Join(dir, n), []byte("x"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	// A real interrupted write: the temp file WriteFile makes, left behind.
	f, err := os.CreateTemp(dir, ".session_keys.tmp*")
	if err != nil {
		t.Fatal(err)
	}
	f.Close()
	stale = append(stale, filepath.Base(f.Name()))
	removed, err := RemoveTemp(dir)
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(removed)
	slices.Sort(stale)
	if !slices.Equal(removed, stale) {
		t.Fatalf("removed %v, want %v", removed, stale)
	}
	for _, n := range keep {
		if _, err := os.Stat(filepath.Join(dir, n)); err != nil {
			t.Errorf("%s: %v (should be kept)", n, err)
		}
	}
	if again, err := RemoveTemp(dir); err != nil || len(again) != 0 {
		t.Fatalf("second run: %v %v", again, err)
	}
}
