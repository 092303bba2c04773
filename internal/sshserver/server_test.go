package sshserver

import (
	"bytes"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/tubegate/tubegate/internal/forward"
	"github.com/tubegate/tubegate/internal/users"
)

func TestAuth(t *testing.T) {
	g := startGateway(t, Limits{})
	g.addUser(t, "alice")
	g.addUser(t, "bob")
	g.dial(t, "alice")
	cfg := g.clientConfig("alice")
	cfg.Auth = []ssh.AuthMethod{ssh.PublicKeys(g.keys["bob"])}
	if _, err := ssh.Dial("tcp", g.addr, cfg); err == nil {
		t.Error("alice with bob's key: want auth failure")
	}
	cfg = g.clientConfig("nobody")
	cfg.Auth = []ssh.AuthMethod{ssh.Password("whatever1")}
	if _, err := ssh.Dial("tcp", g.addr, cfg); err == nil {
		t.Error("unknown user: want auth failure")
	}
}

func TestRemoteForwardAllocatesAndCarries(t *testing.T) {
	g := startGateway(t, Limits{})
	g.addUser(t, "alice")
	c := g.dial(t, "alice")
	ln, err := c.Listen("tcp", "127.0.0.1:0") // tcpip-forward with port 0
	if err != nil {
		t.Fatal(err)
	}
	go echo(ln)
	port := ln.Addr().(*net.TCPAddr).Port
	if port == 0 {
		t.Fatal("no port allocated")
	}
	conn, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	echoOnce(t, conn)
	// ssh -J gw -p PORT user@localhost: a direct-tcpip to the published
	// port goes through the owner's tube, for the owner and for users whose
	// permit-open names it; others are refused.
	g.addUser(t, "bob", fmt.Sprintf("localhost:%d", port))
	g.addUser(t, "carol")
	target := fmt.Sprintf("localhost:%d", port)
	for _, who := range []string{"alice", "bob"} {
		cl := c
		if who != "alice" {
			cl = g.dial(t, who)
		}
		conn, err := cl.Dial("tcp", target)
		if err != nil {
			t.Fatalf("%s to %s through the gateway: %v", who, target, err)
		}
		echoOnce(t, conn)
	}
	if _, err := g.dial(t, "carol").Dial("tcp", target); err == nil || !strings.Contains(err.Error(), "administratively prohibited") {
		t.Errorf("carol to %s: err = %v, want administratively prohibited", target, err)
	}
	ln.Close() // cancel-tcpip-forward
	waitFor(t, "port freed after cancel", func() bool {
		c, err := net.DialTimeout("tcp", ln.Addr().String(), 200*time.Millisecond)
		if err == nil {
			c.Close()
		}
		return err != nil
	})
}

func TestVirtualNameAcrossUsers(t *testing.T) {
	g := startGateway(t, Limits{})
	g.addUser(t, "alice")
	g.addUser(t, "bob", "myhost.alice@alice:22")
	g.addUser(t, "carol")
	alice := g.dial(t, "alice")
	ok, reply, err := alice.SendRequest("tcpip-forward", true, ssh.Marshal(forward.ForwardRequest{BindAddr: "myhost.alice", BindPort: 22}))
	if err != nil || !ok {
		t.Fatalf("publish myhost.alice:22: ok=%v err=%v reply=%x", ok, err, reply)
	}
	forwarded := alice.HandleChannelOpen("forwarded-tcpip") // before any can arrive
	go func() {
		for nc := range forwarded {
			var p forward.ForwardedTCPIP
			if ssh.Unmarshal(nc.ExtraData(), &p) != nil || p.Addr != "myhost.alice" || p.Port != 22 {
				nc.Reject(ssh.ConnectionFailed, "unexpected forwarded-tcpip payload")
				continue
			}
			ch, reqs, err := nc.Accept()
			if err != nil {
				continue
			}
			go ssh.DiscardRequests(reqs)
			go func() { io.Copy(ch, ch); ch.Close() }()
		}
	}()
	// The owner and a permitted user reach it; carol is refused.
	for _, who := range []string{"alice", "bob"} {
		client := alice
		if who != "alice" {
			client = g.dial(t, who)
		}
		conn, err := client.Dial("tcp", "myhost.alice:22")
		if err != nil {
			t.Fatalf("%s to myhost.alice:22: %v", who, err)
		}
		echoOnce(t, conn)
	}
	carol := g.dial(t, "carol")
	_, err = carol.Dial("tcp", "myhost.alice:22")
	if err == nil || !strings.Contains(err.Error(), "administratively prohibited") {
		t.Errorf("carol to myhost:22: err = %v, want administratively prohibited", err)
	}
	// Another user cannot claim the name.
	ok, _, err = carol.SendRequest("tcpip-forward", true, ssh.Marshal(forward.ForwardRequest{BindAddr: "myhost.alice", BindPort: 22}))
	if err != nil || ok {
		t.Errorf("carol claiming myhost:22: ok=%v err=%v, want refused", ok, err)
	}
}

