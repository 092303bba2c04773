package cluster

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/tubegate/tubegate/internal/forward"
)

// claimsOf writes claims as "KEY@NODE ..." for comparisons.
func claimsOf(cs []forward.Claim) string {
	var s []string
	for _, c := range cs {
		s = append(s, c.Key.String()+"@"+c.Node)
	}
	return strings.Join(s, " ")
}

func (n *testNode) list(t *testing.T, users []string, keys ...forward.Address) string {
	t.Helper()
	cs, err := n.dir.List(context.Background(), users, keys)
	if err != nil {
		t.Fatalf("%s: list %v %v: %v", n.id, users, keys, err)
	}
	return claimsOf(cs)
}

func (n *testNode) indexOf(t *testing.T, user string) []string {
	t.Helper()
	m, err := n.cl.Client().SMembers(context.Background(), userKey(user)).Result()
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// A user's endpoints on every node are listed from any node, with their
// nodes, and nobody else's; the per-user index follows publishes,
// releases and takeovers.
func TestDirectoryListUser(t *testing.T) {
	tc := newTestCluster(t)
	n1, n2 := tc.node("n1"), tc.node("n2")
	ctx := context.Background()
	alice1, alice2 := newTube("alice", "t1"), newTube("alice", "t2")
	n1.publish(t, alice1, "a.alice")
	port, err := n2.reg.Publish(ctx, alice2, forward.Policy{}, "localhost", 0)
	if err != nil {
		t.Fatal(err)
	}
	n2.publish(t, newTube("bob", "t3"), "b.bob")
	portKey := port.Key.String()

	want := portKey + "@n2 a.alice:22@n1"
	for _, n := range []*testNode{n1, n2} {
		if got := n.list(t, []string{"alice"}); got != want {
			t.Errorf("%s lists alice's: %q, want %q", n.id, got, want)
		}
	}
	if got := n1.list(t, []string{"bob"}); got != "b.bob:22@n2" {
		t.Errorf("bob's: %q", got)
	}
	if got := n1.list(t, []string{"carol"}); got != "" {
		t.Errorf("carol's: %q, want none", got)
	}
	// Keys asked for by address (a grant): any user's, once.
	if got := n1.list(t, []string{"alice"}, name("b.bob"), name("a.alice"), name("none.bob")); got != portKey+"@n2 a.alice:22@n1 b.bob:22@n2" {
		t.Errorf("alice's and two keys: %q", got)
	}
	// The registry's view leaves out this node's own.
	rs, err := n2.reg.Remote(ctx, []string{"alice"}, nil)
	if err != nil || claimsOf(rs) != "a.alice:22@n1" {
		t.Errorf("node 2's remote endpoints of alice: %q, %v", claimsOf(rs), err)
	}

	// A takeover moves the name to node 2; the index holds it once.
	alice1.alive.Store(false)
	n2.publish(t, alice2, "a.alice")
	if got, want := n1.list(t, []string{"alice"}), portKey+"@n2 a.alice:22@n2"; got != want {
		t.Errorf("after the takeover: %q, want %q", got, want)
	}
	// A release takes the endpoint out of the index at once.
	n2.reg.Unpublish(port)
	if got := n1.list(t, []string{"alice"}); got != "a.alice:22@n2" {
		t.Errorf("after the release: %q", got)
	}
	if m := n1.indexOf(t, "alice"); len(m) != 1 || m[0] != "a.alice:22" {
		t.Errorf("alice's index after the release: %v", m)
	}
}

// Members whose endpoint is gone (a killed node's, expired) or now held by
// another user are not listed and are dropped from the index when read.
func TestDirectoryListDropsDeadEntries(t *testing.T) {
	tc := newTestCluster(t)
	n1, n2 := tc.node("n1"), tc.node("n2")
	ctx := context.Background()
	n1.publish(t, newTube("alice", "t1"), "live.alice")
	n2.publish(t, newTube("alice", "t2"), "dies.alice")
	n2.publish(t, newTube("bob", "t3"), "b.bob")
	// alice's index names bob's endpoint (as a stale record of a node
	// replaced by another user's claim would leave it).
	if err := n1.cl.Client().SAdd(ctx, userKey("alice"), "b.bob:22").Err(); err != nil {
		t.Fatal(err)
	}
	tc.kill(n2)
	waitUntil(t, "node 2's claim expired", func() bool { return n1.lookup(t, name("dies.alice")) == nil })
	if got := n1.list(t, []string{"alice"}); got != "live.alice:22@n1" {
		t.Errorf("alice's after node 2 died: %q", got)
	}
	if m := n1.indexOf(t, "alice"); len(m) != 1 || m[0] != "live.alice:22" {
		t.Errorf("alice's index after the read: %v, want only live.alice:22", m)
	}
}

// The read is capped: an index bloated with dead members costs at most
// MaxList of them per read, each read prunes what it read, and the live
// ones come back within a few reads.
func TestDirectoryListBounded(t *testing.T) {
	tc := newTestCluster(t)
	n1 := tc.node("n1")
	ctx := context.Background()
	n1.publish(t, newTube("alice", "t1"), "live.alice")
	dead := make([]any, 3000)
	for i := range dead {
		dead[i] = fmt.Sprintf("dead%d.alice:22", i)
	}
	if err := n1.cl.Client().SAdd(ctx, userKey("alice"), dead...).Err(); err != nil {
		t.Fatal(err)
	}
	seen, reads := false, 0
	for len(n1.indexOf(t, "alice")) > 1 {
		before := len(n1.indexOf(t, "alice"))
		got := n1.list(t, []string{"alice"})
		seen = seen || got == "live.alice:22@n1"
		if got != "" && got != "live.alice:22@n1" {
			t.Fatalf("listed %q", got)
		}
		if after := len(n1.indexOf(t, "alice")); before-after > DefaultMaxList || after >= before {
			t.Fatalf("one read pruned %d of %d members, want 1 to %d", before-after, before, DefaultMaxList)
		}
		if reads++; reads > 10 {
			t.Fatal("the index did not shrink to its live member")
		}
	}
	if got := n1.list(t, []string{"alice"}); got != "live.alice:22@n1" {
		t.Errorf("after pruning: %q", got)
	}
	t.Logf("%d reads pruned 3000 dead members (live one seen on the way: %v)", reads, seen)
}

// Redis down: List fails at once with the clear reason; a flush is healed
// by the next refresh, index included.
func TestDirectoryListRedisDownAndFlush(t *testing.T) {
	tc := newTestCluster(t)
	n1, n2 := tc.node("n1"), tc.node("n2")
	n1.publish(t, newTube("alice", "t1"), "x.alice")
	if err := n1.cl.Client().FlushAll(context.Background()).Err(); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "the index is back", func() bool { return n2.list(t, []string{"alice"}) == "x.alice:22@n1" })

	tc.srv.Stop()
	waitUntil(t, "node 2 sees redis down", func() bool { return errors.Is(n2.cl.Health(), ErrUnavailable) })
	_, err := n2.dir.List(context.Background(), []string{"alice"}, nil)
	if err == nil || !strings.Contains(err.Error(), "cluster unavailable: redis unreachable") {
		t.Errorf("list with redis down: %v", err)
	}
	_, err = n2.reg.Remote(context.Background(), []string{"alice"}, nil)
	if err == nil || !strings.Contains(err.Error(), "cluster unavailable: redis unreachable") {
		t.Errorf("the registry's remote list with redis down: %v", err)
	}
}
