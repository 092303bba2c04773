package forward

import (
	"context"
	"fmt"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/tubegate/tubegate/internal/idlepoll"
	"github.com/tubegate/tubegate/internal/listenset"
)

// acceptLoops counts the goroutines serving published ports' listeners.
func acceptLoops() int {
	buf := make([]byte, 4<<20)
	n := runtime.Stack(buf, true)
	return strings.Count(string(buf[:n]), "listenset.(*Listener).run(")
}

// waitAcceptLoops waits for the accept goroutines to come down to want.
func waitAcceptLoops(t *testing.T, want int, what string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for acceptLoops() != want {
		if time.Now().After(deadline) {
			t.Fatalf("%s: %d accept goroutines, want %d", what, acceptLoops(), want)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestIdleEndpointsHoldNoGoroutine: published loopback ports (two
// listeners each) cost no goroutine while idle, carry connections on both
// families, and cost none again once idle.
func TestIdleEndpointsHoldNoGoroutine(t *testing.T) {
	waitAcceptLoops(t, 0, "earlier tests' endpoints") // their bursts linger
	r := newTestRegistry(t)
	poll, err := idlepoll.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	defer poll.Close()
	r.Listeners = listenset.New(poll, 20*time.Millisecond) // goes idle soon
	var eps []*Endpoint
	for i := range 20 {
		o := &echoOwner{user: "alice", id: fmt.Sprint("t", i), alive: true}
		ep, err := r.Publish(context.Background(), o, Policy{}, "localhost", 0)
		if err != nil {
			t.Fatal(err)
		}
		eps = append(eps, ep)
	}
	if n := acceptLoops(); n != 0 {
		t.Fatalf("20 idle endpoints hold %d accept goroutines, want none", n)
	}
	for _, ep := range eps {
		roundTrip(t, ep.Key.String())
		if len(ep.lns) == 2 {
			roundTrip(t, JoinHostPort("::1", ep.BindPort))
		}
	}
	waitAcceptLoops(t, 0, "the endpoints idle again")
	r.UnpublishAll(eps[0].Owner)
	if w := poll.Watched(); w < 19 || w > 38 {
		t.Errorf("the set watches %d listeners, want 19 endpoints' worth", w)
	}
}
