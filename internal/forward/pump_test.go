package forward

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"io"
	"net"
	"testing"

	"golang.org/x/crypto/ssh"
)

// sshChannelPair opens one SSH channel between a client and a server over
// loopback TCP and returns both ends of it.
func sshChannelPair(t *testing.T) (client, server ssh.Channel) {
	t.Helper()
	_, priv, _ := ed25519.GenerateKey(rand.Reader)
	signer, err := ssh.NewSignerFromKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	cfg := &ssh.ServerConfig{NoClientAuth: true}
	cfg.AddHostKey(signer)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan ssh.Channel, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			accepted <- nil
			return
		}
		sc, chans, reqs, err := ssh.NewServerConn(c, cfg)
		if err != nil {
			accepted <- nil
			return
		}
		t.Cleanup(func() { sc.Close() })
		go ssh.DiscardRequests(reqs)
		ch, creqs, err := (<-chans).Accept()
		if err != nil {
			accepted <- nil
			return
		}
		go ssh.DiscardRequests(creqs)
		accepted <- ch
	}()
	cc, err := ssh.Dial("tcp", ln.Addr().String(), &ssh.ClientConfig{HostKeyCallback: ssh.InsecureIgnoreHostKey()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cc.Close() })
	client, creqs, err := cc.OpenChannel("test", nil)
	if err != nil {
		t.Fatal(err)
	}
	go ssh.DiscardRequests(creqs)
	if server = <-accepted; server == nil {
		t.Fatal("the server end did not open")
	}
	return client, server
}

// TestPipeWritesChannelDataFromItsPackets: a counted channel's data goes to
// the far side through the channel's WriteTo (no copy buffer), every byte
// in order and every byte counted, and the far side's answer comes back.
func TestPipeWritesChannelDataFromItsPackets(t *testing.T) {
	client, server := sshChannelPair(t)
	var conns Conns
	counted, ok := conns.Track(ChannelConn(server, Addr{"test", "a"}, Addr{"test", "b"}), false)
	if !ok {
		t.Fatal("Track refused")
	}
	if packetWriterTo(counted) == nil {
		t.Fatal("a counted channel is copied through a buffer, not written from its packets")
	}

	sink, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer sink.Close()
	received := make(chan []byte, 1)
	go func() {
		c, err := sink.Accept()
		if err != nil {
			received <- nil
			return
		}
		got, _ := io.ReadAll(c)
		c.Write([]byte("done"))
		c.Close()
		received <- got
	}()
	far, err := net.Dial("tcp", sink.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	go Pipe(counted, far)

	want := make([]byte, 5<<20)
	rand.Read(want)
	go func() {
		for off, i := 0, 0; off < len(want); i++ {
			n := min([]int{1, 17000, 32768, 90000}[i%4], len(want)-off)
			if _, err := client.Write(want[off : off+n]); err != nil {
				return
			}
			off += n
		}
		client.CloseWrite()
	}()
	if got := <-received; !bytes.Equal(got, want) {
		t.Fatalf("the far side got %d bytes, not the %d sent", len(got), len(want))
	}
	answer, err := io.ReadAll(client)
	if err != nil || string(answer) != "done" {
		t.Fatalf("answer %q, %v; want \"done\"", answer, err)
	}
	if in := conns.Stats.BytesIn.Load(); in != int64(len(want)) {
		t.Errorf("BytesIn = %d, want %d", in, len(want))
	}
	if out := conns.Stats.BytesOut.Load(); out != 4 {
		t.Errorf("BytesOut = %d, want 4", out)
	}
}
