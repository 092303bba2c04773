// Copyright 2026 The Tubegate Authors. Patch to golang.org/x/crypto/ssh;
// see third_party/patches/x-crypto-0010-channel-data-written-from-its-packet.patch.

package ssh

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"io"
	"net"
	"testing"
)

// TestFreshPacketLendsOnlyLargeData checks which packets freshPacket puts
// in a lent buffer: channel data of three quarters of a pooled buffer or
// more, nothing else.
func TestFreshPacketLendsOnlyLargeData(t *testing.T) {
	for _, c := range []struct {
		kind byte
		n    int
		lent bool
	}{
		{msgChannelData, 100, false},
		{msgChannelData, 16<<10 + 9, false}, // OpenSSH's usual read size
		{msgChannelData, minLentPacket - 1, false},
		{msgChannelData, minLentPacket, true},
		{msgChannelData, channelMaxPacket + 9, true},
		{msgChannelExtendedData, channelMaxPacket + 13, true},
		{msgChannelData, pooledPacketBuf - 1, true}, // the lent form fills the buffer
		{msgChannelData, pooledPacketBuf, false},    // no room for the lent form's first byte
		{msgChannelData, pooledPacketBuf + 1, false},
		{msgGlobalRequest, channelMaxPacket, false},
		{msgGlobalRequest, pooledPacketBuf, false}, // not taken for a lent buffer by its size
	} {
		p := make([]byte, c.n)
		rand.Read(p)
		p[0] = c.kind
		body, lent := lentBody(freshPacket(p))
		if !bytes.Equal(body, p) || (lent != nil) != c.lent {
			t.Errorf("type %d, %d bytes: same bytes %v, lent %v, want lent %v", c.kind, c.n, bytes.Equal(body, p), lent != nil, c.lent)
		}
		if lent != nil && (lent[0] != p[0] || &lent[1] != &body[0]) {
			t.Errorf("type %d, %d bytes: not in the lent form", c.kind, c.n)
		}
	}
}

// TestAEADHandsOverItsBuffer checks that a large channel data packet read
// through AES-GCM or ChaCha20-Poly1305 comes in the buffer it was opened in
// (patch 0013), in the lent form, and that other packets are copied out as
// before.
func TestAEADHandsOverItsBuffer(t *testing.T) {
	t.Run("aes128-gcm", func(t *testing.T) {
		testHandsOverItsBuffer(t, func() packetCipher {
			c, err := newGCMCipher(make([]byte, 16), make([]byte, 12), nil, DirectionAlgorithms{Cipher: CipherAES128GCM})
			if err != nil {
				t.Fatal(err)
			}
			return c
		}, func(c packetCipher) []byte { return c.(*gcmCipher).buf })
	})
	t.Run("chacha20-poly1305", func(t *testing.T) {
		testHandsOverItsBuffer(t, func() packetCipher {
			c, err := newChaCha20Cipher(make([]byte, 64), nil, nil, DirectionAlgorithms{Cipher: CipherChaCha20Poly1305})
			if err != nil {
				t.Fatal(err)
			}
			return c
		}, func(c packetCipher) []byte { return c.(*chacha20Poly1305Cipher).buf })
	})
}

func testHandsOverItsBuffer(t *testing.T, newCipher func() packetCipher, bufOf func(packetCipher) []byte) {
	for _, c := range []struct {
		kind     byte
		n        int
		handed   bool
		lentForm bool
	}{
		{msgChannelData, channelMaxPacket + 9, true, true},
		{msgChannelExtendedData, minLentPacket, true, true},
		{msgChannelData, 1000, false, false},
		{msgGlobalRequest, channelMaxPacket, false, false},
	} {
		w, r := newCipher(), newCipher()
		payload := make([]byte, c.n)
		rand.Read(payload)
		payload[0] = c.kind
		var wire bytes.Buffer
		if err := w.writeCipherPacket(0, &wire, rand.Reader, payload); err != nil {
			t.Fatal(err)
		}
		s := &connectionState{packetCipher: r}
		p, err := s.readPacket(&wire, false)
		if err != nil {
			t.Fatal(err)
		}
		body, lent := lentBody(p)
		if !bytes.Equal(body, payload) || (lent != nil) != c.lentForm {
			t.Errorf("type %d, %d bytes: same bytes %v, lent form %v, want %v", c.kind, c.n, bytes.Equal(body, payload), lent != nil, c.lentForm)
		}
		if handed := bufOf(r) == nil && lent != nil; handed != c.handed {
			t.Errorf("type %d, %d bytes: buffer handed over %v, want %v", c.kind, c.n, handed, c.handed)
		}
	}
}