func TestDirectTCPIPPolicy(t *testing.T) {
	svc, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer svc.Close()
	go echo(svc)
	g := startGateway(t, Limits{})
	g.addUser(t, "alice", svc.Addr().String())
	g.addUser(t, "bob")
	conn, err := g.dial(t, "alice").Dial("tcp", svc.Addr().String())
	if err != nil {
		t.Fatalf("permitted -L: %v", err)
	}
	echoOnce(t, conn)
	_, err = g.dial(t, "bob").Dial("tcp", svc.Addr().String())
	if err == nil || !strings.Contains(err.Error(), "administratively prohibited") {
		t.Errorf("unpermitted -L: err = %v, want administratively prohibited", err)
	}
	// The policy is read per channel: a user edit applies to a live tube.
	bob := g.dial(t, "bob")
	if err := g.store.Update(func(m map[string]*users.User) error {
		m["bob"].PermitOpen = []string{"127.0.0.1:*"}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	conn, err = bob.Dial("tcp", svc.Addr().String())
	if err != nil {
		t.Fatalf("after permitting bob: %v", err)
	}
	echoOnce(t, conn)
}

func TestSessionPrintsStatus(t *testing.T) {
	g := startGateway(t, Limits{})
	g.addUser(t, "alice")
	c := g.dial(t, "alice")
	if ok, _, err := c.SendRequest("tcpip-forward", true, ssh.Marshal(forward.ForwardRequest{BindAddr: "web.alice", BindPort: 80})); !ok || err != nil {
		t.Fatalf("publish: %v %v", ok, err)
	}
	sess, err := c.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	out, err := sess.Output("")
	if err != nil {
		t.Fatalf("status: %v", err)
	}
	for _, want := range []string{"you are alice", "web.alice:80", "virtual name"} {
		if !bytes.Contains(out, []byte(want)) {
			t.Errorf("status output lacks %q:\n%s", want, out)
		}
	}
	sess, _ = c.NewSession()
	var stderr bytes.Buffer
	sess.Stderr = &stderr
	err = sess.Run("rm -rf /")
	if ee, ok := err.(*ssh.ExitError); !ok || ee.ExitStatus() != 127 || !strings.Contains(stderr.String(), "no shell") {
		t.Errorf("unknown command: err=%v stderr=%q; want exit 127 and an explanation", err, stderr.String())
	}
}

// TestNewLeavesRegistryCaps: the registry's caps are its maker's to set;
// a server handed one does not change them.
func TestNewLeavesRegistryCaps(t *testing.T) {
	hk, store := newDataDir(t)
	reg := forward.NewRegistry(slog.New(slog.DiscardHandler))
	reg.MaxPerOwner, reg.MaxPerUser = 3, 5
	if _, err := New(Config{HostKeys: hk, Users: store, Registry: reg}); err != nil {
		t.Fatal(err)
	}
	if reg.MaxPerOwner != 3 || reg.MaxPerUser != 5 {
		t.Errorf("caps after New: %d per tube, %d per user; want 3 and 5, as set", reg.MaxPerOwner, reg.MaxPerUser)
	}
}
