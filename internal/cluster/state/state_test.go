package state_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-chi/chi/v5"
	"golang.org/x/crypto/ssh"

	"github.com/tubegate/tubegate/internal/cluster"
	"github.com/tubegate/tubegate/internal/cluster/redistest"
	"github.com/tubegate/tubegate/internal/cluster/state"
	"github.com/tubegate/tubegate/internal/hostkeys"
	"github.com/tubegate/tubegate/internal/throttle"
	"github.com/tubegate/tubegate/internal/users"
	"github.com/tubegate/tubegate/internal/webauth"
)

// node joins the Redis at url as one node would.
func node(t *testing.T, url string) *cluster.Cluster {
	t.Helper()
	c, err := cluster.Open(context.Background(), cluster.Config{URL: url, NodeAddr: "http://127.0.0.1:1", PingEvery: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func usersOf(t *testing.T, c *cluster.Cluster) *users.Store {
	t.Helper()
	s, err := users.OpenShared(state.New(c).Blob(users.File))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestUsersSeenByEveryNode(t *testing.T) {
	r := redistest.Start(t)
	a, b := usersOf(t, node(t, r.URL())), usersOf(t, node(t, r.URL()))
	if err := a.Add(users.User{Name: "alice", Keys: []string{}}); err != nil {
		t.Fatal(err)
	}
	if u, err := b.Get("alice"); err != nil || u.Name != "alice" || u.ID == "" {
		t.Fatalf("node B: %+v %v", u, err)
	}
	if err := b.Set("alice", users.Edit{PermitOpen: &[]string{"localhost:22"}}, users.Actor{By: "b"}); err != nil {
		t.Fatal(err)
	}
	if p, err := a.Get("alice"); err != nil || len(p.PermitOpen) != 1 {
		t.Fatalf("node A after B's edit: %+v %v", p, err)
	}
	if err := a.Delete("alice"); err != nil {
		t.Fatal(err)
	}
	if list, err := b.List(); err != nil || len(list) != 0 {
		t.Fatalf("node B after A's delete: %v %v", list, err)
	}
	// The journal comes along: B sees A's changes, as by whom.
	changes, _, err := b.ChangesSince(0)
	if err != nil || len(changes) != 3 || changes[1].By != "b" || changes[2].Action != users.ActionDeleted {
		t.Fatalf("journal on B: %+v %v", changes, err)
	}
}

func TestUsersConcurrentUpdatesLoseNothing(t *testing.T) {
	r := redistest.Start(t)
	stores := []*users.Store{usersOf(t, node(t, r.URL())), usersOf(t, node(t, r.URL()))}
	const each = 40
	var wg sync.WaitGroup
	errs := make(chan error, 2*each)
	for i, s := range stores {
		for j := range each {
			wg.Add(1)
			go func() {
				defer wg.Done()
				errs <- s.Add(users.User{Name: fmt.Sprintf("u%d-%d", i, j)})
			}()
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	for i, s := range stores {
		list, err := s.List()
		if err != nil || len(list) != 2*each {
			t.Fatalf("store %d lists %d users (%v), want %d", i, len(list), err, 2*each)
		}
	}
}

func TestThrottleCountsAddUpAcrossNodes(t *testing.T) {
	r := redistest.Start(t)
	fa := throttle.New(4, time.Minute, throttle.WithShared(state.NewThrottle(node(t, r.URL()))))
	fb := throttle.New(4, time.Minute, throttle.WithShared(state.NewThrottle(node(t, r.URL()))))
	ctx := context.Background()
	wrong := func() bool { return false }
	right := func() bool { return true }
	// A right password is refunded: it costs nothing.
	for range 3 {
		if ok, err := fa.Check(ctx, "ssh", "192.0.2.1", right); !ok || err != nil {
			t.Fatalf("right password: %v %v", ok, err)
		}
	}
	for i, f := range []*throttle.Failures{fa, fb, fa, fb} {
		if ok, err := f.Check(ctx, "ssh", "192.0.2.1", wrong); ok || err != nil {
			t.Fatalf("guess %d: %v %v", i, ok, err)
		}
	}
	for i, f := range []*throttle.Failures{fa, fb} {
		ran := false
		_, err := f.Check(ctx, "ssh", "192.0.2.1", func() bool { ran = true; return true })
		if !errors.Is(err, throttle.ErrThrottled) || ran {
			t.Fatalf("node %d after 4 guesses on two nodes: %v (check ran: %v)", i, err, ran)
		}
	}
	if ok, err := fb.Check(ctx, "ssh", "192.0.2.2", right); !ok || err != nil {
		t.Fatalf("another source: %v %v", ok, err)
	}
}

func TestThrottleWindowEnds(t *testing.T) {
	r := redistest.Start(t)
	f := throttle.New(1, 200*time.Millisecond, throttle.WithShared(state.NewThrottle(node(t, r.URL()))))
	ctx := context.Background()
	if ok, err := f.Check(ctx, "web", "192.0.2.1", func() bool { return false }); ok || err != nil {
		t.Fatal(ok, err)
	}
	if _, err := f.Check(ctx, "web", "192.0.2.1", func() bool { return true }); !errors.Is(err, throttle.ErrThrottled) {
		t.Fatalf("second guess in the window: %v", err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		ok, err := f.Check(ctx, "web", "192.0.2.1", func() bool { return true })
		if ok && err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the window never ended: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestHostKeysSameOnEveryNode(t *testing.T) {
	r := redistest.Start(t)
	load := func() []string {
		keys, err := hostkeys.LoadOrCreateShared(t.TempDir(), state.New(node(t, r.URL())))
		if err != nil {
			t.Fatal(err)
		}
		var fps []string
		for _, k := range keys {
			fps = append(fps, ssh.FingerprintSHA256(k.PublicKey()))
		}
		return fps
	}
	a, b := load(), load()
	if len(a) != 2 || strings.Join(a, " ") != strings.Join(b, " ") {
		t.Fatalf("node A %v, node B %v", a, b)
	}
}

func TestHostKeysOfTheFirstNodesDataDir(t *testing.T) {
	r := redistest.Start(t)
	dir := t.TempDir()
	local, err := hostkeys.LoadOrCreate(dir)
	if err != nil {
		t.Fatal(err)
	}
	shared, err := hostkeys.LoadOrCreateShared(dir, state.New(node(t, r.URL())))
	if err != nil {
		t.Fatal(err)
	}
	for i := range local {
		if ssh.FingerprintSHA256(local[i].PublicKey()) != ssh.FingerprintSHA256(shared[i].PublicKey()) {
			t.Fatalf("key %d: the cluster made a new one instead of keeping the first node's", i)
		}
	}
}

// web is one node's login API.
type web struct {
	h     http.Handler
	store *users.Store
}

func webNode(t *testing.T, c *cluster.Cluster) web {
	t.Helper()
	store := usersOf(t, c)
	m, err := webauth.New(webauth.Config{Dir: t.TempDir(), Users: store, Shared: state.New(c),
		Failures: throttle.Default(throttle.WithShared(state.NewThrottle(c)))})
	if err != nil {
		t.Fatal(err)
	}
	r := chi.NewRouter()
	m.Mount(r)
	return web{h: r, store: store}
}

func (w web) do(method, path, body, csrf string, c *http.Cookie) *httptest.ResponseRecorder {
	req := httptest.NewRequest(method, "http://gw.test"+path, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Origin", "http://gw.test")
	if csrf != "" {
		req.Header.Set(webauth.CSRFHeader, csrf)
	}
	if c != nil {
		req.AddCookie(c)
	}
	rec := httptest.NewRecorder()
	w.h.ServeHTTP(rec, req)
	return rec
}

func login(t *testing.T, w web) (*http.Cookie, string) {
	t.Helper()
	rec := w.do(http.MethodPost, "/api/login", `{"user":"bob","password":"correct-horse"}`, "", nil)
	if rec.Code != http.StatusOK {
		t.Fatalf("login: %d %s", rec.Code, rec.Body)
	}
	for _, c := range rec.Result().Cookies() {
		if c.Name == webauth.CookieName {
			csrf := strings.SplitN(strings.SplitN(rec.Body.String(), `"csrf":"`, 2)[1], `"`, 2)[0]
			return c, csrf
		}
	}
	t.Fatal("no session cookie")
	return nil, ""
}

func TestWebSessionsAcrossNodes(t *testing.T) {
	r := redistest.Start(t)
	a, b := webNode(t, node(t, r.URL())), webNode(t, node(t, r.URL()))
	hash, err := users.HashPassword("correct-horse")
	if err != nil {
		t.Fatal(err)
	}
	if err := a.store.Add(users.User{Name: "bob", PasswordHash: hash}); err != nil {
		t.Fatal(err)
	}
	// Made on A, valid on B; logged out on A, refused on B.
	c, csrf := login(t, a)
	if rec := b.do(http.MethodGet, "/api/session", "", "", c); rec.Code != http.StatusOK {
		t.Fatalf("A's session on B: %d %s", rec.Code, rec.Body)
	}
	if rec := a.do(http.MethodPost, "/api/logout", "", csrf, c); rec.Code/100 != 2 {
		t.Fatalf("logout on A: %d %s", rec.Code, rec.Body)
	}
	if rec := b.do(http.MethodGet, "/api/session", "", "", c); rec.Code != http.StatusUnauthorized {
		t.Fatalf("A's logged-out session on B: %d %s", rec.Code, rec.Body)
	}
	// Revoked from the command line's side (the cluster's sessions): ended on both.
	c, _ = login(t, b)
	if list, err := webauth.ListSharedSessions(state.New(node(t, r.URL())), a.store, "bob"); err != nil || len(list) != 1 {
		t.Fatalf("sessions listed: %v %v", list, err)
	}
	if n, err := webauth.RevokeSharedSessions(state.New(node(t, r.URL())), usersOf(t, node(t, r.URL())), "bob"); err != nil || n != 1 {
		t.Fatalf("revoke: %d %v", n, err)
	}
	for name, w := range map[string]web{"A": a, "B": b} {
		if rec := w.do(http.MethodGet, "/api/session", "", "", c); rec.Code != http.StatusUnauthorized {
			t.Fatalf("revoked session on %s: %d", name, rec.Code)
		}
	}
}

// TestRedisDown: with Redis stopped, the users last read stay in service
// (a live tube is not cut for a blip), changes and password checks are
// refused with "cluster unavailable", and all recovers when Redis returns.
func TestRedisDown(t *testing.T) {
	r := redistest.Start(t)
	c := node(t, r.URL())
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go c.Run(ctx)
	store := usersOf(t, c)
	if err := store.Add(users.User{Name: "alice"}); err != nil {
		t.Fatal(err)
	}
	f := throttle.Default(throttle.WithShared(state.NewThrottle(c)))
	r.Stop()
	waitFor(t, func() bool { return c.Health() != nil })

	if list, err := store.List(); err != nil || len(list) != 1 {
		t.Fatalf("users while Redis is down: %v %v (want the last good copy)", list, err)
	}
	err := store.Add(users.User{Name: "bob"})
	if !errors.Is(err, state.ErrUnavailable) || !strings.Contains(err.Error(), "cluster unavailable: redis unreachable") {
		t.Fatalf("add while Redis is down: %v", err)
	}
	ran := false
	_, err = f.Check(ctx, "ssh", "192.0.2.1", func() bool { ran = true; return true })
	if !errors.Is(err, throttle.ErrUncounted) || ran {
		t.Fatalf("password check while Redis is down: %v (ran: %v), want refused unchecked", err, ran)
	}

	r.Restart()
	waitFor(t, func() bool { return c.Health() == nil })
	if err := store.Add(users.User{Name: "bob"}); err != nil {
		t.Fatalf("add after Redis came back: %v", err)
	}
	if ok, err := f.Check(ctx, "ssh", "192.0.2.1", func() bool { return true }); !ok || err != nil {
		t.Fatalf("password check after Redis came back: %v %v", ok, err)
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 10s")
		}
		time.Sleep(20 * time.Millisecond)
	}
}
