//go:build linux

package bridge

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/tubegate/tubegate/internal/idlepoll"
	"github.com/tubegate/tubegate/internal/resume"
)

// parkedTube is an SSH connection over a raw tube whose gateway end parks
// its reader in poll: the server echoes every channel and answers every
// global request; ended reports when the server's connection is done.
type parkedTube struct {
	client  *ssh.Client
	server  chan *ssh.ServerConn
	ended   chan error
	resumes atomic.Int32 // a resumable tube's client resumed it (it lost its WebSocket)
}

func newParkedTube(t *testing.T, poll *idlepoll.Poller) *parkedTube {
	t.Helper()
	return newParkingTube(t, poll, nil, 0)
}

// newParkingTube is newParkedTube over a resumable tube when rs is not nil,
// whose client sends a heartbeat every heartbeat.
func newParkingTube(t *testing.T, poll *idlepoll.Poller, rs *resume.Server, heartbeat time.Duration) *parkedTube {
	t.Helper()
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	signer, err := ssh.NewSignerFromKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	srvCfg := &ssh.ServerConfig{NoClientAuth: true}
	srvCfg.AddHostKey(signer)
	pt := &parkedTube{server: make(chan *ssh.ServerConn, 1), ended: make(chan error, 1)}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := AcceptTube(context.Background(), w, r, TubeOptions{Idle: poll, Resume: rs})
		if err != nil {
			pt.ended <- err
			return
		}
		if c == nil { // a resume: the tube's own server carries on
			pt.resumes.Add(1)
			return
		}
		if lc, ok := c.(*leanConn); ok && lc.c.park == nil {
			t.Error("the tube's socket cannot park")
		}
		go func() {
			sc, chans, reqs, err := ssh.NewServerConn(c, srvCfg)
			if err != nil {
				pt.ended <- err
				return
			}
			pt.server <- sc
			go func() {
				for req := range reqs {
					req.Reply(true, req.Payload)
				}
			}()
			go func() {
				for nc := range chans {
					ch, reqs, err := nc.Accept()
					if err != nil {
						continue
					}
					go ssh.DiscardRequests(reqs)
					go func() { io.Copy(ch, ch); ch.Close() }()
				}
			}()
			pt.ended <- sc.Wait()
		}()
	}))
	t.Cleanup(srv.Close)
	url := "ws" + strings.TrimPrefix(srv.URL, "http") + "/ssh"
	var nc net.Conn
	if rs == nil {
		nc, err = Dial(context.Background(), url, DialOptions{})
	} else {
		nc, err = DialResume(context.Background(), url, DialOptions{}, resume.Options{Heartbeat: heartbeat})
	}
	if err != nil {
		t.Fatal(err)
	}
	cc, chans, reqs, err := ssh.NewClientConn(nc, "tube", &ssh.ClientConfig{HostKeyCallback: ssh.InsecureIgnoreHostKey()})
	if err != nil {
		t.Fatal(err)
	}
	pt.client = ssh.NewClient(cc, chans, reqs)
	t.Cleanup(func() { pt.client.Close() })
	return pt
}

// readers counts the goroutines reading tubes with x/crypto (both ends).
func readers() int { return goroutinesIn("ssh.(*handshakeTransport).readFrom(") }

// goroutinesIn counts the goroutines whose stacks hold fn.
func goroutinesIn(fn string) int {
	buf := make([]byte, 1<<20)
	n := runtime.Stack(buf, true)
	return strings.Count(string(buf[:n]), fn)
}

// waitReaders waits for the tubes' reading goroutines to come down to
// want, and fails if they do not.
func waitReaders(t *testing.T, want int, what string) {
	t.Helper()
	deadline := time.Now().Add(5 * readLinger)
	for readers() != want {
		if time.Now().After(deadline) {
			t.Fatalf("%s: %d goroutines read tubes, want %d", what, readers(), want)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// echo sends msg through a new channel of pt and checks it comes back.
func (pt *parkedTube) echo(t *testing.T, msg string) {
	t.Helper()
	ch, reqs, err := pt.client.OpenChannel("echo", nil)
	if err != nil {
		t.Fatal(err)
	}
	go ssh.DiscardRequests(reqs)
	defer ch.Close()
	if _, err := io.WriteString(ch, msg); err != nil {
		t.Fatal(err)
	}
	ch.CloseWrite()
	got, err := io.ReadAll(ch)
	if err != nil || string(got) != msg {
		t.Fatalf("echo: %q, %v; want %q", got, err, msg)
	}
}

// TestIdleTubeParksItsReader: the gateway end's reader lets go of its
// goroutine once the client has been idle readLinger, and the tube
// carries on as before from either end: the client's channels and data,
// the gateway's own requests (a keepalive's), time and again.
func TestIdleTubeParksItsReader(t *testing.T) {
	poll, err := idlepoll.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	defer poll.Close()
	waitReaders(t, 0, "before")
	pt := newParkedTube(t, poll)
	sc := <-pt.server
	if n := readers(); n != 2 {
		t.Fatalf("%d goroutines read the new tube, want its two ends'", n)
	}
	for round := range 3 {
		waitReaders(t, 1, "idle: the client's reader alone") // the client's end has no poller
		if round%2 == 0 {
			pt.echo(t, strings.Repeat("parked, then woken ", 5000))
		} else {
			// x/crypto's client answers it "no": the answer is what wakes.
			if _, _, err := sc.SendRequest("keepalive@openssh.com", true, nil); err != nil {
				t.Fatalf("the gateway's request while its reader was parked: %v", err)
			}
		}
	}
	if poll.Watched() != 1 {
		t.Errorf("the poller watches %d sockets, want the tube's", poll.Watched())
	}
	waitReaders(t, 1, "idle again")
	pt.client.Close()
	select {
	case <-pt.ended:
	case <-time.After(10 * time.Second):
		t.Fatal("the gateway's end of a tube closed by its client while parked never ended")
	}
	if poll.Watched() != 0 {
		t.Errorf("the poller still watches %d sockets", poll.Watched())
	}
}

// TestParkedTubeClosedByGateway: a tube the gateway closes while its
// reader is parked ends at both ends, and the socket leaves the poller.
func TestParkedTubeClosedByGateway(t *testing.T) {
	poll, err := idlepoll.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	defer poll.Close()
	waitReaders(t, 0, "before")
	pt := newParkedTube(t, poll)
	sc := <-pt.server
	waitReaders(t, 1, "idle")
	sc.Close()
	select {
	case <-pt.ended:
	case <-time.After(10 * time.Second):
		t.Fatal("the gateway's end of a tube it closed while parked never ended")
	}
	if err := pt.client.Wait(); err == nil {
		t.Log("client ended cleanly")
	}
	waitReaders(t, 0, "after")
	if poll.Watched() != 0 {
		t.Errorf("the poller still watches %d sockets", poll.Watched())
	}
}

// TestParkedTubesPollerStops: tubes parked in a poller that stops are
// woken and read the usual way.
func TestParkedTubesPollerStops(t *testing.T) {
	poll, err := idlepoll.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	waitReaders(t, 0, "before")
	pt := newParkedTube(t, poll)
	waitReaders(t, 1, "idle")
	poll.Close()
	waitReaders(t, 2, "woken by the poller's close")
	time.Sleep(2 * readLinger)
	if n := readers(); n != 2 {
		t.Fatalf("%d goroutines read the tube once its poller stopped, want 2 (parked again?)", n)
	}
	pt.echo(t, "still there")
}
