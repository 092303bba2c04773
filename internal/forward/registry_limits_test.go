package forward

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
)

// TestPublishCapsHoldUnderConcurrency publishes from many goroutines at
// once, as many tubes of one user and as one tube, trying to overshoot the
// per-user and per-owner caps by many: the slot is reserved, checked and
// counted in one step, so exactly the caps are granted.
func TestPublishCapsHoldUnderConcurrency(t *testing.T) {
	const perOwner, perUser, owners, tries = 5, 12, 16, 20
	r := newTestRegistry(t)
	r.MaxPerOwner, r.MaxPerUser = perOwner, perUser
	var granted atomic.Int32
	perOwnerGranted := make([]atomic.Int32, owners)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range owners {
		o := &echoOwner{user: "alice", id: fmt.Sprintf("t%d", i), alive: true}
		for j := range tries {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				bind, port := fmt.Sprintf("n%d-%d", i, j), 22
				if j%2 == 1 {
					bind, port = "127.0.0.1", 0
				}
				if _, err := r.Publish(context.Background(), o, Policy{}, bind, port); err == nil {
					granted.Add(1)
					perOwnerGranted[i].Add(1)
				}
			}()
		}
	}
	close(start)
	wg.Wait()
	if n := granted.Load(); n != perUser {
		t.Errorf("%d concurrent publishes by one user: %d granted, want the per-user cap %d", owners*tries, n, perUser)
	}
	for i := range perOwnerGranted {
		if n := perOwnerGranted[i].Load(); n > perOwner {
			t.Errorf("owner %d: %d granted, per-owner cap %d", i, n, perOwner)
		}
	}
	if n := r.Count(); n != perUser {
		t.Errorf("registry holds %d endpoints, want %d", n, perUser)
	}
}
