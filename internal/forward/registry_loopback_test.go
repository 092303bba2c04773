package forward

import (
	"context"
	"fmt"
	"net"
	"testing"
)

// TestLoopbackPortHoldsBothFamilies: a user's loopback port is
// "localhost:PORT" in both families, as OpenSSH's localhost, so another
// user cannot publish the [::1] half of it (or the 127.0.0.1 half of an
// [::1] publication), and connections to either half reach the owner.
func TestLoopbackPortHoldsBothFamilies(t *testing.T) {
	if ln, err := net.Listen("tcp6", "[::1]:0"); err != nil {
		t.Fatalf("this test needs an IPv6 loopback: %v", err)
	} else {
		ln.Close()
	}
	r := newTestRegistry(t)
	alice := &echoOwner{user: "alice", id: "t1", alive: true}
	mallory := &echoOwner{user: "mallory", id: "t2", alive: true}
	ep, err := r.Publish(context.Background(), alice, Policy{}, "localhost", 0)
	if err != nil {
		t.Fatal(err)
	}
	port := ep.BindPort
	for _, half := range []string{"::1", "127.0.0.1", "localhost"} {
		if _, err := r.Publish(context.Background(), mallory, Policy{}, half, port); err == nil {
			t.Errorf("mallory published %s port %d, the other half of alice's localhost:%d", half, port, port)
		}
	}
	roundTrip(t, fmt.Sprintf("127.0.0.1:%d", port))
	roundTrip(t, fmt.Sprintf("[::1]:%d", port))
	if got := r.Get(AddressOf("::1", port)); got != ep {
		t.Errorf("Get(::1, %d) = %v, want alice's endpoint", port, got)
	}

	// And the other way round: [::1] first.
	ep6, err := r.Publish(context.Background(), mallory, Policy{}, "::1", 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.Publish(context.Background(), alice, Policy{}, "127.0.0.1", ep6.BindPort); err == nil {
		t.Errorf("alice published 127.0.0.1 port %d, the other half of mallory's [::1]:%d", ep6.BindPort, ep6.BindPort)
	}
	roundTrip(t, fmt.Sprintf("127.0.0.1:%d", ep6.BindPort))
}
