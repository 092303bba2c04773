package cluster

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tubegate/tubegate/internal/forward"
)

var origin = forward.Addr{Net: "tcp", Address: "192.0.2.1:5555"}

// A virtual name on node 1 is resolved and dialled from node 2, bytes flow
// both ways, the connection counts on node 1's endpoint and is cut with it.
func TestDirectoryRemoteNameDialled(t *testing.T) {
	tc := newTestCluster(t)
	n1, n2 := tc.node("n1"), tc.node("n2")
	alice := newTube("alice", "t1")
	ep1 := n1.publish(t, alice, "myhost.alice")

	ep, err := n2.reg.Resolve(context.Background(), name("myhost.alice"))
	if err != nil || ep == nil {
		t.Fatalf("node 2 resolves myhost.alice:22: %v, %v", ep, err)
	}
	if !ep.Remote() || ep.Owner.User() != "alice" || ep.Owner.ID() != "n1/t1" || !ep.Virtual || ep.BindHost != "myhost.alice" {
		t.Fatalf("node 2's endpoint: remote %v, user %q, owner %q, virtual %v, bind %q", ep.Remote(), ep.Owner.User(),
			ep.Owner.ID(), ep.Virtual, ep.BindHost)
	}
	c, err := ep.Dial(context.Background(), origin)
	if err != nil {
		t.Fatalf("dial node 1's name from node 2: %v", err)
	}
	defer c.Close()
	upper(t, c, "hello from node 2")
	upper(t, c, "and again")
	if got := ep1.Stats.Total.Load(); got != 1 {
		t.Errorf("node 1's endpoint counted %d connections, want 1", got)
	}

	// Unpublishing on node 1 cuts the connection and frees the key.
	n1.reg.Unpublish(ep1)
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.Read(make([]byte, 1)); err == nil {
		t.Error("the connection from node 2 outlived the endpoint")
	}
	if rec := n2.lookup(t, name("myhost.alice")); rec != nil {
		t.Errorf("record after unpublish: %+v", rec)
	}
	if ep, err := n2.reg.Resolve(context.Background(), name("myhost.alice")); ep != nil || err != nil {
		t.Errorf("resolve after unpublish: %v, %v", ep, err)
	}
}

// A published port (an allocated one) is claimed too, so that node 2
// resolves -J gw -p PORT localhost to it.
func TestDirectoryRemotePortDialled(t *testing.T) {
	tc := newTestCluster(t)
	n1, n2 := tc.node("n1"), tc.node("n2")
	ep1, err := n1.reg.Publish(context.Background(), newTube("alice", "t1"), forward.Policy{}, "localhost", 0)
	if err != nil {
		t.Fatal(err)
	}
	ep, err := n2.reg.Resolve(context.Background(), forward.AddressOf("localhost", ep1.BindPort))
	if err != nil || ep == nil || !ep.Remote() {
		t.Fatalf("node 2 resolves localhost:%d: %v, %v", ep1.BindPort, ep, err)
	}
	if ep.Addr() == nil || ep.Addr().String() != ep1.Addr().String() {
		t.Errorf("remote port's address %v, want node 1's listener %v", ep.Addr(), ep1.Addr())
	}
	c, err := ep.Dial(context.Background(), origin)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	upper(t, c, "port")
}

// Claims of one key from two nodes at once, by many tubes of two users,
// give exactly one winner; so do bare directory claims.
func TestDirectoryClaimRace(t *testing.T) {
	tc := newTestCluster(t)
	nodes := []*testNode{tc.node("n1"), tc.node("n2"), tc.node("n3")}
	const perNode = 12
	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		winners []string
	)
	start := make(chan struct{})
	for _, n := range nodes {
		for i := range perNode {
			wg.Add(1)
			go func() {
				defer wg.Done()
				user := []string{"alice", "bob"}[i%2]
				o := newTube(user, fmt.Sprintf("t%d", i))
				<-start
				if _, err := n.reg.Publish(context.Background(), o, forward.Policy{}, "race.alice", 22); err == nil {
					mu.Lock()
					winners = append(winners, n.id+"/"+o.id)
					mu.Unlock()
				} else if !errors.Is(err, forward.ErrRefused) {
					t.Errorf("%s/%s: not a refusal: %v", n.id, o.id, err)
				}
			}()
		}
	}
	close(start)
	wg.Wait()
	if len(winners) != 1 {
		t.Fatalf("%d winners of race.alice:22 among %d tubes on 3 nodes: %v", len(winners), 3*perNode, winners)
	}
	rec := nodes[0].lookup(t, name("race.alice"))
	if rec == nil || rec.Node+"/"+rec.Tube != winners[0] {
		t.Fatalf("record %+v, winner %s", rec, winners[0])
	}
	t.Logf("1 winner (%s) among %d tubes", winners[0], 3*perNode)

	// The directory alone: 3 nodes × 20 claims of a fresh key.
	wins := 0
	start = make(chan struct{})
	for _, n := range nodes {
		for range 20 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				_, holder, err := n.dir.Claim(context.Background(), forward.Claim{Key: name("bare.alice"), Tube: "x", User: "alice"}, nil)
				if err != nil {
					t.Error(err)
					return
				}
				if holder == nil {
					mu.Lock()
					wins++
					mu.Unlock()
				}
			}()
		}
	}
	close(start)
	wg.Wait()
	if wins != 1 {
		t.Fatalf("%d directory claims of bare.alice:22 won, want 1", wins)
	}
}

