package sharelink

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tubegate/tubegate/internal/cluster"
	"github.com/tubegate/tubegate/internal/cluster/redistest"
	"github.com/tubegate/tubegate/internal/forward"
)

// openRedisStore is one node's links on srv's Redis.
func openRedisStore(t *testing.T, srv *redistest.Server, opts Options) *Store {
	t.Helper()
	cl, err := cluster.Open(context.Background(), cluster.Config{URL: srv.URL(), NodeAddr: "http://127.0.0.1:1"})
	if err != nil {
		t.Fatalf("cluster.Open: %v", err)
	}
	t.Cleanup(func() { cl.Close() })
	return OpenRedis(cl, opts)
}

// runStore runs s as a gateway does, until the test ends.
func runStore(t *testing.T, s *Store) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); s.Run(ctx, 50*time.Millisecond) }()
	t.Cleanup(func() { cancel(); <-done })
}

// frozen is a clock that stands still at the real time it was made: the
// copies a store keeps never grow old, so only a message or a catch-up can
// tell it of a revocation.
func frozen() *clock { return &clock{now: time.Now()} }

// waitFor polls cond for up to 5 s and returns how long it took.
func waitFor(t *testing.T, what string, cond func() bool) time.Duration {
	t.Helper()
	start := time.Now()
	for !cond() {
		if time.Since(start) > 5*time.Second {
			t.Fatalf("%s: not within 5s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
	return time.Since(start)
}

func TestRedisTwoStoresSeeEachOther(t *testing.T) {
	srv := redistest.Start(t)
	a, b := openRedisStore(t, srv, Options{}), openRedisStore(t, srv, Options{})
	l, token, err := a.Create(Params{User: "alice", Endpoint: "myapp:80", Name: "demo", MaxUses: 2}, forward.Policy{})
	if err != nil {
		t.Fatalf("Create on A: %v", err)
	}
	got, ok := b.ByToken(token)
	if !ok || got.ID != l.ID || got.Endpoint != "myapp:80" || got.User != "alice" || got.MaxUses != 2 {
		t.Fatalf("B.ByToken = %+v %v, want A's link %s", got, ok, l.ID)
	}
	if got, ok := b.ByName("demo"); !ok || got.ID != l.ID {
		t.Fatalf("B.ByName(demo) = %+v %v", got, ok)
	}
	if _, ok := b.ByToken(strings.Repeat("a", 32)); ok {
		t.Fatal("B found a link for a token never made")
	}
	if _, _, err := b.Create(Params{User: "bob", Endpoint: "other:80", Name: "demo"}, forward.Policy{}); err == nil || !strings.Contains(err.Error(), "taken") {
		t.Fatalf("B made a second link named demo: %v", err)
	}
	tcp, _, err := b.Create(Params{User: "bob", Endpoint: "0.0.0.0:2222", TCP: true},
		forward.Policy{Listen: []forward.Rule{{Host: "*", Port: "2222"}}})
	if err != nil {
		t.Fatalf("TCP link on B: %v", err)
	}
	for _, s := range []*Store{a, b} {
		all, err := s.List("")
		if err != nil || len(all) != 2 {
			t.Fatalf("List(\"\") = %v, %v: want both links", all, err)
		}
		mine, err := s.List("bob")
		if err != nil || len(mine) != 1 || mine[0].ID != tcp.ID || mine[0].Kind != KindTCP {
			t.Fatalf("List(bob) = %+v, %v", mine, err)
		}
	}
	if err := b.Revoke(l.ID, "bob"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("bob revoked alice's link: %v", err)
	}
	if err := b.Revoke(l.ID, "alice"); err != nil {
		t.Fatalf("Revoke on B: %v", err)
	}
	if err := a.Revoke(l.ID, ""); !errors.Is(err, ErrNotFound) {
		t.Fatalf("revoking twice: %v", err)
	}
	// A's copy is fresh for a second; Run is not running, so no message:
	// the copy's age decides. A new store never saw it.
	c := openRedisStore(t, srv, Options{})
	if _, ok := c.ByToken(token); ok || !c.Revoked(token) {
		t.Fatalf("a third store: link still found (%v) or not known revoked (%v)", ok, c.Revoked(token))
	}
	waitFor(t, "A stops finding the link revoked on B", func() bool { _, ok := a.ByToken(token); return !ok })
	if _, ok := a.ByName("demo"); ok {
		t.Fatal("the revoked link's name still answers on A")
	}
	if _, _, err := a.Create(Params{User: "carol", Endpoint: "x:80", Name: "demo"}, forward.Policy{}); err != nil {
		t.Fatalf("the name of a revoked link is not free again: %v", err)
	}
}

func TestRedisRevocationPublished(t *testing.T) {
	srv := redistest.Start(t)
	ca := frozen()
	a := openRedisStore(t, srv, Options{Now: ca.Now})
	b := openRedisStore(t, srv, Options{})
	runStore(t, a)
	runStore(t, b)
	l, token, err := b.Create(Params{User: "alice", Endpoint: "myapp:80"}, forward.Policy{})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := a.ByToken(token); !ok || !a.Live(l.ID) {
		t.Fatal("A does not find B's link")
	}
	// A's clock stands still, so its copy stays fresh: only the published
	// message can end the link there. (The catch-up runs on subscribing and
	// every 30 s; the subscription is up: wait for it with a first revoke.)
	warm, _, err := b.Create(Params{User: "alice", Endpoint: "myapp:80"}, forward.Policy{})
	if err != nil {
		t.Fatal(err)
	}
	a.Live(warm.ID)
	if err := b.Revoke(warm.ID, ""); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "A gets the first revocation", func() bool { return !a.Live(warm.ID) })

	if err := b.Revoke(l.ID, "alice"); err != nil {
		t.Fatal(err)
	}
	d := waitFor(t, "A hears of the revocation made on B", func() bool { return !a.Live(l.ID) })
	t.Logf("revoked on B, dead on A %v later (message)", d)
	if _, ok := a.ByToken(token); ok {
		t.Fatal("A still serves the revoked link")
	}
	if !a.Revoked(token) {
		t.Fatal("A does not say the link was revoked")
	}
}

// TestRedisCatchUpAfterMissedMessage: a node whose subscription dropped
// misses the message of a revocation made meanwhile; it reads the revoked
// set when it subscribes again, and the link dies there all the same.
func TestRedisCatchUpAfterMissedMessage(t *testing.T) {
	srv := redistest.Start(t)
	ca := frozen()
	a := openRedisStore(t, srv, Options{Now: ca.Now}) // copies never grow old
	b := openRedisStore(t, srv, Options{})
	runStore(t, a)
	admin, err := cluster.Open(context.Background(), cluster.Config{URL: srv.URL(), NodeAddr: "http://127.0.0.1:1"})
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	ctx := context.Background()
	// Drop A's subscription, and revoke before it is back (A waits at least
	// half a second before subscribing again). On a loaded machine the
	// revoke may come after A is back: then try again with a new link.
	var l Link
	for attempt := 1; ; attempt++ {
		l, _, err = b.Create(Params{User: "alice", Endpoint: "myapp:80"}, forward.Policy{})
		if err != nil {
			t.Fatal(err)
		}
		if !a.Live(l.ID) {
			t.Fatal("A does not find B's link")
		}
		waitFor(t, "A subscribed", func() bool {
			n, _ := admin.Client().PubSubNumSub(ctx, RevokedChannel).Result()
			return n[RevokedChannel] == 1
		})
		if err := admin.Client().ClientKillByFilter(ctx, "TYPE", "pubsub").Err(); err != nil {
			t.Fatal(err)
		}
		if err := b.Revoke(l.ID, ""); err != nil {
			t.Fatal(err)
		}
		if n, _ := admin.Client().PubSubNumSub(ctx, RevokedChannel).Result(); n[RevokedChannel] == 0 {
			break
		}
		if attempt == 5 {
			t.Fatalf("A was subscribed again before each of %d revocations: the test proves nothing", attempt)
		}
	}
	d := waitFor(t, "A catches up with the revocation it missed", func() bool { return !a.Live(l.ID) })
	t.Logf("dead on A %v after the revoke, by the catch-up on resubscribing", d)
}

func TestRedisMaxUsesAcrossStores(t *testing.T) {
	srv := redistest.Start(t)
	a, b := openRedisStore(t, srv, Options{}), openRedisStore(t, srv, Options{})
	l, _, err := a.Create(Params{User: "alice", Endpoint: "myapp:80", MaxUses: 3}, forward.Policy{})
	if err != nil {
		t.Fatal(err)
	}
	var visits []string
	for i, s := range []*Store{a, b, a} {
		v, err := s.Visit(l.ID, "")
		if err != nil || v == "" {
			t.Fatalf("use %d: %q %v", i+1, v, err)
		}
		visits = append(visits, v)
	}
	for _, s := range []*Store{a, b} {
		if _, err := s.Visit(l.ID, ""); !errors.Is(err, ErrUsedUp) {
			t.Fatalf("a fourth viewer: %v, want ErrUsedUp (3 uses across both stores)", err)
		}
	}
	// A viewer who took a use on A comes back through B at no cost.
	if v, err := b.Visit(l.ID, visits[0]); err != nil || v != visits[0] {
		t.Fatalf("a known viewer on the other store: %q %v", v, err)
	}
	if _, err := b.Visit(l.ID, "forged-visit"); !errors.Is(err, ErrUsedUp) {
		t.Fatalf("a forged visit token: %v", err)
	}
	list, err := b.List("alice")
	if err != nil || len(list) != 1 || list[0].Uses() != 3 {
		t.Fatalf("List: %+v %v, want 3 uses", list, err)
	}
	if err := a.Revoke(l.ID, ""); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "B's visit refused after the revoke", func() bool {
		_, err := b.Visit(l.ID, visits[1])
		return errors.Is(err, ErrNotFound)
	})
}

func TestRedisCapHoldsUnderConcurrentCreates(t *testing.T) {
	srv := redistest.Start(t)
	const max, tries = 5, 40
	stores := []*Store{openRedisStore(t, srv, Options{MaxPerUser: max}), openRedisStore(t, srv, Options{MaxPerUser: max})}
	var (
		wg             sync.WaitGroup
		mu             sync.Mutex
		made, refused  int
		named, unnamed int
	)
	for i := range tries {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s := stores[i%2]
			_, _, err := s.Create(Params{User: "alice", Endpoint: "myapp:80"}, forward.Policy{})
			_, _, nerr := s.Create(Params{User: fmt.Sprintf("u%d", i), Endpoint: "myapp:80", Name: "one"}, forward.Policy{})
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
			if nerr == nil {
				named++
			} else {
				unnamed++
			}
		}()
	}
	wg.Wait()
	t.Logf("%d creates from two stores: %d made, %d refused; one name: %d winner(s)", tries, made, refused, named)
	if made != max || refused != tries-max {
		t.Fatalf("%d made and %d refused, want %d and %d", made, refused, max, tries-max)
	}
	if named != 1 {
		t.Fatalf("%d links got the name \"one\", want 1", named)
	}
	if list, _ := stores[1].List("alice"); len(list) != max {
		t.Fatalf("alice has %d links, want %d", len(list), max)
	}
}

