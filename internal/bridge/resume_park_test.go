//go:build linux

package bridge

import (
	"log/slog"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/tubegate/tubegate/internal/idlepoll"
	"github.com/tubegate/tubegate/internal/resume"
)

// transportReader is the function of the goroutine that reads a
// resumable tube's WebSocket, at either end.
const transportReader = "resume.(*transportReader).read("

// waitGoroutinesIn waits up to within for the goroutines whose stacks
// hold fn to come down to want, and fails if they do not.
func waitGoroutinesIn(t *testing.T, fn string, want int, within time.Duration, what string) {
	t.Helper()
	deadline := time.Now().Add(within)
	for goroutinesIn(fn) != want {
		if time.Now().After(deadline) {
			t.Fatalf("%s: %d goroutines in %s, want %d", what, goroutinesIn(fn), fn, want)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// resumeHeartbeat is the heartbeat of the resumable tubes' clients here.
const resumeHeartbeat = 3 * time.Second

// newIdleResumableTube opens a resumable tube whose gateway end parks in
// a poller of its own, and waits for it to be idle: the client's two
// readers alone read (its end has no poller). It returns the poller, the
// tube and the gateway's end of its SSH connection.
func newIdleResumableTube(t *testing.T) (*idlepoll.Poller, *parkedTube, *ssh.ServerConn) {
	t.Helper()
	poll, err := idlepoll.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { poll.Close() })
	rs := resume.NewServer(resume.ServerConfig{Window: time.Minute, Log: slog.New(slog.NewTextHandler(t.Output(), nil))})
	waitReaders(t, 0, "before")
	pt := newParkingTube(t, poll, rs, resumeHeartbeat)
	sc := <-pt.server
	waitIdleResumable(t)
	return poll, pt, sc
}

// waitIdleResumable waits for the gateway's two readers of a resumable
// tube to park, leaving the client's.
func waitIdleResumable(t *testing.T) {
	t.Helper()
	waitGoroutinesIn(t, "ssh.(*handshakeTransport).readFrom(", 1, 3*resumeHeartbeat, "idle: the client's SSH reader alone")
	waitGoroutinesIn(t, transportReader, 1, 3*resumeHeartbeat, "idle: the client's WebSocket reader alone")
}

// waitGone waits for the tube's readers at both ends to end, and checks
// its socket left the poller.
func waitGone(t *testing.T, poll *idlepoll.Poller) {
	t.Helper()
	waitGoroutinesIn(t, transportReader, 0, 10*time.Second, "after")
	waitReaders(t, 0, "after")
	if poll.Watched() != 0 {
		t.Errorf("the poller still watches %d sockets", poll.Watched())
	}
}

// TestIdleResumableTubeParksItsReaders: at the gateway's end of an idle
// resumable tube, both readers let go of their goroutines: x/crypto's
// reader of the session, and the session's reader of the WebSocket
// (between the client's heartbeats, which wake it). The tube carries on
// from either end, time and again, and ends when its client closes it.
func TestIdleResumableTubeParksItsReaders(t *testing.T) {
	poll, pt, sc := newIdleResumableTube(t)
	for round := range 3 {
		if round%2 == 0 {
			pt.echo(t, strings.Repeat("parked, then woken ", 5000))
		} else if _, _, err := sc.SendRequest("keepalive@openssh.com", true, nil); err != nil {
			t.Fatalf("the gateway's request while its readers were parked: %v", err)
		}
		waitIdleResumable(t)
	}
	if n := pt.resumes.Load(); n != 0 {
		t.Errorf("the client resumed its tube %d times: its WebSocket was taken for dead while parked", n)
	}
	pt.client.Close()
	select {
	case <-pt.ended:
	case <-time.After(10 * time.Second):
		t.Fatal("the gateway's end of a resumable tube closed by its client while parked never ended")
	}
	waitGone(t, poll)
}

// TestParkedResumableTubeClosedByGateway: a resumable tube the gateway
// closes while both its readers are parked ends at both ends, and its
// socket leaves the poller.
func TestParkedResumableTubeClosedByGateway(t *testing.T) {
	poll, pt, sc := newIdleResumableTube(t)
	sc.Close()
	select {
	case <-pt.ended:
	case <-time.After(10 * time.Second):
		t.Fatal("the gateway's end of a resumable tube it closed while parked never ended")
	}
	pt.client.Wait()
	waitGone(t, poll)
}