// The takeover rule across nodes: a newer tube of the same user takes the
// key from a silent tube, or one whose node cannot be reached, and closes
// it; an alive one, or another user's, keeps it.
func TestDirectoryTakeoverAcrossNodes(t *testing.T) {
	tc := newTestCluster(t)
	n1, n2 := tc.node("n1"), tc.node("n2")
	ctx := context.Background()

	alive := newTube("alice", "t1")
	n1.publish(t, alive, "alive.alice")
	_, err := n2.reg.Publish(ctx, newTube("alice", "t2"), forward.Policy{}, "alive.alice", 22)
	if !errors.Is(err, forward.ErrRefused) || !strings.Contains(err.Error(), "still alive") {
		t.Errorf("alive tube on node 1: want refused as still alive, got %v", err)
	}
	_, err = n2.reg.Publish(ctx, newTube("bob", "t3"), forward.Policy{}, "alive.alice", 22)
	if !errors.Is(err, forward.ErrRefused) || !strings.Contains(err.Error(), "already published by another user") {
		t.Errorf("another user: want refused, got %v", err)
	}
	if alive.closed.Load() {
		t.Error("a refused takeover closed the alive tube")
	}

	silent := newTube("alice", "t4")
	n1.publish(t, silent, "silent.alice")
	silent.alive.Store(false)
	newer := newTube("alice", "t5")
	n2.publish(t, newer, "silent.alice")
	if rec := n1.lookup(t, name("silent.alice")); rec == nil || rec.Node != "n2" || rec.Tube != "t5" {
		t.Fatalf("record after takeover: %+v", rec)
	}
	waitUntil(t, "the silent tube closed through its node", silent.closed.Load)
	// Node 1's next refresh finds the key taken: its endpoint goes.
	waitUntil(t, "node 1 drops the endpoint it lost", func() bool { return n1.reg.Get(name("silent.alice")) == nil })

	// A node that cannot be reached: its tube is taken over alike.
	n3 := tc.node("n3")
	cutOff := newTube("alice", "t6")
	n3.publish(t, cutOff, "cutoff.alice")
	tc.peers.set("n3", nil)
	n2.publish(t, newTube("alice", "t7"), "cutoff.alice")
	if rec := n1.lookup(t, name("cutoff.alice")); rec == nil || rec.Node != "n2" {
		t.Fatalf("record after taking over from an unreachable node: %+v", rec)
	}
}

// Two takers of one silent tube's key: the compare-and-swap gives one.
func TestDirectoryTakeoverRace(t *testing.T) {
	tc := newTestCluster(t)
	n1, n2, n3 := tc.node("n1"), tc.node("n2"), tc.node("n3")
	silent := newTube("alice", "t1")
	n1.publish(t, silent, "home.alice")
	silent.alive.Store(false)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var won []string
	for _, n := range []*testNode{n2, n3} {
		for i := range 4 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				o := newTube("alice", fmt.Sprintf("new%d", i))
				if _, err := n.reg.Publish(context.Background(), o, forward.Policy{}, "home.alice", 22); err == nil {
					mu.Lock()
					won = append(won, n.id+"/"+o.id)
					mu.Unlock()
				}
			}()
		}
	}
	wg.Wait()
	if len(won) != 1 {
		t.Fatalf("%d tubes took home.alice:22 over: %v", len(won), won)
	}
}

