package bridge

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"os"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
)

// recordingConn records every Write that reaches it.
type recordingConn struct {
	net.Conn
	recorder
}

func (c *recordingConn) Write(p []byte) (int, error) {
	c.recorder.write(p)
	return c.Conn.Write(p)
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
// server sends channel data in sizes around fragmentSize, and the writes
// the server's side makes to its socket (through the coalescer, if
// coalesce) are returned.
func sshWrites(t *testing.T, coalesce bool, suite cipherSuite) [][]byte {
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
	var srvConn net.Conn = rec
	if coalesce {
		// A hold far longer than any scheduling delay: on a loaded
		// machine the rest of a packet can come later than fragmentHold,
		// and this test is about where writes end, not about time.
		cc := CoalescePackets(rec).(*coalescedConn)
		cc.co.hold = time.Minute
		srvConn = cc
	}
	served := make(chan error, 1)
	go func() {
		sc, chans, reqs, err := ssh.NewServerConn(srvConn, srvCfg)
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
			writes := sshWrites(t, false, suite)
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
				if len(w) > fragmentSize {
					big++
				}
			}
			if big == 0 {
				t.Fatal("no packet larger than a fragment was sent: the test proves nothing")
			}
			t.Logf("%d writes, one whole packet each, %d larger than %d bytes", len(writes), big, fragmentSize)
		})
	}
}

// TestCoalescerOneWritePerPacket: through the coalescer, every write of a
// real SSH session is exactly one whole packet.
func TestCoalescerOneWritePerPacket(t *testing.T) {
	writes := sshWrites(t, true, gcmSuite)
	banner, ends := packetEnds(t, bytes.Join(writes, nil), gcmSuite)
	off, big := 0, 0
	for i, w := range writes {
		start := off
		off += len(w)
		if start < banner {
			continue
		}
		if !ends[off] {
			t.Fatalf("write %d (%d bytes at %d) does not end at a packet boundary", i, len(w), start)
		}
		for e := start + 1; e < off; e++ {
			if ends[e] {
				t.Fatalf("write %d (%d bytes at %d) holds more than one packet", i, len(w), start)
			}
		}
		if len(w) > fragmentSize {
			big++
		}
	}
	if big == 0 {
		t.Fatal("no packet larger than a fragment was sent: the test proves nothing")
	}
	t.Logf("%d writes, one packet each, %d larger than %d bytes", len(writes), big, fragmentSize)
}

// stuckConn is a peer that does not read: a large Write blocks until a
// write deadline is set (as if it had passed at once) or the conn closes.
type stuckConn struct {
	net.Conn
	recorder
	mu       sync.Mutex
	deadline chan struct{}
	stuck    chan struct{} // closed when a write is stuck
	closed   bool
}

func newStuckConn() *stuckConn {
	return &stuckConn{deadline: make(chan struct{}), stuck: make(chan struct{})}
}

func (c *stuckConn) Write(p []byte) (int, error) {
	if len(p) > fragmentSize { // the peer takes small writes, then nothing
		close(c.stuck)
		<-c.deadline
		return 0, os.ErrDeadlineExceeded
	}
	return c.recorder.write(p)
}

func (c *stuckConn) SetWriteDeadline(time.Time) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	select {
	case <-c.deadline:
	default:
		close(c.deadline)
	}
	return nil
}

func (c *stuckConn) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.closed = true
	select { // like a socket's, a close ends a write under way
	case <-c.deadline:
	default:
		close(c.deadline)
	}
	return nil
}

// TestCloseFlushesHeldBytes: a fragment held for the rest of its packet is
// sent when the connection closes, before the close, and writes after it
// fail.
func TestCloseFlushesHeldBytes(t *testing.T) {
	conn := &recordingConn{Conn: nopConn{}}
	c := CoalescePackets(conn)
	frag := bytes.Repeat([]byte{7}, fragmentSize)
	if _, err := c.Write(frag); err != nil {
		t.Fatal(err)
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if w := conn.snapshot(); len(w) != 1 || !bytes.Equal(w[0], frag) {
		t.Fatalf("held fragment not sent on Close: %d writes", len(w))
	}
	if _, err := c.Write([]byte("late")); !errors.Is(err, net.ErrClosed) {
		t.Errorf("Write after Close: %v, want net.ErrClosed", err)
	}
}

// TestCloseBoundedByStuckWrite: Close of a connection whose peer does not
// read returns, and closes the connection, instead of waiting for a write
// stuck under way before it can flush.
func TestCloseBoundedByStuckWrite(t *testing.T) {
	sc := newStuckConn()
	c := CoalescePackets(sc)
	c.Write(bytes.Repeat([]byte{1}, fragmentSize)) // held
	wrote := make(chan error, 1)
	go func() { _, err := c.Write(make([]byte, 30000)); wrote <- err }()
	<-sc.stuck
	closed := make(chan error, 1)
	go func() { closed <- c.Close() }()
	select {
	case <-closed:
	case <-time.After(10 * time.Second):
		sc.SetWriteDeadline(time.Now())
		t.Fatal("Close waited for a write stuck on a peer that does not read")
	}
	if err := <-wrote; err == nil {
		t.Error("the stuck write reported success")
	}
	sc.mu.Lock()
	defer sc.mu.Unlock()
	if !sc.closed {
		t.Error("the connection was not closed")
	}
}

// nopConn is a net.Conn that accepts everything.
type nopConn struct{ net.Conn }

func (nopConn) Write(p []byte) (int, error)        { return len(p), nil }
func (nopConn) Close() error                       { return nil }
func (nopConn) SetWriteDeadline(t time.Time) error { return nil }
