package bridge

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
)

// recordingConn records every Write that reaches it.
type recordingConn struct {
	net.Conn
	mu     sync.Mutex
	writes [][]byte
}

func (c *recordingConn) Write(p []byte) (int, error) {
	c.mu.Lock()
	c.writes = append(c.writes, bytes.Clone(p))
	c.mu.Unlock()
	return c.Conn.Write(p)
}

func (c *recordingConn) snapshot() [][]byte {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([][]byte(nil), c.writes...)
}

// gcm is the cipher the recorded sessions use: its packet length is sent
// in clear, so a test can find the packets in a stream it cannot decrypt.
const gcm = "aes128-gcm@openssh.com"

// cipherSuite is a cipher, and a MAC for a cipher without one of its own,
// whose packet length is sent in clear; tag is the bytes after the packet.
type cipherSuite struct {
	cipher, mac string
	tag         int
}

var (
	gcmSuite = cipherSuite{cipher: gcm, tag: 16}
	ctrSuite = cipherSuite{cipher: "aes128-ctr", mac: "hmac-sha2-256-etm@openssh.com", tag: 32}
)

// sshWrites runs a real x/crypto/ssh server and client over TCP; the
// server sends channel data in sizes around 4 KiB (the transport's write
// buffer) and far larger, and the writes the server's side makes to its
// socket are returned.
func sshWrites(t *testing.T, suite cipherSuite) [][]byte {
	t.Helper()
	sizes := []int{1, 100, 4000, 4096, 4097, 5000, 20000, 32768, 100000}
	total := 0
	for _, n := range sizes {
		total += n
	}
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	hostKey, err := ssh.NewSignerFromKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	srvCfg := &ssh.ServerConfig{NoClientAuth: true}
	srvCfg.Ciphers = []string{suite.cipher}
	srvCfg.AddHostKey(hostKey)
	cliCfg := &ssh.ClientConfig{User: "u", HostKeyCallback: ssh.InsecureIgnoreHostKey(), Timeout: 10 * time.Second}
	cliCfg.Ciphers = []string{suite.cipher}
	if suite.mac != "" {
		srvCfg.MACs = []string{suite.mac}
		cliCfg.MACs = []string{suite.mac}
	}

	// A loopback TCP pair: both sides write their version line before
	// reading, which an unbuffered net.Pipe would deadlock.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	cliSock, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	srvSock, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	rec := &recordingConn{Conn: srvSock}
	served := make(chan error, 1)
	go func() {
		sc, chans, reqs, err := ssh.NewServerConn(rec, srvCfg)
		if err != nil {
			served <- err
			return
		}
		defer sc.Close()
		go ssh.DiscardRequests(reqs)
		nc, ok := <-chans
		if !ok {
			served <- errors.New("no channel")
			return
		}
		ch, creqs, err := nc.Accept()
		if err != nil {
			served <- err
			return
		}
		go ssh.DiscardRequests(creqs)
		for _, n := range sizes {
			if _, err := ch.Write(bytes.Repeat([]byte{'x'}, n)); err != nil {
				served <- err
				return
			}
		}
		served <- ch.CloseWrite()
		io.Copy(io.Discard, ch) // until the client closes
	}()

	cc, chans, reqs, err := ssh.NewClientConn(cliSock, "pipe", cliCfg)
	if err != nil {
		t.Fatalf("ssh handshake: %v", err)
	}
	client := ssh.NewClient(cc, chans, reqs)
	defer client.Close()
	ch, creqs, err := client.OpenChannel("test", nil)
	if err != nil {
		t.Fatal(err)
	}
	go ssh.DiscardRequests(creqs)
	got, err := io.ReadAll(ch)
	if err != nil || len(got) != total {
		t.Fatalf("read %d bytes, %v; want %d", len(got), err, total)
	}
	if err := <-served; err != nil {
		t.Fatalf("server: %v", err)
	}
	ch.Close()
	return rec.snapshot()
}

// packetEnds returns the offsets in stream (after the version line) at
// which SSH packets end: plain packets until the sender's NEWKEYS, then
// packets of suite (length in clear, then that many bytes and a tag).
func packetEnds(t *testing.T, stream []byte, suite cipherSuite) (banner int, ends map[int]bool) {
	t.Helper()
	banner = bytes.Index(stream, []byte("\r\n")) + 2
	if banner < 2 {
		t.Fatal("no version line")
	}
	ends = map[int]bool{banner: true}
	encrypted := false
	for off := banner; off < len(stream); {
		if len(stream)-off < 6 {
			t.Fatalf("stream ends inside a packet header at %d", off)
		}
		n := int(binary.BigEndian.Uint32(stream[off:]))
		end := off + 4 + n
		if encrypted {
			end += suite.tag
		} else if stream[off+5] == 21 { // SSH_MSG_NEWKEYS: what follows is encrypted
			encrypted = true
		}
		if end > len(stream) {
			t.Fatalf("packet at %d runs past the stream", off)
		}
		ends[end] = true
		off = end
	}
	if !encrypted {
		t.Fatal("no NEWKEYS in the stream")
	}
	return banner, ends
}

// TestXCryptoWritesWholePackets pins x/crypto patch 0006: the transport
// writes every packet, whatever its size, as one write of its own, for an
// AEAD cipher and for a stream cipher with a MAC.
func TestXCryptoWritesWholePackets(t *testing.T) {
	for _, suite := range []cipherSuite{gcmSuite, ctrSuite} {
		t.Run(suite.cipher, func(t *testing.T) {
			writes := sshWrites(t, suite)
			banner, ends := packetEnds(t, bytes.Join(writes, nil), suite)
			off, big := 0, 0
			for i, w := range writes {
				start := off
				off += len(w)
				if start < banner {
					continue
				}
				if !ends[start] || !ends[off] {
					t.Fatalf("write %d (%d bytes at %d) is not a whole packet", i, len(w), start)
				}
				for e := start + 1; e < off; e++ {
					if ends[e] {
						t.Fatalf("write %d (%d bytes at %d) holds more than one packet", i, len(w), start)
					}
				}
				if len(w) > 4096 {
					big++
				}
			}
			if big == 0 {
				t.Fatal("no packet larger than a fragment was sent: the test proves nothing")
			}
			t.Logf("%d writes, one whole packet each, %d larger than %d bytes", len(writes), big, 4096)
		})
	}
}