// A node that stops refreshing (killed) frees its keys within the TTL.
func TestDirectoryKilledNodeExpires(t *testing.T) {
	tc := newTestCluster(t)
	n1, n2 := tc.node("n1"), tc.node("n2")
	n1.publish(t, newTube("alice", "t1"), "gone.alice")
	pttl, err := n1.cl.Client().PTTL(context.Background(), epKey(name("gone.alice"))).Result()
	if err != nil || pttl <= 0 || pttl > testTTL {
		t.Fatalf("the claim's TTL is %v (%v), want at most %v", pttl, err, testTTL)
	}
	// Refreshes keep it beyond its TTL while node 1 lives.
	time.Sleep(2 * testTTL)
	if rec := n2.lookup(t, name("gone.alice")); rec == nil {
		t.Fatal("a live node's claim expired")
	}
	tc.kill(n1)
	took := waitUntil(t, "the killed node's key expires", func() bool { return n2.lookup(t, name("gone.alice")) == nil })
	t.Logf("key free %v after the kill (TTL %v)", took.Round(time.Millisecond), testTTL)
	n2.publish(t, newTube("alice", "t9"), "gone.alice")
	if ep, err := n2.reg.Resolve(context.Background(), name("gone.alice")); err != nil || ep == nil || ep.Remote() {
		t.Fatalf("node 2's own endpoint: %v, %v", ep, err)
	}
}

// Redis stopped: publishing is refused with the clear error, lookups of
// other nodes' keys fail, local endpoints still work; Redis back: the
// claims are registered again with no restart of the nodes.
func TestDirectoryRedisDownAndBack(t *testing.T) {
	tc := newTestCluster(t)
	n1, n2 := tc.node("n1"), tc.node("n2")
	ctx := context.Background()
	n1.publish(t, newTube("alice", "t1"), "a.alice")
	n2.publish(t, newTube("bob", "t1"), "b.bob")

	if got := n1.metric(t, "tubegate_directory_claims"); got != 1 {
		t.Errorf("claims gauge %v, want 1", got)
	}
	tc.srv.Stop()
	waitUntil(t, "node 1 sees redis down", func() bool { return errors.Is(n1.cl.Health(), ErrUnavailable) })
	waitUntil(t, "a refresh failure counted", func() bool {
		return n1.metric(t, "tubegate_directory_refresh_failures_total") > 0
	})
	_, err := n1.reg.Publish(ctx, newTube("alice", "t2"), forward.Policy{}, "c.alice", 22)
	if err == nil || !strings.Contains(err.Error(), "cluster unavailable: redis unreachable") {
		t.Errorf("publish with redis down: want \"cluster unavailable: redis unreachable\", got %v", err)
	}
	if n1.reg.Get(name("c.alice")) != nil {
		t.Error("a refused publish is live")
	}
	port := freePort(t)
	_, err = n1.reg.Publish(ctx, newTube("alice", "t2"), forward.Policy{}, "localhost", port)
	if err == nil || !strings.Contains(err.Error(), "cluster unavailable: redis unreachable") {
		t.Errorf("publish of port %d with redis down: got %v", port, err)
	}
	if ln, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", fmt.Sprint(port))); err != nil {
		t.Errorf("the refused port's listener was left open: %v", err)
	} else {
		ln.Close()
	}
	_, err = n1.reg.Resolve(ctx, name("b.bob"))
	if err == nil || !strings.Contains(err.Error(), "cluster unavailable: redis unreachable") {
		t.Errorf("lookup of node 2's name with redis down: want the clear error, got %v", err)
	}
	ep, err := n1.reg.Resolve(ctx, name("a.alice"))
	if err != nil || ep == nil {
		t.Fatalf("node 1's own name with redis down: %v, %v", ep, err)
	}
	c, err := ep.Dial(ctx, origin)
	if err != nil {
		t.Fatal(err)
	}
	upper(t, c, "still local")
	c.Close()

	// Down for longer than the TTL: Redis comes back without the claims.
	time.Sleep(testTTL + testRefresh)
	tc.srv.Restart()
	took := waitUntil(t, "node 1's claim re-registered", func() bool {
		rec, err := n2.dir.Lookup(ctx, name("a.alice"))
		return err == nil && rec != nil && rec.Node == "n1"
	})
	t.Logf("re-registered %v after redis came back", took.Round(time.Millisecond))
	ep, err = n2.reg.Resolve(ctx, name("a.alice"))
	if err != nil || ep == nil {
		t.Fatalf("node 2 resolves a.alice after the restart: %v, %v", ep, err)
	}
	c, err = ep.Dial(ctx, origin)
	if err != nil {
		t.Fatal(err)
	}
	upper(t, c, "across again")
	c.Close()
	// go-redis keeps answering its last dial error for up to a second
	// after a run of failed dials; the health loop says when it is over.
	waitUntil(t, "node 1 sees redis back", func() bool { return n1.cl.Health() == nil })
	n1.publish(t, newTube("alice", "t3"), "c.alice")
}