// TestDetachLentRefuses checks that detachLent hands over only a lent
// buffer holding the packet at its second byte.
func TestDetachLentRefuses(t *testing.T) {
	lent := (*packetBufs.Get().(*[]byte))[:1000]
	if got := detachLent(lent, lent[2:100]); got != nil {
		t.Error("handed over a packet at the buffer's third byte")
	}
	if got := detachLent(make([]byte, 1000), make([]byte, 10)); got != nil {
		t.Error("handed over a buffer that is not lent")
	}
	own := make([]byte, 1000)
	if got := detachLent(own, own[1:100]); got != nil {
		t.Error("handed over a buffer that is not lent")
	}
	lent[1] = msgChannelData
	if got := detachLent(lent, lent[1:100]); got == nil || len(got) != 100 || got[0] != msgChannelData {
		t.Errorf("did not hand over a lent buffer's packet at its second byte: %d bytes", len(got))
	}
}

// TestBufferGivesBackLentPackets checks that Read and writeTo give back a
// lent packet once its data is consumed, not before, and deliver every byte
// in order.
func TestBufferGivesBackLentPackets(t *testing.T) {
	fill := func(b *buffer) (want []byte, elems []*element) {
		for i, n := range []int{10, 20000, 30000, 5, 32768, 26000} {
			p, lent := lentBody(freshPacket(append([]byte{msgChannelData}, make([]byte, n+8)...)))
			data := p[9:]
			for j := range data {
				data[j] = byte(i + j)
			}
			want = append(want, data...)
			if lent != nil {
				b.writeLent(data, lent)
			} else {
				b.write(data)
			}
			elems = append(elems, b.tail)
		}
		b.eof()
		return want, elems
	}
	allGiven := func(elems []*element) error {
		for i, e := range elems {
			if e.lent != nil {
				return errors.New("packet " + string(rune('0'+i)) + " not given back")
			}
		}
		return nil
	}

	b := newBuffer()
	want, elems := fill(b)
	var got []byte
	buf := make([]byte, 7000) // reads that end inside packets
	for {
		n, err := b.Read(buf)
		got = append(got, buf[:n]...)
		if err == io.EOF {
			break
		}
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("Read: %d bytes, not the %d written", len(got), len(want))
	}
	if err := allGiven(elems); err != nil {
		t.Errorf("Read: %v", err)
	}

	b = newBuffer()
	want, elems = fill(b)
	var out bytes.Buffer
	var consumed int
	n, err := b.writeTo(&out, func(n int) error { consumed += n; return nil })
	if err != nil || n != int64(len(want)) || consumed != len(want) || !bytes.Equal(out.Bytes(), want) {
		t.Fatalf("writeTo: %d bytes, %d consumed, err %v; want %d bytes", n, consumed, err, len(want))
	}
	if err := allGiven(elems); err != nil {
		t.Errorf("writeTo: %v", err)
	}
}

type shortWriter struct{}

func (shortWriter) Write(p []byte) (int, error) { return len(p) / 2, nil }

// TestBufferWriteToShortWrite checks that a writer taking less than it was
// given ends writeTo with io.ErrShortWrite, the part taken counted.
func TestBufferWriteToShortWrite(t *testing.T) {
	b := newBuffer()
	b.write(make([]byte, 100))
	var consumed int
	n, err := b.writeTo(shortWriter{}, func(n int) error { consumed += n; return nil })
	if err != io.ErrShortWrite || n != 50 || consumed != 50 {
		t.Fatalf("got %d, %v, %d consumed; want 50, io.ErrShortWrite, 50", n, err, consumed)
	}
}

// TestChannelWriteToCarriesEveryByte sends 8 MiB (four windows) in writes
// of mixed sizes through a real client and server over loopback TCP and reads
// it with io.Copy, which takes the channel's WriteTo: every byte arrives in
// order, and the window is given back (else the transfer would stall).
func TestChannelWriteToCarriesEveryByte(t *testing.T) {
	_, priv, _ := ed25519.GenerateKey(rand.Reader)
	signer, err := NewSignerFromKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	serverConf := &ServerConfig{NoClientAuth: true}
	serverConf.AddHostKey(signer)
	// A loopback TCP pair: both ends send their version first, which
	// net.Pipe (unbuffered) would deadlock.
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

	got := make(chan []byte, 1)
	go func() {
		_, chans, reqs, err := NewServerConn(c1, serverConf)
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
		var out bytes.Buffer
		if _, ok := ch.(io.WriterTo); !ok {
			t.Error("a channel has no WriteTo")
		}
		io.Copy(&out, ch)
		ch.Close()
		got <- out.Bytes()
	}()

	conn, chans, reqs, err := NewClientConn(c2, "pipe", &ClientConfig{HostKeyCallback: InsecureIgnoreHostKey()})
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
	for off, i := 0, 0; off < len(want); i++ {
		n := []int{1, 100, 20000, 40000, 32768, 70000}[i%6]
		n = min(n, len(want)-off)
		if _, err := ch.Write(want[off : off+n]); err != nil {
			t.Fatal(err)
		}
		off += n
	}
	ch.CloseWrite()
	if b := <-got; !bytes.Equal(b, want) {
		t.Fatalf("the server read %d bytes, not the %d sent", len(b), len(want))
	}
}
