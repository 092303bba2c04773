package sharelink

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/tubegate/tubegate/internal/forward"
)

// TestPerUserCap: a user has at most MaxPerUser live links, counted under the lock even when
// created in parallel; expired and revoked links do not count; other users are not affected.
func TestPerUserCap(t *testing.T) {
	c := newClock()
	s, err := Open(t.TempDir(), Options{MaxPerUser: 5, Now: c.Now})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	made, refused := 0, 0
	for i := 0; i < 12; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, _, err := s.Create(Params{User: "mallory", Endpoint: "x:80", Expires: time.Hour}, forward.Policy{})
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				made++
			case errors.Is(err, ErrTooMany) && errors.Is(err, forward.ErrRefused):
				refused++
			default:
				t.Errorf("Create: %v", err)
			}
		}()
	}
	wg.Wait()
	if made != 5 || refused != 7 {
		t.Fatalf("12 parallel creates under a cap of 5: %d made, %d refused", made, refused)
	}
	if _, _, err := s.Create(Params{User: "alice", Endpoint: "x:80"}, forward.Policy{}); err != nil {
		t.Fatalf("another user refused: %v", err)
	}
	list, _ := s.List("mallory")
	if err := s.Revoke(list[0].ID, "mallory"); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.Create(Params{User: "mallory", Endpoint: "x:80"}, forward.Policy{}); err != nil {
		t.Fatalf("after a revoke: %v", err)
	}
	c.add(2 * time.Hour) // all but the last one expire
	for i := 0; i < 4; i++ {
		if _, _, err := s.Create(Params{User: "mallory", Endpoint: "x:80"}, forward.Policy{}); err != nil {
			t.Fatalf("after expiry, link %d: %v", i, err)
		}
	}
	if _, _, err := s.Create(Params{User: "mallory", Endpoint: "x:80"}, forward.Policy{}); !errors.Is(err, ErrTooMany) {
		t.Fatalf("sixth live link: %v, want ErrTooMany", err)
	}
}

// failing is a commit step that fails like a full disk while on is set.
type failing struct {
	mu    sync.Mutex
	on    bool
	calls int
	real  func(fn func(tx *bolt.Tx) error) (uint64, stamp, error)
}

func (f *failing) commit(fn func(tx *bolt.Tx) error) (uint64, stamp, error) {
	f.mu.Lock()
	on := f.on
	f.calls++
	f.mu.Unlock()
	if on {
		return 0, stamp{}, fmt.Errorf("write links database: %w",
			&os.PathError{Op: "write", Path: "/srv/secret/place/links.db", Err: syscall.ENOSPC})
	}
	return f.real(fn)
}

func (f *failing) set(on bool) { f.mu.Lock(); f.on = on; f.mu.Unlock() }

// TestRevokeFailsClosed: when the save fails, the revoked link stops resolving anyway, the caller
// gets an error without server paths, the log says so loudly, and Run saves it once it can.
func TestRevokeFailsClosed(t *testing.T) {
	dir := t.TempDir()
	var logBuf syncBuffer
	s, err := Open(dir, Options{Log: slog.New(slog.NewTextHandler(&logBuf, nil))})
	if err != nil {
		t.Fatal(err)
	}
	l, token, err := s.Create(Params{User: "alice", Endpoint: "myapp:80"}, forward.Policy{})
	if err != nil {
		t.Fatal(err)
	}
	f := &failing{real: s.commit, on: true}
	s.commit = f.commit
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ran := make(chan struct{})
	go func() { s.Run(ctx, 20*time.Millisecond); close(ran) }()
	for !s.running.Load() {
		time.Sleep(time.Millisecond)
	}

	err = s.Revoke(l.ID, "alice")
	if !errors.Is(err, ErrNotSaved) {
		t.Fatalf("Revoke with a failing disk: %v, want ErrNotSaved", err)
	}
	if strings.Contains(err.Error(), "/srv/secret") || !strings.Contains(err.Error(), "no space left") {
		t.Fatalf("error %q: want the cause without the path", err)
	}
	if _, ok := s.ByToken(token); ok || s.Live(l.ID) {
		t.Fatal("the link still resolves after a revoke whose save failed")
	}
	if list, _ := s.List(""); len(list) != 0 {
		t.Fatalf("List shows the revoked link: %+v", list)
	}
	if !strings.Contains(logBuf.String(), "level=ERROR") {
		t.Fatalf("no error logged:\n%s", logBuf.String())
	}
	// Creating fails closed too: no link, an error without the path.
	if _, _, err := s.Create(Params{User: "alice", Endpoint: "myapp:80"}, forward.Policy{}); !errors.Is(err, ErrNotSaved) || strings.Contains(err.Error(), "/srv/") {
		t.Fatalf("Create with a failing disk: %v", err)
	}
	// Run keeps retrying; meanwhile the file still has the link.
	time.Sleep(100 * time.Millisecond)
	f.mu.Lock()
	calls := f.calls
	f.mu.Unlock()
	if calls < 3 || s.Pending() != 1 {
		t.Fatalf("after 100ms: %d save attempts, %d pending; want retries", calls, s.Pending())
	}
	if other, _ := Open(dir, Options{}); other.Live(l.ID) == false {
		t.Fatal("the file lost the link although no save succeeded")
	}
	f.set(false)
	deadline := time.Now().Add(5 * time.Second)
	for s.Pending() > 0 {
		if time.Now().After(deadline) {
			t.Fatal("the revocation was not saved within 5s of the disk recovering")
		}
		time.Sleep(10 * time.Millisecond)
	}
	other, err := Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if other.Live(l.ID) {
		t.Fatal("after the retry the file still has the revoked link")
	}
	cancel()
	<-ran

	// Without Run (the command line) nothing would retry: the revoke is refused and undone.
	l2, _, err := other.Create(Params{User: "bob", Endpoint: "x:80"}, forward.Policy{})
	if err != nil {
		t.Fatal(err)
	}
	g := &failing{real: other.commit, on: true}
	other.commit = g.commit
	if err := other.Revoke(l2.ID, ""); !errors.Is(err, ErrNotSaved) || !strings.Contains(err.Error(), "not revoked") {
		t.Fatalf("CLI revoke with a failing disk: %v", err)
	}
	if !other.Live(l2.ID) || other.Pending() != 0 {
		t.Fatal("a revoke nobody will save was kept in memory")
	}
}

