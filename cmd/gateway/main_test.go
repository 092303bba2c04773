package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// run executes the CLI in-process and returns its output.
func run(t *testing.T, stdin string, args ...string) (string, error) {
	t.Helper()
	cmd := newRoot()
	var out bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetErr(&out)
	cmd.SetIn(strings.NewReader(stdin))
	cmd.SetArgs(args)
	err := cmd.Execute()
	return out.String(), err
}

const testKey = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIAn8k6HhN3yC0h1OKdh1iSB1k8xkLbyjG9Fyjb8J1jWb test@example\n"

func TestUserCommandsWithEnvData(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("GATEWAY_DATA", dir)
	keyFile := filepath.Join(t.TempDir(), "k.pub")
	if err := os.WriteFile(keyFile, []byte(testKey), 0o600); err != nil {
		t.Fatal(err)
	}
	if out, err := run(t, "", "user", "add", "alice", "--key", keyFile, "--permit-open", "db:5432"); err != nil {
		t.Fatalf("user add: %v\n%s", err, out)
	}
	if out, err := run(t, "hunter2hunter2\n", "user", "add", "bob", "--password-stdin", "--permit-listen", "*:8080"); err != nil {
		t.Fatalf("user add --password-stdin: %v\n%s", err, out)
	}
	if _, err := os.Stat(filepath.Join(dir, "users.json")); err != nil {
		t.Fatalf("GATEWAY_DATA not used: %v", err)
	}
	out, err := run(t, "", "user", "list")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"alice", "1 key(s)", "db:5432", "bob", "password", "*:8080"} {
		if !strings.Contains(out, want) {
			t.Errorf("user list lacks %q:\n%s", want, out)
		}
	}
	if _, err := run(t, "", "user", "add", "carol"); err == nil {
		t.Error("user without credentials: want an error")
	}
	if _, err := run(t, "", "user", "add", "dave", "--key", keyFile, "--permit-open", "nonsense"); err == nil {
		t.Error("bad --permit-open: want an error")
	}
	if _, err := run(t, "", "user", "del", "alice"); err != nil {
		t.Fatal(err)
	}
	if out, _ := run(t, "", "user", "list"); strings.Contains(out, "alice") {
		t.Errorf("alice still listed after del:\n%s", out)
	}
	if _, err := run(t, "", "user", "del", "alice"); err == nil {
		t.Error("deleting a missing user: want an error")
	}
}

func TestFlagBeatsEnv(t *testing.T) {
	envDir, flagDir := t.TempDir(), t.TempDir()
	t.Setenv("GATEWAY_DATA", envDir)
	keyFile := filepath.Join(t.TempDir(), "k.pub")
	os.WriteFile(keyFile, []byte(testKey), 0o600)
	if _, err := run(t, "", "user", "add", "alice", "--key", keyFile, "--data", flagDir); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(flagDir, "users.json")); err != nil {
		t.Errorf("--data ignored: %v", err)
	}
	if _, err := os.Stat(filepath.Join(envDir, "users.json")); err == nil {
		t.Error("GATEWAY_DATA used although --data was given")
	}
}

func TestConnectBadURL(t *testing.T) {
	_, err := run(t, "", "connect", "http://example/ssh")
	if err == nil || !strings.Contains(err.Error(), "bad URL") {
		t.Errorf("connect with http URL: err = %v, want bad URL", err)
	}
}

func TestUserSet(t *testing.T) {
	t.Setenv("GATEWAY_DATA", t.TempDir())
	keyFile := filepath.Join(t.TempDir(), "k.pub")
	os.WriteFile(keyFile, []byte(testKey), 0o600)
	if _, err := run(t, "", "user", "add", "bob", "--key", keyFile, "--permit-open", "a:1"); err != nil {
		t.Fatal(err)
	}
	steps := []struct {
		args []string
		want []string // in `user list` afterwards
	}{
		{[]string{"--permit-open", "myhost:22", "--permit-open", "10.0.0.0/8:443"}, []string{"myhost:22,10.0.0.0/8:443"}},
		{[]string{"--permit-listen", "*:8080", "--admin=true"}, []string{"true", "*:8080"}},
		{[]string{"--default-listen", "--clear-permit-open"}, []string{"default"}},
	}
	for _, s := range steps {
		if out, err := run(t, "", append([]string{"user", "set", "bob"}, s.args...)...); err != nil {
			t.Fatalf("user set %v: %v\n%s", s.args, err, out)
		}
		out, _ := run(t, "", "user", "list")
		for _, w := range s.want {
			if !strings.Contains(out, w) {
				t.Errorf("after set %v, list lacks %q:\n%s", s.args, w, out)
			}
		}
	}
	if _, err := run(t, "", "user", "set", "nobody", "--admin=true"); err == nil {
		t.Error("set on a missing user: want an error")
	}
	if _, err := run(t, "", "user", "set", "bob", "--permit-open", "garbage"); err == nil {
		t.Error("set with a bad rule: want an error")
	}
}
