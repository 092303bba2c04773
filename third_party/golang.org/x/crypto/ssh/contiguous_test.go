// Copyright 2026 The Tubegate Authors. Patch to golang.org/x/crypto/ssh;
// see third_party/patches/x-crypto-0017-packet-opened-where-it-was-received.patch.

package ssh

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"io"
	mrand "math/rand/v2"
	"net"
	"sync"
	"testing"
)

// messageConn is a connection that receives in messages of random sizes
// (as a WebSocket tube does) and keeps them: Read copies out of them, and
// ReadContiguous returns the bytes in place where they lie whole in the
// first one. The bytes it returned are overwritten at its next read, so a
// reader that used them after that would see garbage.
type messageConn struct {
	net.Conn
	mu       sync.Mutex
	cond     *sync.Cond
	msgs     [][]byte
	err      error
	returned []byte // what ReadContiguous returned last
	hits     int    // ReadContiguous calls that returned bytes
	misses   int    // ... that returned nil (not whole in one message)
}

func newMessageConn(c net.Conn, seed uint64) *messageConn {
	m := &messageConn{Conn: c}
	m.cond = sync.NewCond(&m.mu)
	go func() {
		r := mrand.New(mrand.NewPCG(seed, 7))
		for {
			buf := make([]byte, 1+r.IntN(100<<10))
			n, err := c.Read(buf)
			m.mu.Lock()
			if n > 0 {
				m.msgs = append(m.msgs, buf[:n])
			}
			if err != nil {
				m.err = err
			}
			m.cond.Broadcast()
			m.mu.Unlock()
			if err != nil {
				return
			}
		}
	}()
	return m
}

// waitLocked scribbles over what ReadContiguous returned last and waits
// for a message; m.mu is held.
func (m *messageConn) waitLocked() error {
	for i := range m.returned {
		m.returned[i] = 0xaa
	}
	m.returned = nil
	for len(m.msgs) == 0 && m.err == nil {
		m.cond.Wait()
	}
	if len(m.msgs) == 0 {
		return m.err
	}
	return nil
}

func (m *messageConn) Read(p []byte) (int, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.waitLocked(); err != nil {
		return 0, err
	}
	n := copy(p, m.msgs[0])
	if m.msgs[0] = m.msgs[0][n:]; len(m.msgs[0]) == 0 {
		m.msgs = m.msgs[1:]
	}
	return n, nil
}

func (m *messageConn) ReadContiguous(n int) ([]byte, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.waitLocked(); err != nil {
		return nil, err
	}
	if len(m.msgs[0]) < n {
		m.misses++
		return nil, nil
	}
	m.hits++
	b := m.msgs[0][:n:n]
	if m.msgs[0] = m.msgs[0][n:]; len(m.msgs[0]) == 0 {
		m.msgs = m.msgs[1:]
	}
	m.returned = b
	return b, nil
}

// TestPacketsOpenedWhereReceived: over a connection that keeps what it
// receives in messages, 8 MiB of channel data arrive whole with each
// cipher: the AEAD ciphers open packets in place where they lie whole in a
// message (and read the others, split across messages, as before), and
// never use those bytes after the connection's next read (it overwrites
// them). The other ciphers read it without a buffer of the transport's own.
func TestPacketsOpenedWhereReceived(t *testing.T) {
	for _, cipher := range []string{CipherAES128GCM, CipherChaCha20Poly1305, CipherAES128CTR} {
		t.Run(cipher, func(t *testing.T) {
			hits, misses := testOpenedWhereReceived(t, cipher)
			aead := cipher != CipherAES128CTR
			if aead && (hits == 0 || misses == 0) {
				t.Errorf("%d packets opened in place, %d read across messages: want both", hits, misses)
			}
			t.Logf("%d packets opened in place, %d read across messages", hits, misses)
		})
	}
}

func testOpenedWhereReceived(t *testing.T, cipher string) (hits, misses int) {
	_, priv, _ := ed25519.GenerateKey(rand.Reader)
	signer, err := NewSignerFromKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	serverConf := &ServerConfig{NoClientAuth: true}
	serverConf.AddHostKey(signer)
	serverConf.Ciphers = []string{cipher}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	c2, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	c1, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer c1.Close()
	mc := newMessageConn(c1, 1)

	got := make(chan []byte, 1)
	go func() {
		_, chans, reqs, err := NewServerConn(mc, serverConf)
		if err != nil {
			got <- nil
			return
		}
		go DiscardRequests(reqs)
		nc := <-chans
		ch, creqs, err := nc.Accept()
		if err != nil {
			got <- nil
			return
		}
		go DiscardRequests(creqs)
		out, _ := io.ReadAll(ch)
		ch.Close()
		got <- out
	}()

	conn, chans, reqs, err := NewClientConn(c2, "", &ClientConfig{
		HostKeyCallback: InsecureIgnoreHostKey(),
		Config:          Config{Ciphers: []string{cipher}},
	})
	if err != nil {
		t.Fatal(err)
	}
	client := NewClient(conn, chans, reqs)
	defer client.Close()
	ch, creqs, err := client.OpenChannel("test", nil)
	if err != nil {
		t.Fatal(err)
	}
	go DiscardRequests(creqs)
	want := make([]byte, 8<<20)
	rand.Read(want)
	if _, err := io.Copy(ch, &mixedReader{b: want, r: mrand.New(mrand.NewPCG(3, 4))}); err != nil {
		t.Fatal(err)
	}
	ch.CloseWrite()
	if out := <-got; !bytes.Equal(out, want) {
		t.Fatalf("%d bytes arrived, not the %d sent", len(out), len(want))
	}
	mc.mu.Lock()
	defer mc.mu.Unlock()
	return mc.hits, mc.misses
}