// syncBuffer is a bytes.Buffer safe for a logger and a reader.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}
func (b *syncBuffer) String() string { b.mu.Lock(); defer b.mu.Unlock(); return b.b.String() }

// TestMigrateJSON: a links.json of an older gateway is moved into links.db on first open, and
// renamed links.json.migrated; the links work as before.
func TestMigrateJSON(t *testing.T) {
	dir, c := t.TempDir(), newClock()
	token, hash, _ := NewToken()
	old := map[string][]Link{"links": {
		{ID: "aaaa", User: "alice", Endpoint: "myapp:80", Kind: KindHTTP, TokenHash: hash, Created: c.Now(), Expires: c.Now().Add(time.Hour)},
		{ID: "bbbb", User: "bob", Endpoint: "0.0.0.0:2222", Kind: KindTCP, Name: "demo", Created: c.Now(), Expires: c.Now().Add(time.Hour)},
	}}
	data, _ := json.Marshal(old)
	if err := os.WriteFile(filepath.Join(dir, "links.json"), data, 0o600); err != nil {
		t.Fatal(err)
	}
	s := openStore(t, dir, c, 0)
	if l, ok := s.ByToken(token); !ok || l.ID != "aaaa" {
		t.Fatalf("migrated link not found by token: %+v %v", l, ok)
	}
	if list, _ := s.List(""); len(list) != 2 {
		t.Fatalf("%d links after migration, want 2", len(list))
	}
	if _, err := os.Stat(filepath.Join(dir, "links.json")); !os.IsNotExist(err) {
		t.Fatalf("links.json still there: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "links.json.migrated")); err != nil {
		t.Fatal(err)
	}
	if list, _ := openStore(t, dir, c, 0).List(""); len(list) != 2 {
		t.Fatalf("reopened: %d links, want 2", len(list))
	}
}

// BenchmarkCreate shows that making a link costs the same with 10 or 3000 links stored (the
// links.json it replaces was rewritten whole: 1.1 ms at 10 links, 17.5 ms at 3000).
//
//	go test -run - -bench Create ./internal/sharelink/
func BenchmarkCreate(b *testing.B) {
	for _, existing := range []int{10, 3000} {
		b.Run(fmt.Sprintf("existing=%d", existing), func(b *testing.B) {
			s, err := Open(b.TempDir(), Options{MaxPerUser: existing + b.N + 10})
			if err != nil {
				b.Fatal(err)
			}
			// Fill in one transaction, as a migration would.
			s.write.Lock()
			err = s.save(func(tx *bolt.Tx) error {
				now := time.Now().UTC()
				for i := 0; i < existing; i++ {
					_, hash, _ := NewToken()
					l := &Link{ID: fmt.Sprintf("fill%06d", i), User: "alice", Endpoint: "myapp:80", Kind: KindHTTP,
						TokenHash: hash, Created: now, Expires: now.Add(time.Hour)}
					if err := putLink(tx, l); err != nil {
						return err
					}
					s.idx.add(l, true)
				}
				return nil
			})
			s.write.Unlock()
			if err != nil {
				b.Fatal(err)
			}
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if _, _, err := s.Create(Params{User: "alice", Endpoint: "myapp:80"}, forward.Policy{}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
