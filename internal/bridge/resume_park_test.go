//go:build linux

package bridge

import (
	"log/slog"
	"strings"
	"testing"
	"time"

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

// TestIdleResumableTubeParksItsReaders: at the gateway's end of an idle
// resumable tube, both readers let go of their goroutines: x/crypto's
// reader of the session, and the session's reader of the WebSocket
// (between the client's heartbeats, which wake it). The tube carries on
// from either end, time and again, and ends when its client closes it.
func TestIdleResumableTubeParksItsReaders(t *testing.T) {
	poll, err := idlepoll.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	defer poll.Close()
	rs := resume.NewServer(resume.ServerConfig{Window: time.Minute, Log: slog.New(slog.NewTextHandler(t.Output(), nil))})
	waitReaders(t, 0, "before")
	const heartbeat = 3 * time.Second
	pt := newParkingTube(t, poll, rs, heartbeat)
	sc := <-pt.server
	for round := range 3 {
		// The client's end has no poller: its two readers stay.
		waitGoroutinesIn(t, "ssh.(*handshakeTransport).readFrom(", 1, 3*heartbeat, "idle: the client's SSH reader alone")
		waitGoroutinesIn(t, transportReader, 1, 3*heartbeat, "idle: the client's WebSocket reader alone")
		if round%2 == 0 {
			pt.echo(t, strings.Repeat("parked, then woken ", 5000))
		} else if _, _, err := sc.SendRequest("keepalive@openssh.com", true, nil); err != nil {
			t.Fatalf("the gateway's request while its readers were parked: %v", err)
		}
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
	waitGoroutinesIn(t, transportReader, 0, 10*time.Second, "after")
	waitReaders(t, 0, "after")
	if poll.Watched() != 0 {
		t.Errorf("the poller still watches %d sockets", poll.Watched())
	}
}

// TestParkedResumableTubeClosedByGateway: a resumable tube the gateway
// closes while both its readers are parked ends at both ends, and its
// socket leaves the poller.
func TestParkedResumableTubeClosedByGateway(t *testing.T) {
	poll, err := idlepoll.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	defer poll.Close()
	rs := resume.NewServer(resume.ServerConfig{Window: time.Minute, Log: slog.New(slog.NewTextHandler(t.Output(), nil))})
	waitReaders(t, 0, "before")
	const heartbeat = 3 * time.Second
	pt := newParkingTube(t, poll, rs, heartbeat)
	sc := <-pt.server
	waitGoroutinesIn(t, "ssh.(*handshakeTransport).readFrom(", 1, 3*heartbeat, "idle")
	waitGoroutinesIn(t, transportReader, 1, 3*heartbeat, "idle")
	sc.Close()
	select {
	case <-pt.ended:
	case <-time.After(10 * time.Second):
		t.Fatal("the gateway's end of a resumable tube it closed while parked never ended")
	}
	pt.client.Wait()
	waitGoroutinesIn(t, transportReader, 0, 10*time.Second, "after")
	waitReaders(t, 0, "after")
	if poll.Watched() != 0 {
		t.Errorf("the poller still watches %d sockets", poll.Watched())
	}
}
