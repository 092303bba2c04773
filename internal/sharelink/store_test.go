package sharelink

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/tubegate/tubegate/internal/forward"
)

// clock is a settable time source.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

func newClock() *clock { return &clock{now: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)} }

func openStore(t *testing.T, dir string, c *clock, max time.Duration) *Store {
	t.Helper()
	s, err := Open(dir, Options{MaxExpiry: max, Now: c.Now})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	return s
}

func TestCreateFindRevoke(t *testing.T) {
	dir, c := t.TempDir(), newClock()
	s := openStore(t, dir, c, 0)
	l, token, err := s.Create(Params{User: "alice", Endpoint: "MyApp:80"}, forward.Policy{})
	if err != nil {
		t.Fatalf("Create: %v", err)
	}
	if l.Endpoint != "myapp:80" || l.Kind != KindHTTP || !l.Expires.Equal(l.Created.Add(DefaultExpiry)) {
		t.Fatalf("link %+v: want endpoint myapp:80, http, 24h", l)
	}
	got, ok := s.ByToken(token)
	if !ok || got.ID != l.ID {
		t.Fatalf("ByToken(token) = %+v, %v", got, ok)
	}
	for _, bad := range []string{"", token[:31], token + "a", strings.ToUpper(token), l.ID, l.TokenHash, strings.Repeat("a", 32)} {
		if _, ok := s.ByToken(bad); ok {
			t.Errorf("ByToken(%q) found a link", bad)
		}
	}
	data, err := os.ReadFile(filepath.Join(dir, "links.db"))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(data), token) {
		t.Fatal("links.db holds the token itself")
	}
	if fi, _ := os.Stat(filepath.Join(dir, "links.db")); fi.Mode().Perm() != 0o600 {
		t.Errorf("links.db mode %v, want 0600", fi.Mode().Perm())
	}
	if err := s.Revoke(l.ID, "bob"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("bob revoked alice's link: %v", err)
	}
	if err := s.Revoke(l.ID, "alice"); err != nil {
		t.Fatalf("Revoke: %v", err)
	}
	if _, ok := s.ByToken(token); ok || s.Live(l.ID) {
		t.Fatal("revoked link still found")
	}
	if err := s.Revoke(l.ID, ""); !errors.Is(err, ErrNotFound) {
		t.Fatalf("second revoke: %v, want ErrNotFound", err)
	}
}

func TestExpiry(t *testing.T) {
	dir, c := t.TempDir(), newClock()
	s := openStore(t, dir, c, 48*time.Hour)
	l, token, err := s.Create(Params{User: "alice", Endpoint: "8080", Expires: 2 * time.Hour}, forward.Policy{})
	if err != nil {
		t.Fatal(err)
	}
	if l.Endpoint != "127.0.0.1:8080" {
		t.Errorf("endpoint %q, want 127.0.0.1:8080", l.Endpoint)
	}
	c.add(2*time.Hour - time.Second)
	if _, ok := s.ByToken(token); !ok {
		t.Fatal("link gone before its expiry")
	}
	c.add(time.Second)
	if _, ok := s.ByToken(token); ok || s.Live(l.ID) {
		t.Fatal("link still works at its expiry")
	}
	if list, _ := s.List(""); len(list) != 0 {
		t.Fatalf("List shows expired links: %+v", list)
	}
	if _, _, err := s.Create(Params{User: "alice", Endpoint: "8080", Expires: 49 * time.Hour}, forward.Policy{}); err == nil || !strings.Contains(err.Error(), "maximum") {
		t.Fatalf("Create beyond the maximum: %v", err)
	}
	// Lowering the maximum shortens links made under a higher one.
	long, token2, err := s.Create(Params{User: "alice", Endpoint: "8080", Expires: 40 * time.Hour}, forward.Policy{})
	if err != nil {
		t.Fatal(err)
	}
	strict := openStore(t, dir, c, 10*time.Hour)
	if got := strict.ExpiresAt(&long); !got.Equal(long.Created.Add(10 * time.Hour)) {
		t.Fatalf("ExpiresAt under a 10h maximum: %v", got)
	}
	c.add(10 * time.Hour)
	if _, ok := strict.ByToken(token2); ok {
		t.Fatal("link outlived the lowered maximum")
	}
	if _, ok := s.ByToken(token2); !ok {
		t.Fatal("link should still work under the 48h maximum")
	}
	// Expired links are deleted from the file by the sweep.
	if _, _, err := s.Create(Params{User: "bob", Endpoint: "9090"}, forward.Policy{}); err != nil {
		t.Fatal(err)
	}
	if n := storedLinks(t, s); n != 3 {
		t.Fatalf("links.db has %d links before the sweep, want 3", n)
	}
	s.sweep()
	if n := storedLinks(t, s); n != 2 {
		t.Fatalf("links.db has %d links after the sweep, want 2 (the expired one deleted)", n)
	}
}

