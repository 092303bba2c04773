package sshbench

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"fmt"
	"io"
	"testing"

	"golang.org/x/crypto/ssh"
)

// pair is an SSH client connection and the server side's first channel,
// both in this process over net.Pipe, with one cipher.
type pair struct {
	client ssh.Conn
	server ssh.Conn
	ch     ssh.Channel // the client's end
	peer   ssh.Channel // the server's end
}

func newPair(tb testing.TB, cipher string) *pair {
	tb.Helper()
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		tb.Fatalf("host key: %v", err)
	}
	signer, err := ssh.NewSignerFromKey(priv)
	if err != nil {
		tb.Fatalf("host signer: %v", err)
	}
	scfg := &ssh.ServerConfig{NoClientAuth: true}
	scfg.Ciphers = []string{cipher}
	scfg.AddHostKey(signer)
	ccfg := &ssh.ClientConfig{User: "bench", HostKeyCallback: ssh.InsecureIgnoreHostKey()}
	ccfg.Ciphers = []string{cipher}

	c1, c2 := bufPipe()
	type served struct {
		conn ssh.Conn
		ch   ssh.Channel
		err  error
	}
	done := make(chan served, 1)
	go func() {
		conn, chans, reqs, err := ssh.NewServerConn(c2, scfg)
		if err != nil {
			done <- served{err: fmt.Errorf("server handshake: %w", err)}
			return
		}
		go ssh.DiscardRequests(reqs)
		nc := <-chans
		ch, creqs, err := nc.Accept()
		if err != nil {
			done <- served{err: fmt.Errorf("accept channel: %w", err)}
			return
		}
		go ssh.DiscardRequests(creqs)
		done <- served{conn: conn, ch: ch}
	}()
	conn, _, reqs, err := ssh.NewClientConn(c1, "pipe", ccfg)
	if err != nil {
		tb.Fatalf("client handshake: %v", err)
	}
	go ssh.DiscardRequests(reqs)
	ch, creqs, err := conn.OpenChannel("bench", nil)
	if err != nil {
		tb.Fatalf("open channel: %v", err)
	}
	go ssh.DiscardRequests(creqs)
	s := <-done
	if s.err != nil {
		tb.Fatal(s.err)
	}
	p := &pair{client: conn, server: s.conn, ch: ch, peer: s.ch}
	tb.Cleanup(func() {
		p.client.Close()
		p.server.Close()
	})
	return p
}

// copyThrough writes n bytes of data, in writes of len(data), into the
// client's channel and reads them from the server's, returning what was read.
func (p *pair) copyThrough(data []byte, n int, keep bool) ([]byte, error) {
	errc := make(chan error, 1)
	go func() {
		for sent := 0; sent < n; sent += len(data) {
			if _, err := p.ch.Write(data); err != nil {
				errc <- fmt.Errorf("write: %w", err)
				return
			}
		}
		errc <- nil
	}()
	var got bytes.Buffer
	var sink io.Writer = io.Discard
	if keep {
		sink = &got
	}
	if _, err := io.CopyN(sink, p.peer, int64(n)); err != nil {
		return nil, fmt.Errorf("read: %w", err)
	}
	if err := <-errc; err != nil {
		return nil, err
	}
	return got.Bytes(), nil
}

var ciphers = []string{"chacha20-poly1305@openssh.com", "aes128-gcm@openssh.com"}

// TestCopyThrough checks that the benchmark's path carries bytes unchanged.
func TestCopyThrough(t *testing.T) {
	for _, cipher := range ciphers {
		p := newPair(t, cipher)
		data := make([]byte, 32*1024)
		if _, err := rand.Read(data); err != nil {
			t.Fatal(err)
		}
		got, err := p.copyThrough(data, 4*len(data), true)
		if err != nil {
			t.Fatalf("%s: %v", cipher, err)
		}
		for i := 0; i < 4; i++ {
			if !bytes.Equal(got[i*len(data):(i+1)*len(data)], data) {
				t.Fatalf("%s: write %d arrived changed", cipher, i)
			}
		}
	}
}

// BenchmarkChannel measures bytes through one channel, each byte encrypted
// and MACed by the client and checked and decrypted by the server, both in
// this process (so each MB/s costs both ends' work), in writes of 32 KiB.
func BenchmarkChannel(b *testing.B) {
	for _, cipher := range ciphers {
		b.Run(cipher, func(b *testing.B) {
			p := newPair(b, cipher)
			data := make([]byte, 32*1024)
			b.SetBytes(int64(len(data)))
			b.ResetTimer()
			if _, err := p.copyThrough(data, b.N*len(data), false); err != nil {
				b.Fatal(err)
			}
		})
	}
}
