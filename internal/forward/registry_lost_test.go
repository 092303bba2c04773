//go:build linux

package forward

import (
	"context"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/tubegate/tubegate/internal/acceptloop"
	"github.com/tubegate/tubegate/internal/listenset"
)

// lossOwner records the endpoints the registry reports lost.
type lossOwner struct {
	echoOwner
	mu   sync.Mutex
	lost []string
}

func (o *lossOwner) EndpointLost(ep *Endpoint, err error) {
	o.mu.Lock()
	o.lost = append(o.lost, ep.Key.String())
	o.mu.Unlock()
}

// TestDeadListenerIsReportedToOwner kills a published port's listening
// socket for real (shutdown(2) makes accept fail with EINVAL, an error
// that does not pass): the endpoint is unpublished and its owner told,
// and the registry carries on.
func TestDeadListenerIsReportedToOwner(t *testing.T) {
	t.Run("idle in a listenset", func(t *testing.T) { testDeadListener(t, newTestRegistry(t)) })
	t.Run("a goroutine each", func(t *testing.T) {
		r := newTestRegistry(t)
		r.Listeners = nil
		testDeadListener(t, r)
	})
}

func testDeadListener(t *testing.T, r *Registry) {
	o := &lossOwner{echoOwner: echoOwner{user: "alice", id: "t1", alive: true}}
	ep, err := r.Publish(context.Background(), o, Policy{}, "127.0.0.1", 0)
	if err != nil {
		t.Fatal(err)
	}
	tl := ep.lns[0].(*acceptloop.Listener).Listener.(*listenset.Listener).TCPListener
	rc, err := tl.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	rc.Control(func(fd uintptr) { syscall.Shutdown(int(fd), syscall.SHUT_RD) })
	deadline := time.Now().Add(5 * time.Second)
	for {
		o.mu.Lock()
		n := len(o.lost)
		o.mu.Unlock()
		if n == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the owner was not told its endpoint died")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if r.Count() != 0 {
		t.Errorf("registry still holds %d endpoints", r.Count())
	}
	if _, err := r.Publish(context.Background(), o, Policy{}, "127.0.0.1", 0); err != nil {
		t.Errorf("publishing again after the loss: %v", err)
	}
	r.UnpublishAll(o)
}
