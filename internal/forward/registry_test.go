package forward

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tubegate/tubegate/internal/idlepoll"
	"github.com/tubegate/tubegate/internal/listenset"
)

// echoOwner is a tube stand-in whose client side echoes every connection.
type echoOwner struct {
	user, id string
	alive    bool
	closed   atomic.Bool
}

func (o *echoOwner) User() string { return o.user }
func (o *echoOwner) ID() string   { return o.id }
func (o *echoOwner) Close() error { o.closed.Store(true); return nil }
func (o *echoOwner) Probe(ctx context.Context) bool {
	return o.alive && !o.closed.Load()
}
func (o *echoOwner) OpenForwarded(ctx context.Context, ep *Endpoint, origin net.Addr) (net.Conn, error) {
	a, b := net.Pipe()
	go func() { io.Copy(b, b); b.Close() }()
	return a, nil
}

// newTestRegistry makes a registry whose idle listeners are held as the
// gateway holds them, in a listenset.
func newTestRegistry(t testing.TB) *Registry {
	r := NewRegistry(slog.New(slog.NewTextHandler(io.Discard, nil)))
	r.Listeners = newListenSet(t, 0)
	return r
}

func newListenSet(t testing.TB, linger time.Duration) *listenset.Set {
	poll, err := idlepoll.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { poll.Close() })
	return listenset.New(poll, linger)
}

func roundTrip(t *testing.T, addr string) {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatalf("dial %s: %v", addr, err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.Write([]byte("ping")); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 4)
	if _, err := io.ReadFull(c, buf); err != nil || string(buf) != "ping" {
		t.Fatalf("echo through %s: %q, %v", addr, buf, err)
	}
}

func TestPublishListenerCarriesConnections(t *testing.T) {
	r := newTestRegistry(t)
	o := &echoOwner{user: "alice", id: "t1", alive: true}
	ep, err := r.Publish(context.Background(), o, Policy{}, "localhost", 0)
	if err != nil {
		t.Fatal(err)
	}
	if ep.BindPort == 0 || ep.Virtual || !strings.HasPrefix(ep.Key.String(), "127.0.0.1:") {
		t.Fatalf("endpoint %+v: want an allocated loopback port", ep)
	}
	if ep.Key != AddressOf("localhost", ep.BindPort) || ep.Key.String() != ep.Addr().String() {
		t.Errorf("key %q: want AddressOf's, which is the listener's address %s", ep.Key, ep.Addr())
	}
	roundTrip(t, ep.Key.String())
	deadline := time.Now().Add(2 * time.Second)
	for ep.Stats.Active.Load() != 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	st := ep.Stats.Snapshot()
	if st.Total != 1 || st.BytesIn != 4 || st.BytesOut != 4 || st.Active != 0 {
		t.Errorf("stats %+v: want 1 total, 4 bytes each way, 0 active", st)
	}
	if got := r.Get(AddressOf("localhost", ep.BindPort)); got != ep {
		t.Errorf("Get(localhost, %d) = %v, want the endpoint", ep.BindPort, got)
	}
	if err := r.Cancel(o, "localhost", ep.BindPort); err != nil {
		t.Fatal(err)
	}
	if _, err := net.DialTimeout("tcp", ep.Key.String(), time.Second); err == nil {
		t.Error("listener still accepts after cancel")
	}
	if r.Count() != 0 {
		t.Errorf("Count() = %d after cancel", r.Count())
	}
}

func TestPublishRefusals(t *testing.T) {
	r := newTestRegistry(t)
	o := &echoOwner{user: "alice", id: "t1", alive: true}
	for _, c := range []struct {
		bind string
		port int
	}{{"", 40000}, {"*", 40000}, {"localhost", 80}, {"192.0.2.1", 40000}, {"bad name!", 22}, {"myhost", 0}} {
		_, err := r.Publish(context.Background(), o, Policy{}, c.bind, c.port)
		if !errors.Is(err, ErrRefused) {
			t.Errorf("Publish(%q, %d): err = %v, want a refusal", c.bind, c.port, err)
		}
	}
}

func TestVirtualNamesAreUnique(t *testing.T) {
	r := newTestRegistry(t)
	alice1 := &echoOwner{user: "alice", id: "t1", alive: true}
	bob := &echoOwner{user: "bob", id: "t2", alive: true}
	ep, err := r.Publish(context.Background(), alice1, Policy{}, "MyHost", 22)
	if err != nil {
		t.Fatal(err)
	}
	if !ep.Virtual || ep.Key.String() != "myhost:22" || ep.Addr() != nil {
		t.Fatalf("endpoint %+v: want virtual myhost:22", ep)
	}
	if _, err := r.Publish(context.Background(), bob, Policy{}, "myhost", 22); !errors.Is(err, ErrRefused) ||
		!strings.Contains(err.Error(), "another user") {
		t.Errorf("second user's claim: err = %v, want refused by another user", err)
	}
	if _, err := r.Publish(context.Background(), alice1, Policy{}, "myhost", 22); !errors.Is(err, ErrRefused) {
		t.Errorf("same tube's second claim: err = %v, want refused", err)
	}
	// The same user from a live second tube is refused...
	alice2 := &echoOwner{user: "alice", id: "t3", alive: true}
	if _, err := r.Publish(context.Background(), alice2, Policy{}, "myhost", 22); !errors.Is(err, ErrRefused) ||
		!strings.Contains(err.Error(), "still alive") {
		t.Errorf("claim while old tube alive: err = %v, want refused", err)
	}
	// ...but takes over once the old tube stops answering.
	alice1.alive = false
	ep2, err := r.Publish(context.Background(), alice2, Policy{}, "myhost", 22)
	if err != nil {
		t.Fatalf("takeover from dead tube: %v", err)
	}
	if !alice1.closed.Load() {
		t.Error("the dead tube was not closed on takeover")
	}
	if got := r.Get(AddressOf("myhost", 22)); got != ep2 {
		t.Errorf("Get after takeover = %v, want the new endpoint", got)
	}
	c, err := ep2.Dial(context.Background(), Addr{"tcp", "127.0.0.1:1"})
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
	r.UnpublishAll(alice2)
	if r.Get(AddressOf("myhost", 22)) != nil || r.Count() != 0 {
		t.Error("UnpublishAll left endpoints behind")
	}
}

