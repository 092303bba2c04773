package resume

import (
	"context"
	"sync"
	"testing"
	"time"
)

// TestResumesAudited: an accepted resume is recorded with the tube's user
// and id, a refused one with its reason and no tube.
func TestResumesAudited(t *testing.T) {
	type rec struct {
		user, source, tube string
		err                error
	}
	var (
		mu   sync.Mutex
		recs []rec
	)
	f := newFixture(t, ServerConfig{Window: time.Minute, Audit: func(user, source, tube string, err error) {
		mu.Lock()
		defer mu.Unlock()
		recs = append(recs, rec{user, source, tube, err})
	}})
	c, s := f.connect(f.opts())
	s.SetIdent("alice", "t7")
	c.Drop()
	waitFor(t, "resumed", c.Attached)
	// The client is attached once it has the WELCOME; the gateway audits
	// the resume once it has attached its end, which may come after.
	waitFor(t, "the resume audited", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(recs) == 1
	})
	a, b := memPair()
	go f.srv.Accept(context.Background(), b, "192.0.2.9", nil, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var forged [TokenSize]byte
	forged[0] = 1
	handshake(ctx, a, hello{resume: true, token: forged, heartbeat: time.Second})
	waitFor(t, "two resumes audited", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(recs) == 2
	})
	mu.Lock()
	defer mu.Unlock()
	if r := recs[0]; r.user != "alice" || r.tube != "t7" || r.err != nil {
		t.Errorf("accepted resume audited as %+v", r)
	}
	if r := recs[1]; r.user != "" || r.tube != "" || r.source != "192.0.2.9" || r.err == nil {
		t.Errorf("forged resume audited as %+v", r)
	}
}