// FLUSHALL (Redis lost its data): every node registers its claims again.
func TestDirectoryFlushallReRegisters(t *testing.T) {
	tc := newTestCluster(t)
	n1, n2 := tc.node("n1"), tc.node("n2")
	n1.publish(t, newTube("alice", "t1"), "x.alice")
	n2.publish(t, newTube("bob", "t1"), "y.bob")
	if err := n1.cl.Client().FlushAll(context.Background()).Err(); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "both claims back", func() bool {
		a, b := n1.lookup(t, name("y.bob")), n2.lookup(t, name("x.alice"))
		return a != nil && a.Node == "n2" && b != nil && b.Node == "n1"
	})
	if n1.reg.Get(name("x.alice")) == nil || n2.reg.Get(name("y.bob")) == nil {
		t.Fatal("an endpoint went away with the flush")
	}
}

// A claim that lapsed (node 1 cut off from Redis) and was taken by a newer
// tube on node 2: the newer claim wins, node 1 unpublishes and tells the
// owner.
func TestDirectoryLostToNewerClaim(t *testing.T) {
	tc := newTestCluster(t)
	n1, n2 := tc.node("n1"), tc.node("n2")
	old := newTube("alice", "t1")
	n1.publish(t, old, "lapse.alice")
	// The lapse: the record expired while node 1 could not refresh it.
	if err := n1.cl.Client().Del(context.Background(), epKey(name("lapse.alice"))).Err(); err != nil {
		t.Fatal(err)
	}
	n2.publish(t, newTube("alice", "t2"), "lapse.alice")
	n1.dir.Kick()
	select {
	case err := <-old.lost:
		if !strings.Contains(err.Error(), "node n2") {
			t.Errorf("owner told: %v", err)
		}
	case <-time.After(waitLimit):
		t.Fatal("node 1's owner was not told of the lost endpoint")
	}
	if n1.reg.Get(name("lapse.alice")) != nil {
		t.Error("node 1 still holds the endpoint it lost")
	}
	if rec := n1.lookup(t, name("lapse.alice")); rec == nil || rec.Node != "n2" {
		t.Errorf("record: %+v, want node 2's", rec)
	}
}

// A record of this node that no endpoint here stands behind (a release
// Redis never heard) does not block publishing again; releasing only ever
// deletes one's own claim.
func TestDirectoryStaleRecordAndRelease(t *testing.T) {
	tc := newTestCluster(t)
	n1, n2 := tc.node("n1"), tc.node("n2")
	ctx := context.Background()
	stale := forward.Claim{Key: name("stale.alice"), Tube: "t0", User: "bob"}
	if _, h, err := n1.dir.Claim(ctx, stale, nil); err != nil || h != nil {
		t.Fatal(h, err)
	}
	n1.dir.forget(epKey(stale.Key), n1.lookup(t, stale.Key).ID) // as if released, unheard
	n1.publish(t, newTube("alice", "t1"), "stale.alice")
	if rec := n2.lookup(t, name("stale.alice")); rec == nil || rec.Tube != "t1" {
		t.Fatalf("record: %+v", rec)
	}

	mine, _, err := n2.dir.Claim(ctx, forward.Claim{Key: name("other.bob"), Tube: "t1", User: "bob"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	n1.dir.Release(ctx, forward.Claim{Key: mine.Key, ID: "not-the-id"})
	if rec := n1.lookup(t, mine.Key); rec == nil || rec.ID != mine.ID {
		t.Fatalf("a release with another ID deleted %s: %+v", mine.Key, rec)
	}
	n2.dir.Release(ctx, mine)
	if rec := n1.lookup(t, mine.Key); rec != nil {
		t.Fatalf("released claim still recorded: %+v", rec)
	}
	if n2.dir.Held() != 0 {
		t.Errorf("node 2 holds %d claims after releasing its only one", n2.dir.Held())
	}
}

func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}