func TestPortTakeoverOnReconnect(t *testing.T) {
	r := newTestRegistry(t)
	old := &echoOwner{user: "alice", id: "t1", alive: false}
	ep, err := r.Publish(context.Background(), old, Policy{}, "localhost", 0)
	if err != nil {
		t.Fatal(err)
	}
	port := ep.BindPort
	fresh := &echoOwner{user: "alice", id: "t2", alive: true}
	ep2, err := r.Publish(context.Background(), fresh, Policy{}, "localhost", port)
	if err != nil {
		t.Fatalf("reconnect taking port %d: %v", port, err)
	}
	roundTrip(t, ep2.Key.String())
	mallory := &echoOwner{user: "mallory", id: "t3", alive: true}
	if _, err := r.Publish(context.Background(), mallory, Policy{}, "localhost", port); !errors.Is(err, ErrRefused) {
		t.Errorf("another user taking a live port: err = %v, want refused", err)
	}
	r.UnpublishAll(fresh)
}

func TestUnpublishCutsLiveConnections(t *testing.T) {
	r := newTestRegistry(t)
	o := &echoOwner{user: "alice", id: "t1", alive: true}
	ep, err := r.Publish(context.Background(), o, Policy{}, "localhost", 0)
	if err != nil {
		t.Fatal(err)
	}
	c, err := net.Dial("tcp", ep.Key.String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	roundTrip(t, ep.Key.String()) // the listener works
	r.Unpublish(ep)
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.Read(make([]byte, 1)); err == nil || errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("read on a cut connection: err = %v, want EOF/reset", err)
	}
}

func TestMaxPerOwner(t *testing.T) {
	r := newTestRegistry(t)
	r.MaxPerOwner = 2
	o := &echoOwner{user: "alice", id: "t1", alive: true}
	for i, name := range []string{"a", "b", "c"} {
		_, err := r.Publish(context.Background(), o, Policy{}, name, 80)
		if (i < 2) != (err == nil) {
			t.Errorf("publish #%d: err = %v", i+1, err)
		}
	}
	r.UnpublishAll(o)
}

func TestMaxPerUser(t *testing.T) {
	r := newTestRegistry(t)
	r.MaxPerUser = 3
	t1 := &echoOwner{user: "alice", id: "t1", alive: true}
	t2 := &echoOwner{user: "alice", id: "t2", alive: true}
	bob := &echoOwner{user: "bob", id: "t3", alive: true}
	for i, o := range []*echoOwner{t1, t1, t2} {
		if _, err := r.Publish(context.Background(), o, Policy{}, fmt.Sprintf("n%d", i), 80); err != nil {
			t.Fatalf("publish %d: %v", i, err)
		}
	}
	if _, err := r.Publish(context.Background(), t2, Policy{}, "n3", 80); !errors.Is(err, ErrRefused) {
		t.Errorf("alice's 4th forward across two tubes: err = %v, want refused", err)
	}
	if _, err := r.Publish(context.Background(), bob, Policy{}, "b0", 80); err != nil {
		t.Errorf("bob suffered from alice's limit: %v", err)
	}
	r.UnpublishAll(t1) // frees two
	if _, err := r.Publish(context.Background(), t2, Policy{}, "n3", 80); err != nil {
		t.Errorf("after alice's first tube went: %v", err)
	}
	r.UnpublishAll(t1) // again: no double counting
	r.UnpublishAll(t2)
	r.UnpublishAll(bob)
	if len(r.byUser) != 0 {
		t.Errorf("per-user counts left behind: %v", r.byUser)
	}
}

func TestListUserSpansTubes(t *testing.T) {
	r := newTestRegistry(t)
	ctx := context.Background()
	a1 := &echoOwner{user: "alice", id: "t1", alive: true}
	a2 := &echoOwner{user: "alice", id: "t2", alive: true}
	b1 := &echoOwner{user: "bob", id: "t3", alive: true}
	for _, p := range []struct {
		o    *echoOwner
		name string
	}{{a1, "db.alice"}, {a2, "web.alice"}, {b1, "pc.bob"}} {
		if _, err := r.Publish(ctx, p.o, Policy{}, p.name, 22); err != nil {
			t.Fatalf("publish %s: %v", p.name, err)
		}
	}
	var got []string
	for _, ep := range r.ListUser("alice") {
		got = append(got, ep.Key.String()+"@"+ep.Owner.ID())
	}
	if want := "db.alice:22@t1 web.alice:22@t2"; strings.Join(got, " ") != want {
		t.Fatalf("ListUser(alice) = %v, want %s", got, want)
	}
	if n := len(r.ListUser("carol")); n != 0 {
		t.Fatalf("ListUser(carol) = %d endpoints, want none", n)
	}
}
