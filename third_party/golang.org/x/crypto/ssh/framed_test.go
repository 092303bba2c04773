// Copyright 2026 The Tubegate Authors. Patch to golang.org/x/crypto/ssh;
// see third_party/patches/x-crypto-0015-channel-data-read-into-its-packet.patch.

package ssh

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"io"
	mrand "math/rand/v2"
	"net"
	"testing"
)

// chachaKey has distinct length and content keys, so that one used for
// the other shows.
var chachaKey = func() []byte { k := make([]byte, 64); rand.Read(k); return k }()

// TestFramedPacketsReadBack checks that AES-GCM and ChaCha20-Poly1305 seal
// framed packets of every size class into packets that read back, into the
// cipher's own buffer and into a lending writer's.
func TestFramedPacketsReadBack(t *testing.T) {
	for _, c := range []struct {
		name string
		make func() packetCipher
	}{
		{"aes128-gcm", func() packetCipher {
			c, _ := newGCMCipher(make([]byte, 16), make([]byte, 12), nil, DirectionAlgorithms{Cipher: CipherAES128GCM})
			return c
		}},
		{"chacha20-poly1305", func() packetCipher {
			c, _ := newChaCha20Cipher(chachaKey, nil, nil, DirectionAlgorithms{Cipher: CipherChaCha20Poly1305})
			return c
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			for _, lending := range []bool{false, true} {
				enc, dec := c.make(), c.make()
				var w io.Writer = &bytes.Buffer{}
				if lending {
					w = &lendingWriter{}
				}
				var want [][]byte
				for i, n := range []int{1, 9, 15, 16, 17, 255, 256, 257, 1000, 4000, 5000, channelMaxPacket + 9} {
					buf := make([]byte, framedHead+n+framedTail)
					rand.Read(buf[framedHead : framedHead+n])
					want = append(want, bytes.Clone(buf[framedHead:framedHead+n]))
					if err := enc.(framedSealer).writeFramedPacket(uint32(i), w, rand.Reader, buf, n); err != nil {
						t.Fatal(err)
					}
				}
				var wire []byte
				if lw, ok := w.(*lendingWriter); ok {
					wire = lw.buf
					if lw.copied != 0 {
						t.Errorf("%d packets copied into the lending writer", lw.copied)
					}
				} else {
					wire = w.(*bytes.Buffer).Bytes()
				}
				r := bytes.NewReader(wire)
				for i, p := range want {
					got, err := dec.readCipherPacket(uint32(i), r)
					if err != nil || !bytes.Equal(got, p) {
						t.Fatalf("lending %v, packet %d (%d bytes): %v, same bytes %v", lending, i, len(p), err, bytes.Equal(got, p))
					}
				}
			}
		})
	}
}

// TestChannelReadFromCarriesEveryByte sends 8 MiB through a real client and
// server over loopback TCP with the channel's ReadFrom, from a reader that
// returns mixed sizes, for an AEAD cipher (framed packets) and for one that
// is not (the packets written as before): every byte arrives in order.
func TestChannelReadFromCarriesEveryByte(t *testing.T) {
	for _, cipher := range []string{CipherAES128GCM, CipherChaCha20Poly1305, CipherAES128CTR} {
		t.Run(cipher, func(t *testing.T) {
			want := make([]byte, 8<<20)
			rand.Read(want)
			testChannelReadFrom(t, cipher, want, &mixedReader{b: want, r: mrand.New(mrand.NewPCG(1, 2))})
		})
	}
}

// phasedReader returns its bytes in phases, each of reads that fill
// whatever they are given (bulk) or of 1,000 bytes (a trickle), and
// records the size of each read asked of it and the phase it was in.
type phasedReader struct {
	b      []byte
	phases []int // the bytes of each phase, bulk first, then by turns
	asked  []int
	phase  []int
}

func (m *phasedReader) Read(p []byte) (int, error) {
	if len(m.b) == 0 {
		return 0, io.EOF
	}
	for len(m.phases) > 1 && m.phases[0] == 0 {
		m.phases = m.phases[1:]
	}
	m.asked = append(m.asked, len(p))
	m.phase = append(m.phase, len(m.phases)%2)
	n := min(len(p), len(m.b), m.phases[0])
	if len(m.phases)%2 == 0 { // a trickle
		n = min(n, 1000)
	}
	m.phases[0] -= n
	copy(p, m.b[:n])
	m.b = m.b[n:]
	return n, nil
}

