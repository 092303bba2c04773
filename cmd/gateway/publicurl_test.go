package main

import (
	"os"
	"path/filepath"
	"testing"
)

func TestPublicURLRoundTrip(t *testing.T) {
	dir := t.TempDir()
	if got, err := recordedPublicURL(dir); err != nil || got != "" {
		t.Fatalf("no file: %q, %v; want empty, nil", got, err)
	}
	if err := recordPublicURL(dir, "https://gw.example.com"); err != nil {
		t.Fatal(err)
	}
	if got, err := recordedPublicURL(dir); err != nil || got != "https://gw.example.com" {
		t.Fatalf("recorded: %q, %v", got, err)
	}
	if err := os.WriteFile(filepath.Join(dir, publicURLFile), []byte("javascript:x\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := recordedPublicURL(dir); err == nil {
		t.Fatal("a non-http URL was accepted")
	}
}