func TestRedisDown(t *testing.T) {
	srv := redistest.Start(t)
	c := frozen()
	a := openRedisStore(t, srv, Options{Now: c.Now})
	runStore(t, a)
	cli := openRedisStore(t, srv, Options{}) // the command line: no Run
	l1, tok1, err := a.Create(Params{User: "alice", Endpoint: "myapp:80"}, forward.Policy{})
	if err != nil {
		t.Fatal(err)
	}
	l2, tok2, err := a.Create(Params{User: "alice", Endpoint: "myapp:80"}, forward.Policy{})
	if err != nil {
		t.Fatal(err)
	}
	l3, _, err := cli.Create(Params{User: "alice", Endpoint: "myapp:80"}, forward.Policy{})
	if err != nil {
		t.Fatal(err)
	}
	cli.List("")

	srv.Stop()
	// Redis down: a link read within the grace is served from the copy.
	if _, ok := a.ByToken(tok1); !ok {
		t.Fatal("a link read just before Redis went down is not served from its copy")
	}
	if _, _, err := a.Create(Params{User: "alice", Endpoint: "myapp:80"}, forward.Policy{}); !errors.Is(err, ErrUnavailable) ||
		!strings.Contains(err.Error(), "cluster unavailable: redis unreachable") {
		t.Fatalf("Create with Redis down: %v, want a clear cluster unavailable refusal", err)
	}
	if _, err := a.List("alice"); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("List with Redis down: %v", err)
	}
	// The command line's revocation would be lost with it: refused.
	if err := cli.Revoke(l3.ID, ""); err == nil || !errors.Is(err, ErrUnavailable) || !strings.Contains(err.Error(), "not revoked") {
		t.Fatalf("command-line Revoke with Redis down: %v, want \"not revoked\"", err)
	}
	// The gateway's holds at once on this node and waits for Redis.
	if err := a.Revoke(l1.ID, "alice"); !errors.Is(err, ErrNotSaved) {
		t.Fatalf("gateway Revoke with Redis down: %v, want ErrNotSaved", err)
	}
	if _, ok := a.ByToken(tok1); ok || a.Live(l1.ID) || !a.Revoked(tok1) || a.Pending() != 1 {
		t.Fatalf("after a revoke with Redis down: found %v, live %v, revoked %v, pending %d", ok, a.Live(l1.ID), a.Revoked(tok1), a.Pending())
	}
	// Live connections of other links carry on.
	if !a.Live(l2.ID) {
		t.Fatal("a link not revoked is cut while Redis is down")
	}
	// Past the grace, the copy no longer serves: the store says why.
	c.add(DefaultGrace + time.Second)
	if _, ok := a.ByToken(tok2); ok {
		t.Fatal("a copy older than the grace is served while Redis is down")
	}
	if err := a.Unavailable(); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("Unavailable() = %v while Redis is down", err)
	}

	srv.Restart()
	d := waitFor(t, "the revocation made while Redis was down is saved", func() bool { return a.Pending() == 0 })
	t.Logf("saved %v after Redis came back", d)
	b := openRedisStore(t, srv, Options{})
	if _, ok := b.ByToken(tok1); ok || !b.Revoked(tok1) {
		t.Fatal("the revocation made while Redis was down did not reach Redis")
	}
	if _, ok := b.ByToken(tok2); !ok {
		t.Fatal("a link not revoked was lost over the outage")
	}
	if _, ok := a.ByToken(tok2); !ok || a.Unavailable() != nil {
		t.Fatalf("A does not recover once Redis is back: %v", a.Unavailable())
	}
}