// TestChannelReadFromReadsBulkInLargeReads: a source in bulk is read
// several packets at a time, and one that trickles into a buffer of one
// packet again; every byte arrives, in order.
func TestChannelReadFromReadsBulkInLargeReads(t *testing.T) {
	want := make([]byte, 6<<20)
	rand.Read(want)
	r := &phasedReader{b: want, phases: []int{2 << 20, 100 << 10, 2 << 20, 100 << 10, len(want)}}
	testChannelReadFrom(t, CipherAES128GCM, want, r)
	bulk, large, trickle := 0, 0, 0
	for i, n := range r.asked {
		switch {
		case r.phase[i] == 1 && n > channelMaxPacket:
			large++
			fallthrough
		case r.phase[i] == 1:
			bulk++
		case n > channelMaxPacket && r.phase[i-1] == 0:
			// (The first read of a trickle has the buffer of the bulk
			// before it: the source has not said it slowed down yet.)
			t.Fatalf("read %d, in a trickle, was given %d bytes: more than a packet's", i, n)
		default:
			trickle++
		}
	}
	if large < bulk*3/4 {
		t.Fatalf("%d of %d reads in bulk were given more than a packet's room (%d reads in all)", large, bulk, len(r.asked))
	}
	t.Logf("%d reads in bulk, %d of several packets; %d in trickles", bulk, large, trickle)
	if n := bulkReads.Load(); n != 0 {
		t.Fatalf("%d buffers of several packets still counted as lent after ReadFrom returned", n)
	}
}

// TestChannelReadFromBulkBuffersBounded: once bulkReadsMax buffers of
// several packets are lent, a source in bulk is read a packet at a time.
func TestChannelReadFromBulkBuffersBounded(t *testing.T) {
	bulkReads.Add(bulkReadsMax)
	defer bulkReads.Add(-bulkReadsMax)
	want := make([]byte, 2<<20)
	rand.Read(want)
	r := &phasedReader{b: want, phases: []int{len(want)}}
	testChannelReadFrom(t, CipherAES128GCM, want, r)
	for i, n := range r.asked {
		if n > channelMaxPacket {
			t.Fatalf("read %d was given %d bytes with every buffer of several packets lent", i, n)
		}
	}
	if n := bulkReads.Load(); n != bulkReadsMax {
		t.Fatalf("%d buffers counted as lent, want the %d the test took", n, bulkReadsMax)
	}
}

// mixedReader returns its bytes in reads of random sizes.
type mixedReader struct {
	b []byte
	r *mrand.Rand
}

func (m *mixedReader) Read(p []byte) (int, error) {
	if len(m.b) == 0 {
		return 0, io.EOF
	}
	n := min(len(p), len(m.b), 1+m.r.IntN(70000))
	copy(p, m.b[:n])
	m.b = m.b[n:]
	return n, nil
}

func testChannelReadFrom(t *testing.T, cipher string, want []byte, src io.Reader) {
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
	rf, ok := ch.(io.ReaderFrom)
	if !ok {
		t.Fatal("a channel has no ReadFrom")
	}
	n, err := rf.ReadFrom(src)
	if err != nil || n != int64(len(want)) {
		t.Fatalf("ReadFrom: %d, %v; want %d", n, err, len(want))
	}
	ch.CloseWrite()
	if out := <-got; !bytes.Equal(out, want) {
		t.Fatalf("%d bytes arrived, not the %d sent", len(out), len(want))
	}
}

// padWriter records framed packets and, as a cipher does, writes padding
// after each packet in its buffer.
type padWriter struct{ packets [][]byte }

func (p *padWriter) writeFramedPacket(buf []byte, n int) error {
	p.packets = append(p.packets, bytes.Clone(buf[framedHead:framedHead+n]))
	for i := framedHead + n; i < framedHead+n+19; i++ {
		buf[i] = 0xee
	}
	return nil
}

// TestWritePartKeepsTheRest checks that a read sent in parts (a window
// smaller than the read) goes out whole and in order: each part's header
// goes over the part before it, and the padding written after a part does
// not reach the data still to send.
func TestWritePartKeepsTheRest(t *testing.T) {
	const head = framedHead + 9
	buf := make([]byte, 4096)
	want := make([]byte, 1000)
	rand.Read(want)
	copy(buf[head:], want)
	data := buf[:head+len(want)]
	ch := &channel{remoteId: 7}
	pw := &padWriter{}
	for off, part := 0, 1; off < len(want); off, part = off+part, part*3 {
		part = min(part, len(want)-off)
		if err := ch.writePart(pw, data, head+off, part); err != nil {
			t.Fatal(err)
		}
	}
	var got []byte
	for _, p := range pw.packets {
		if p[0] != msgChannelData || p[4] != 7 || int(p[8])|int(p[7])<<8 != len(p)-9 {
			t.Fatalf("bad header % x", p[:9])
		}
		got = append(got, p[9:]...)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("%d packets carried %d bytes, not the %d read in order", len(pw.packets), len(got), len(want))
	}
}
