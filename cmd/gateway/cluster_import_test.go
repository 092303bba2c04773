package main

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/crypto/ssh"

	"github.com/tubegate/tubegate/internal/cluster"
	"github.com/tubegate/tubegate/internal/cluster/redistest"
	"github.com/tubegate/tubegate/internal/hostkeys"
	"github.com/tubegate/tubegate/internal/users"
	"github.com/tubegate/tubegate/internal/webauth"
)

// TestClusterImport: a single node's data dir moves into Redis; the
// cluster then has its users and host keys, and a second import is
// refused unless --force.
func TestClusterImport(t *testing.T) {
	r := redistest.Start(t)
	dir := t.TempDir()
	keyFile := filepath.Join(t.TempDir(), "k.pub")
	if err := os.WriteFile(keyFile, []byte(testKey), 0o600); err != nil {
		t.Fatal(err)
	}
	if out, err := run(t, "", "user", "add", "alice", "--data", dir, "--key", keyFile, "--permit-open", "db:5432"); err != nil {
		t.Fatalf("user add: %v\n%s", err, out)
	}
	local, err := hostkeys.LoadOrCreate(dir)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := webauth.New(webauth.Config{Dir: dir, Users: mustUsers(t, dir)}); err != nil { // session keys
		t.Fatal(err)
	}
	out, err := run(t, "", "cluster", "import", "--data", dir, "--cluster", r.URL())
	if err != nil {
		t.Fatalf("import: %v\n%s", err, out)
	}
	for _, want := range []string{"users: 1", "session keys: 1", "host key host_ed25519_key: 1"} {
		if !strings.Contains(out, want) {
			t.Errorf("import output lacks %q:\n%s", want, out)
		}
	}
	out, err = run(t, "", "user", "list", "--cluster", r.URL())
	if err != nil || !strings.Contains(out, "alice") || !strings.Contains(out, "db:5432") {
		t.Fatalf("user list --cluster after import: %v\n%s", err, out)
	}
	cl, err := cluster.Open(context.Background(), cluster.Config{URL: r.URL(), NodeAddr: "http://127.0.0.1:1"})
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	st, err := openState(t.TempDir(), cl, prometheus.NewRegistry(), slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	for i := range local {
		if ssh.FingerprintSHA256(local[i].PublicKey()) != ssh.FingerprintSHA256(st.keys[i].PublicKey()) {
			t.Fatalf("host key %d: a node of the cluster does not have the imported one", i)
		}
	}
	if out, err := run(t, "", "user", "sessions", "alice", "--cluster", r.URL()); err != nil || !strings.Contains(out, "alice has no web sessions") {
		t.Fatalf("user sessions --cluster: %v\n%s", err, out)
	}
	if out, err := run(t, "", "user", "sessions", "alice", "--revoke", "--cluster", r.URL()); err != nil || !strings.Contains(out, "ended 0 web session(s) of alice") {
		t.Fatalf("user sessions --revoke --cluster: %v\n%s", err, out)
	}
	if out, err := run(t, "", "user", "del", "alice", "--cluster", r.URL()); err != nil {
		t.Fatalf("user del --cluster: %v\n%s", err, out)
	}
	if out, err := run(t, "", "user", "list", "--data", dir); err != nil || !strings.Contains(out, "alice") {
		t.Fatalf("the data dir lost alice when the cluster's was deleted: %v\n%s", err, out)
	}
	out, err = run(t, "", "cluster", "import", "--data", dir, "--cluster", r.URL())
	if err == nil || !strings.Contains(err.Error(), "already holds users") {
		t.Fatalf("second import: %v\n%s", err, out)
	}
	if out, err := run(t, "", "cluster", "import", "--data", dir, "--cluster", r.URL(), "--force"); err != nil {
		t.Fatalf("import --force: %v\n%s", err, out)
	}
}

func mustUsers(t *testing.T, dir string) *users.Store {
	t.Helper()
	s, err := users.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	return s
}