func TestImportRedis(t *testing.T) {
	dir := t.TempDir()
	bs, err := Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	keep, tokKeep, err := bs.Create(Params{User: "alice", Endpoint: "myapp:80", Name: "keep", MaxUses: 2}, forward.Policy{})
	if err != nil {
		t.Fatal(err)
	}
	visit, err := bs.Visit(keep.ID, "")
	if err != nil {
		t.Fatal(err)
	}
	gone, tokGone, err := bs.Create(Params{User: "bob", Endpoint: "other:80"}, forward.Policy{})
	if err != nil {
		t.Fatal(err)
	}
	if err := bs.Revoke(gone.ID, ""); err != nil {
		t.Fatal(err)
	}
	srv := redistest.Start(t)
	cl, err := cluster.Open(context.Background(), cluster.Config{URL: srv.URL(), NodeAddr: "http://127.0.0.1:1"})
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	n, err := ImportRedis(context.Background(), dir, cl)
	if err != nil || n != 1 {
		t.Fatalf("ImportRedis = %d, %v; want 1 link", n, err)
	}
	rs := OpenRedis(cl, Options{})
	got, ok := rs.ByToken(tokKeep)
	if !ok || got.ID != keep.ID || got.Name != "keep" || !got.Expires.Equal(keep.Expires) {
		t.Fatalf("imported link: %+v %v", got, ok)
	}
	if v, err := rs.Visit(keep.ID, visit); err != nil || v != visit {
		t.Fatalf("a viewer's use did not move: %q %v", v, err)
	}
	if _, err := rs.Visit(keep.ID, ""); err != nil {
		t.Fatalf("the second use: %v", err)
	}
	if _, err := rs.Visit(keep.ID, ""); !errors.Is(err, ErrUsedUp) {
		t.Fatalf("a third use of a 2-use link: %v", err)
	}
	if !rs.Revoked(tokGone) {
		t.Fatal("a revoked link's tombstone did not move")
	}
	if n, err := ImportRedis(context.Background(), dir, cl); err != nil || n != 0 {
		t.Fatalf("a second import: %d, %v; want 0", n, err)
	}
	if n, err := ImportRedis(context.Background(), t.TempDir(), cl); err != nil || n != 0 {
		t.Fatalf("an empty data dir: %d, %v", n, err)
	}
}