// storedLinks counts the links in the file.
func storedLinks(t *testing.T, s *Store) int {
	t.Helper()
	db, err := s.openDB(true, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	n := 0
	if err := db.View(func(tx *bolt.Tx) error { n = tx.Bucket(bucketLinks).Stats().KeyN; return nil }); err != nil {
		t.Fatal(err)
	}
	return n
}

// TestReload: a second process's changes (the command line) are seen by a running store.
func TestReload(t *testing.T) {
	dir, c := t.TempDir(), newClock()
	server := openStore(t, dir, c, 0)
	cli := openStore(t, dir, c, 0)
	l, token, err := cli.Create(Params{User: "alice", Endpoint: "myapp:80"}, forward.Policy{})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := server.ByToken(token); !ok {
		t.Fatal("the server does not see a link made by another process")
	}
	if err := openStore(t, dir, c, 0).Revoke(l.ID, ""); err != nil {
		t.Fatal(err)
	}
	if server.Live(l.ID) {
		t.Fatal("the server does not see a revoke made by another process")
	}
	// Writes by two processes in quick succession (one clock tick of the
	// file system, same file size) are both seen.
	for i := 0; i < 20; i++ {
		a, _, err := server.Create(Params{User: "alice", Endpoint: "myapp:80"}, forward.Policy{})
		if err != nil {
			t.Fatal(err)
		}
		if err := cli.Revoke(a.ID, ""); err != nil {
			t.Fatal(err)
		}
		deadline := time.Now().Add(5 * time.Second)
		for server.Live(a.ID) {
			if time.Now().After(deadline) {
				t.Fatalf("round %d: the server still sees a link another process revoked right after it was made", i)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
}

func TestNamesAndGuards(t *testing.T) {
	s := openStore(t, t.TempDir(), newClock(), 0)
	l, _, err := s.Create(Params{User: "alice", Endpoint: "myapp:80", Name: "demo", BasicAuth: "viewer:open-sesame"}, forward.Policy{})
	if err != nil {
		t.Fatal(err)
	}
	if got, ok := s.ByName("demo"); !ok || got.ID != l.ID {
		t.Fatal("ByName(demo) did not find the link")
	}
	if _, _, err := s.Create(Params{User: "bob", Endpoint: "other:80", Name: "demo"}, forward.Policy{}); err == nil {
		t.Fatal("a second link took the name demo")
	}
	for _, bad := range []string{"-x", "x-", "Demo", "a.b", strings.Repeat("a", 25)} {
		if _, _, err := s.Create(Params{User: "a", Endpoint: "x:1", Name: bad}, forward.Policy{}); err == nil {
			t.Errorf("name %q accepted", bad)
		}
	}
	if !l.CheckBasicAuth("viewer", "open-sesame") || l.CheckBasicAuth("viewer", "wrong") || l.CheckBasicAuth("other", "open-sesame") {
		t.Fatal("CheckBasicAuth")
	}
	for _, bad := range []string{"nopass", ":password1", "u:short"} {
		if _, _, err := s.Create(Params{User: "a", Endpoint: "x:1", BasicAuth: bad}, forward.Policy{}); err == nil {
			t.Errorf("basic auth %q accepted", bad)
		}
	}
}

func TestTCPLinks(t *testing.T) {
	s := openStore(t, t.TempDir(), newClock(), 0)
	open := forward.Policy{Listen: []forward.Rule{{Host: "*", Port: "*"}}}
	for _, tc := range []struct {
		endpoint string
		pol      forward.Policy
		ok       bool
	}{
		{"127.0.0.1:2222", open, false},           // loopback: not public
		{"myapp:22", open, false},                 // virtual name: no listener
		{"0.0.0.0:2222", forward.Policy{}, false}, // default policy: loopback only
		{"0.0.0.0:2222", open, true},
		{"[::]:2222", open, true},
		{"192.0.2.7:2222", forward.Policy{Listen: []forward.Rule{{Host: "192.0.2.7", Port: "2222"}}}, true},
	} {
		l, token, err := s.Create(Params{User: "alice", Endpoint: tc.endpoint, TCP: true}, tc.pol)
		if (err == nil) != tc.ok {
			t.Errorf("TCP link to %s: err %v, want ok=%v", tc.endpoint, err, tc.ok)
			continue
		}
		if err == nil && (token != "" || l.Kind != KindTCP || l.TokenHash != "") {
			t.Errorf("TCP link %+v has a token", l)
		}
	}
	if _, _, err := s.Create(Params{User: "a", Endpoint: "0.0.0.0:2222", TCP: true, BasicAuth: "u:password1"}, open); err == nil {
		t.Error("TCP link with basic auth accepted")
	}
}

// TestLinkFromAnotherProcessFoundDuringAWrite: a link the command line
// made a moment ago is found by the running store even while a write of
// the store's own (a visit count being saved, say) holds its file: the
// lookup that misses waits for that write to end and looks again.
func TestLinkFromAnotherProcessFoundDuringAWrite(t *testing.T) {
	dir, c := t.TempDir(), newClock()
	server := openStore(t, dir, c, 0)
	cli := openStore(t, dir, c, 0)
	server.List("") // the server has read the file once
	_, token, err := cli.Create(Params{User: "alice", Endpoint: "myapp:80"}, forward.Policy{})
	if err != nil {
		t.Fatal(err)
	}
	server.write.Lock() // a write of the server's own is under way
	released := make(chan struct{})
	go func() {
		time.Sleep(50 * time.Millisecond)
		server.write.Unlock()
		close(released)
	}()
	_, ok := server.ByToken(token)
	<-released
	if !ok {
		t.Fatal("a link made by another process was not found while the server was writing")
	}
}
