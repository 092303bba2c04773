package sshserver

import (
	"context"
	"io"
	"sync/atomic"
	"testing"
	"time"
)

// clientWindow is the channel window an x/crypto client grants: a session
// whose client reads nothing blocks the gateway's writes once this much
// is sent.
const clientWindow = 64 << 15

// TestDeletedUsersTubesShutInParallel: a deleted user's tubes whose
// sessions do not read (so the goodbye cannot be written and each tube
// waits out its tellTimeout) are shut all at once, as Shutdown does, not
// one after another. The waits are held open by the test: all must be
// under way together before any is let go.
func TestDeletedUsersTubesShutInParallel(t *testing.T) {
	const n = 4
	g := startGateway(t, Limits{})
	var written [n]atomic.Int64
	g.srv.cfg.Commands = map[string]CommandFunc{
		"flood": func(ctx context.Context, tb *Tube, args []string, stdout, stderr io.Writer) int {
			i := int(args[0][0] - '0')
			buf := make([]byte, 32<<10)
			for {
				if _, err := stdout.Write(buf); err != nil {
					return 1
				}
				written[i].Add(int64(len(buf)))
			}
		},
	}
	var waiting atomic.Int32
	release := make(chan time.Time)
	g.srv.tellWait = func() <-chan time.Time { waiting.Add(1); return release }
	t.Cleanup(func() { close(release) })
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go g.srv.WatchUsers(ctx)

	g.addUser(t, "alice")
	g.addUser(t, "bob")
	bob := g.dial(t, "bob")
	for i := 0; i < n; i++ {
		sess, err := g.dial(t, "alice").NewSession()
		if err != nil {
			t.Fatal(err)
		}
		if _, err := sess.StdoutPipe(); err != nil { // and never read
			t.Fatal(err)
		}
		if _, err := sess.StderrPipe(); err != nil {
			t.Fatal(err)
		}
		if err := sess.Start("flood " + string(rune('0'+i))); err != nil {
			t.Fatal(err)
		}
	}
	for i := range written {
		waitFor(t, "a session's window filled", func() bool { return written[i].Load() >= clientWindow })
	}

	if err := g.store.Delete("alice"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "every stuck tube of alice waiting for its goodbye at once", func() bool { return waiting.Load() == n })
	for range n {
		release <- time.Now()
	}
	waitFor(t, "alice's tubes closed", func() bool { return g.srv.Tubes() == 1 })
	if _, err := bob.NewSession(); err != nil {
		t.Errorf("bob's tube suffered: %v", err)
	}
}
