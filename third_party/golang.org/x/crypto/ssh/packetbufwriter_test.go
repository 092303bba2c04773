// Copyright 2026 The Tubegate Authors. Patch to golang.org/x/crypto/ssh;
// see third_party/patches/x-crypto-0014-packet-sealed-in-the-writers-buffer.patch.

package ssh

import (
	"bytes"
	"crypto/rand"
	"errors"
	"io"
	"testing"
)

// lendingWriter lends room at the end of what it has received, as the
// gateway's send queue does.
type lendingWriter struct {
	buf     []byte
	lent    []byte // the room lent and not yet written, if any
	inPlace int    // writes that came in the lent room
	copied  int    // writes that were copied
	empty   int    // lent rooms given back unused
}

func (w *lendingWriter) PacketBuffer(n int) []byte {
	if cap(w.buf)-len(w.buf) < n {
		w.buf = append(make([]byte, 0, 2*(len(w.buf)+n)), w.buf...)
	}
	w.lent = w.buf[len(w.buf) : len(w.buf)+n]
	return w.lent
}

func (w *lendingWriter) Write(p []byte) (int, error) {
	lent := w.lent
	w.lent = nil
	switch {
	case lent != nil && len(p) == 0:
		w.empty++
	case lent != nil && &p[0] == &lent[0]:
		w.inPlace++
		w.buf = w.buf[:len(w.buf)+len(p)]
	default:
		w.copied++
		w.buf = append(w.buf, p...)
	}
	return len(p), nil
}

type failingRand struct{}

func (failingRand) Read([]byte) (int, error) { return 0, errors.New("no entropy (test)") }

// TestAEADSealsInTheWritersBuffer checks that AES-GCM and
// ChaCha20-Poly1305 assemble and seal each packet in the room the writer
// lends, that the packets read back, and that the room goes back unused
// when the packet cannot be made.
func TestAEADSealsInTheWritersBuffer(t *testing.T) {
	for _, c := range []struct {
		name string
		make func() packetCipher
	}{
		{"aes128-gcm", func() packetCipher {
			c, _ := newGCMCipher(make([]byte, 16), make([]byte, 12), nil, DirectionAlgorithms{Cipher: CipherAES128GCM})
			return c
		}},
		{"chacha20-poly1305", func() packetCipher {
			c, _ := newChaCha20Cipher(make([]byte, 64), nil, nil, DirectionAlgorithms{Cipher: CipherChaCha20Poly1305})
			return c
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			w := &lendingWriter{}
			enc := c.make()
			var want [][]byte
			for i, n := range []int{10, 1000, channelMaxPacket + 9} {
				p := make([]byte, n)
				rand.Read(p)
				p[0] = msgChannelData
				if err := enc.writeCipherPacket(uint32(i), w, rand.Reader, p); err != nil {
					t.Fatal(err)
				}
				want = append(want, p)
			}
			if w.inPlace != 3 || w.copied != 0 {
				t.Errorf("%d packets sealed in the lent room, %d copied; want 3 and 0", w.inPlace, w.copied)
			}
			dec := c.make()
			r := bytes.NewReader(w.buf)
			for i, p := range want {
				got, err := dec.readCipherPacket(uint32(i), r)
				if err != nil || !bytes.Equal(got, p) {
					t.Fatalf("packet %d: %v, same bytes %v", i, err, bytes.Equal(got, p))
				}
			}
			if err := enc.writeCipherPacket(3, w, failingRand{}, make([]byte, 100)); err == nil {
				t.Fatal("a packet written without padding")
			}
			if w.empty != 1 || w.lent != nil {
				t.Errorf("the lent room was not given back after a failure (%d given back)", w.empty)
			}
		})
	}
}

// TestTransportWritesStraightToALendingConn checks that a transport over
// a connection that lends buffers writes each packet into it, without the
// bufio.Writer, and that the packets read back.
func TestTransportWritesStraightToALendingConn(t *testing.T) {
	w := &lendingWriter{}
	trans := newTransport(struct {
		io.Reader
		*lendingWriter
		io.Closer
	}{bytes.NewReader(nil), w, io.NopCloser(nil)}, rand.Reader, true)
	cipher, _ := newGCMCipher(make([]byte, 16), make([]byte, 12), nil, DirectionAlgorithms{Cipher: CipherAES128GCM})
	trans.writer.packetCipher = cipher
	p := make([]byte, 5000)
	p[0] = msgChannelData
	if err := trans.writePacket(p); err != nil {
		t.Fatal(err)
	}
	if w.inPlace != 1 || w.copied != 0 {
		t.Errorf("%d packets written in the lent room, %d copied; want 1 and 0", w.inPlace, w.copied)
	}
}
