package hostkeys

import (
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/crypto/ssh"
)

func TestKeysAreMadeOnceAndKept(t *testing.T) {
	dir := t.TempDir()
	first, err := LoadOrCreate(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(first) != 2 {
		t.Fatalf("got %d keys, want ed25519 and ecdsa", len(first))
	}
	types := map[string]bool{}
	for _, k := range first {
		types[k.PublicKey().Type()] = true
	}
	if !types[ssh.KeyAlgoED25519] || !types[ssh.KeyAlgoECDSA256] {
		t.Errorf("key types %v", types)
	}
	for _, f := range []string{"host_ed25519_key", "host_ecdsa_key"} {
		fi, err := os.Stat(filepath.Join(dir, f))
		if err != nil || fi.Mode().Perm() != 0o600 {
			t.Errorf("%s: mode %v, %v; want 0600", f, fi.Mode(), err)
		}
		if _, err := os.Stat(filepath.Join(dir, f+".pub")); err != nil {
			t.Errorf("%s.pub: %v", f, err)
		}
	}
	second, err := LoadOrCreate(dir)
	if err != nil {
		t.Fatal(err)
	}
	for i := range first {
		a, b := ssh.FingerprintSHA256(first[i].PublicKey()), ssh.FingerprintSHA256(second[i].PublicKey())
		if a != b {
			t.Errorf("key %d changed across loads: %s -> %s", i, a, b)
		}
	}
}

func TestCorruptKeyIsAnError(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "host_ed25519_key"), []byte("junk"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadOrCreate(dir); err == nil {
		t.Error("want an error for a corrupt key, not a silently replaced one")
	}
}
