package home

import (
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/tubegate/tubegate/internal/forward"
)

func policy(t *testing.T, open ...string) forward.Policy {
	t.Helper()
	var p forward.Policy
	for _, o := range open {
		r, err := forward.ParseOpenRule(o)
		if err != nil {
			t.Fatal(err)
		}
		p.Open = append(p.Open, r)
	}
	return p
}

func targets(es []Entry) string {
	var s []string
	for _, e := range es {
		s = append(s, e.Target+"="+e.State)
	}
	return strings.Join(s, " ")
}

func TestBuildListsOnlyWhatTheUserMayReach(t *testing.T) {
	now := time.Now()
	lo := &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 22222}
	live := []forward.Live{
		{Key: forward.AddressOf("myhost.alice", 22), User: "alice", Virtual: true, From: "10.0.0.1:5555", Published: now, Active: 2},
		{Key: forward.AddressOf("secret.alice", 22), User: "alice", Virtual: true, From: "10.0.0.1:5555", Published: now},
		{Key: forward.AddressOf("localhost", 22222), User: "alice", Addr: lo, From: "10.0.0.1:5555", Published: now},
		{Key: forward.AddressOf("localhost", 33333), User: "alice", Addr: &net.TCPAddr{IP: lo.IP, Port: 33333}, Published: now},
		{Key: forward.AddressOf("web.bob", 80), User: "bob", Virtual: true, Published: now},
	}
	gone := []forward.Gone{
		{Key: forward.AddressOf("old.alice", 22), User: "alice", Virtual: true, Since: now},
		{Key: forward.AddressOf("gone.alice", 22), User: "alice", Virtual: true, Since: now},
	}
	// alice sees all of hers, with where from.
	got := Build("alice", forward.Policy{}, live, nil, gone)
	if want := "myhost.alice:22=online secret.alice:22=online localhost:22222=online localhost:33333=online old.alice:22=offline gone.alice:22=offline"; targets(got) != want {
		t.Fatalf("alice's list: %s, want %s", targets(got), want)
	}
	if got[0].From != "10.0.0.1:5555" || got[0].Conns != 2 || !got[0].Mine || got[0].Publisher != "alice" {
		t.Fatalf("alice's own entry: %+v", got[0])
	}
	// carol: granted myhost and old by name, one loopback port, one real destination.
	pol := policy(t, "myhost.alice@alice:22", "old.alice@alice:22", "never.alice@alice:22", "localhost:22222", "db.internal:5432", "*:443", "10.0.0.0/8:22")
	got = Build("carol", pol, live, nil, gone)
	if want := "myhost.alice:22=online localhost:22222=online old.alice:22=offline never.alice:22=offline db.internal:5432=allowed"; targets(got) != want {
		t.Fatalf("carol's list: %s, want %s", targets(got), want)
	}
	for _, e := range got {
		if e.From != "" {
			t.Errorf("carol sees where alice's %s comes from: %q", e.Target, e.From)
		}
		for _, hidden := range []string{"secret", "33333", "web.bob", "gone"} {
			if strings.Contains(e.Target, hidden) {
				t.Errorf("carol sees %s, which her policy does not reach", e.Target)
			}
		}
	}
	// mallory, who may reach nothing, sees nothing.
	if got := Build("mallory", forward.Policy{}, live, nil, gone); len(got) != 0 {
		t.Fatalf("mallory's list: %s, want nothing", targets(got))
	}
}

func TestBuildGrantedNames(t *testing.T) {
	live := []forward.Live{{Key: forward.AddressOf("myhost.alice", 22), User: "alice", Virtual: true, Published: time.Now()}}
	got := Build("carol", policy(t, "myhost.alice@alice:22", "db.alice@alice:5432"), live, nil, nil)
	if want := "myhost.alice:22=online db.alice:5432=offline"; targets(got) != want {
		t.Fatalf("carol's list: %s, want %s", targets(got), want)
	}
	if got[1].Publisher != "alice" || !got[1].Since.IsZero() {
		t.Fatalf("a granted name never seen: %+v", got[1])
	}
}

// Other nodes' endpoints are listed by the same rules as this node's, with
// their node: the user's own, and another user's only where a grant or
// permit-open reaches it. This node's copy of an endpoint wins.
func TestBuildRemoteEndpoints(t *testing.T) {
	now := time.Now()
	live := []forward.Live{{Key: forward.AddressOf("here.alice", 22), User: "alice", Virtual: true, Published: now, Active: 1}}
	remote := []forward.Claim{
		{Key: forward.AddressOf("localhost", 22222), User: "alice", Node: "n2", Published: now},
		{Key: forward.AddressOf("far.alice", 22), User: "alice", Virtual: true, Node: "n2", Published: now},
		{Key: forward.AddressOf("here.alice", 22), User: "alice", Virtual: true, Node: "n3", Published: now},
		{Key: forward.AddressOf("secret.alice", 22), User: "alice", Virtual: true, Node: "n2", Published: now},
		{Key: forward.AddressOf("web.bob", 80), User: "bob", Virtual: true, Node: "n2", Published: now},
	}
	gone := []forward.Gone{{Key: forward.AddressOf("far.alice", 22), User: "alice", Virtual: true, Since: now}}
	got := Build("alice", forward.Policy{}, live, remote, gone)
	if want := "here.alice:22=online localhost:22222=online far.alice:22=online secret.alice:22=online"; targets(got) != want {
		t.Fatalf("alice's list: %s, want %s", targets(got), want)
	}
	if got[0].Node != "" || got[0].Conns != 1 || got[1].Node != "n2" || !got[1].Mine || got[1].Kind != "port" {
		t.Fatalf("alice's entries: %+v", got[:2])
	}
	pol := policy(t, "far.alice@alice:22", "localhost:22222")
	got = Build("carol", pol, live, remote, gone)
	if want := "localhost:22222=online far.alice:22=online"; targets(got) != want {
		t.Fatalf("carol's list: %s, want %s", targets(got), want)
	}
	if got[1].Node != "n2" || got[1].Mine || got[1].Publisher != "alice" || got[1].From != "" {
		t.Fatalf("carol's entry of alice's name on n2: %+v", got[1])
	}
	if got := Build("mallory", forward.Policy{}, live, remote, gone); len(got) != 0 {
		t.Fatalf("mallory's list: %s, want nothing", targets(got))
	}
}

// What the directory is asked for a user: their own, exact addresses their
// policy names, and the owners of pattern grants; never patterns of real
// destinations.
func TestLookups(t *testing.T) {
	users, keys := Lookups("carol", policy(t, "myhost.alice@alice:22", "db-*@bob:*", "localhost:22222", "*:443", "10.0.0.0/8:22",
		"db.internal:5432", "x@bob:22"))
	if fmt.Sprint(users) != "[carol bob]" {
		t.Errorf("users %v, want [carol bob]", users)
	}
	var ks []string
	for _, k := range keys {
		ks = append(ks, k.String())
	}
	if want := "myhost.alice:22 127.0.0.1:22222 db.internal:5432 x:22"; strings.Join(ks, " ") != want {
		t.Errorf("keys %v, want %s", ks, want)
	}
}
