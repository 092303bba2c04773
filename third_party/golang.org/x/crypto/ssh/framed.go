// Copyright 2026 The Tubegate Authors. Patch to golang.org/x/crypto/ssh;
// see third_party/patches/x-crypto-0015-channel-data-read-into-its-packet.patch
// and x-crypto-0024-bulk-source-read-several-packets-at-once.patch.

package ssh

import (
	"encoding/binary"
	"errors"
	"io"
	"sync"
	"sync/atomic"

	"golang.org/x/crypto/chacha20"
	"golang.org/x/crypto/internal/poly1305"
)

// A framed packet is a packet built in place with room around it for the
// cipher: buf[0] is room for the padding length, the packet is
// buf[1:1+n], and at least framedTail bytes follow it for the padding. An
// AEAD cipher seals the padding length, the packet and the padding from
// there into its output, so a channel can read its data straight into the
// packet's place (channel.ReadFrom): the data is not copied into a packet
// and the packet not copied into the cipher's buffer.
const (
	framedHead = 1
	framedTail = 32 // more than the padding of AES-GCM (at most 19) and ChaCha20-Poly1305 (11)
)

// framedPacketWriter is a packetConn that can send framed packets.
type framedPacketWriter interface {
	writeFramedPacket(buf []byte, n int) error
}

// framedSealer is a packetCipher that seals framed packets.
type framedSealer interface {
	writeFramedPacket(seqNum uint32, w io.Writer, rand io.Reader, buf []byte, n int) error
}

// ReadFrom sends what it reads from r as channel data, until r's EOF, each
// read into the place of the packet that carries it (see framedHead). A
// read larger than a packet, or than the window allows, goes out in parts:
// each part's header and room go where the part before it was. A read that
// fills its packet's buffer is followed by reads into a buffer of several
// packets (bulkReadPackets), until one comes back short of a packet: a
// source in bulk is read in a quarter of the syscalls. That buffer is kept
// while the source is quiet after a full read; at most bulkReadsMax are
// lent at once, and past them sources are read a packet at a time.
func (ch *channel) ReadFrom(r io.Reader) (total int64, err error) {
	fw, ok := ch.mux.conn.(framedPacketWriter)
	if !ok {
		return io.Copy(writerOnlyChannel{ch}, r)
	}
	const head = framedHead + 9
	part := pooledPacketBuf - head - framedTail
	if int(ch.maxRemotePayload) < part {
		part = int(ch.maxRemotePayload)
	}
	bp, pool := packetBufs.Get().(*[]byte), &packetBufs
	defer func() {
		pool.Put(bp)
		if pool == &bulkReadBufs {
			bulkReads.Add(-1)
		}
	}()
	for {
		if ch.sentEOF {
			return total, io.EOF
		}
		buf := *bp
		max := part
		if pool == &bulkReadBufs {
			max = len(buf) - head - framedTail
		}
		n, rerr := r.Read(buf[head : head+max])
		for off := 0; off < n; {
			space, err := ch.remoteWin.reserve(uint32(min(n-off, part)))
			if err != nil {
				return total, err
			}
			if err := ch.writePart(fw, buf[:head+n], head+off, int(space)); err != nil {
				return total, err
			}
			off += int(space)
			total += int64(space)
		}
		if rerr == io.EOF {
			return total, nil
		}
		if rerr != nil {
			return total, rerr
		}
		switch {
		case pool == &packetBufs && n == max && takeBulkRead():
			pool.Put(bp)
			bp, pool = bulkReadBufs.Get().(*[]byte), &bulkReadBufs
		case pool == &bulkReadBufs && n < part:
			pool.Put(bp)
			bulkReads.Add(-1)
			bp, pool = packetBufs.Get().(*[]byte), &packetBufs
		}
	}
}

// bulkReadPackets is how many full packets channel.ReadFrom reads from its
// source at once while the source is in bulk.
const bulkReadPackets = 4

// bulkReadBufs lends channel.ReadFrom its buffers of bulkReadPackets
// packets.
var bulkReadBufs = sync.Pool{New: func() any {
	b := make([]byte, bulkReadPackets*channelMaxPacket+framedHead+9+framedTail)
	return &b
}}

// bulkReadsMax bounds the buffers of bulkReadBufs lent at once in the
// process. A source read in bulk keeps its buffer while it waits for its
// next bytes, and whoever can connect to a published port can leave one
// waiting so: past the bound a source is read a packet at a time, as
// before (a buffer of one packet, what any connection holds).
const bulkReadsMax = 256

// bulkReads counts the buffers of bulkReadBufs lent.
var bulkReads atomic.Int32

// takeBulkRead counts one more buffer of bulkReadBufs lent, if the bound
// allows it.
func takeBulkRead() bool {
	if bulkReads.Add(1) <= bulkReadsMax {
		return true
	}
	bulkReads.Add(-1)
	return false
}

// writePart sends data[at:at+n] as one framed data packet, its header and
// room written just before it. The padding the cipher writes after it
// would overwrite the data still to send, so those bytes are kept aside
// and put back.
func (ch *channel) writePart(fw framedPacketWriter, data []byte, at, n int) error {
	frame := data[at-framedHead-9 : cap(data)]
	frame[framedHead] = msgChannelData
	binary.BigEndian.PutUint32(frame[framedHead+1:], ch.remoteId)
	binary.BigEndian.PutUint32(frame[framedHead+5:], uint32(n))
	var kept [framedTail]byte
	rest := copy(kept[:], data[at+n:])
	err := ch.writeFramed(fw, frame, 9+n)
	copy(data[at+n:], kept[:rest])
	return err
}

// writerOnlyChannel hides ReadFrom from io.Copy.
type writerOnlyChannel struct{ ch *channel }

func (w writerOnlyChannel) Write(p []byte) (int, error) { return w.ch.Write(p) }

// writeFramed is writePacket for a framed packet of n bytes in buf.
func (ch *channel) writeFramed(fw framedPacketWriter, buf []byte, n int) error {
	ch.writeMu.Lock()
	defer ch.writeMu.Unlock()
	if ch.sentClose {
		return io.EOF
	}
	return fw.writeFramedPacket(buf, n)
}

// ReadFrom sends what it reads from r as the channel's data (see
// channel.ReadFrom).
func (t *chanConn) ReadFrom(r io.Reader) (int64, error) {
	if rf, ok := t.Channel.(io.ReaderFrom); ok {
		return rf.ReadFrom(r)
	}
	return io.Copy(struct{ io.Writer }{t.Channel}, r)
}

// writeFramedPacket is writePacket for a framed packet (see framedHead).
func (t *handshakeTransport) writeFramedPacket(buf []byte, n int) error {
	return t.writePacketOrFramed(buf[framedHead:framedHead+n], buf)
}

// pushFramed sends a framed packet through the transport, as pushPacket.
func (t *handshakeTransport) pushFramed(framed []byte, n int) error {
	if fw, ok := t.conn.(framedPacketWriter); ok && !debugHandshake {
		return fw.writeFramedPacket(framed, n)
	}
	return t.pushPacket(framed[framedHead : framedHead+n])
}

// writeFramedPacket seals a framed packet with an AEAD cipher, or writes
// it as a packet with any other.
func (t *transport) writeFramedPacket(buf []byte, n int) error {
	fs, ok := t.writer.packetCipher.(framedSealer)
	if !ok || debugTransport {
		return t.writePacket(buf[framedHead : framedHead+n])
	}
	var w flushWriter
	if pw, ok := t.bufWriter.w.(packetBufferWriter); ok {
		w = directWriter{pw}
	} else {
		bw := t.bufWriter.get()
		defer t.bufWriter.put(bw)
		w = bw
	}
	s := &t.writer
	if err := fs.writeFramedPacket(s.seqNum, w, t.rand, buf, n); err != nil {
		return err
	}
	if err := w.Flush(); err != nil {
		return err
	}
	s.seqNum++
	return nil
}

var errFramedRoom = errors.New("ssh: no room around a framed packet")

// writeFramedPacket seals buf's padding length, packet and padding into
// the writer's buffer or the cipher's own, and writes the packet once.
func (c *gcmCipher) writeFramedPacket(seqNum uint32, w io.Writer, rand io.Reader, buf []byte, n int) error {
	padding := byte(packetSizeMultiple - (1+n)%packetSizeMultiple)
	if padding < 4 {
		padding += packetSizeMultiple
	}
	length := uint32(n + int(padding) + 1)
	if int(length) > len(buf) {
		return errFramedRoom
	}
	body := buf[:length]
	body[0] = padding
	if _, err := io.ReadFull(rand, body[1+n:]); err != nil {
		return err
	}
	binary.BigEndian.PutUint32(c.prefix[:], length)

	size := 4 + int(length) + gcmTagSize
	out := writerBuffer(w, size)
	if out == nil {
		c.buf = packetBuf(c.buf, size)
		defer c.releaseBuf()
		out = c.buf
	}
	copy(out, c.prefix[:])
	c.aead.Seal(out[4:4], c.iv, body, c.prefix[:])
	if _, err := w.Write(out); err != nil {
		return err
	}
	c.incIV()
	return nil
}

// writeFramedPacket seals buf's padding length, packet and padding into
// the writer's buffer or the cipher's own, and writes the packet once.
func (c *chacha20Poly1305Cipher) writeFramedPacket(seqNum uint32, w io.Writer, rand io.Reader, buf []byte, n int) error {
	const packetSizeMultiple = 8
	padding := packetSizeMultiple - (1+n)%packetSizeMultiple
	if padding < 4 {
		padding += packetSizeMultiple
	}
	length := 1 + n + padding
	if length > len(buf) {
		return errFramedRoom
	}
	body := buf[:length]
	body[0] = byte(padding)
	if _, err := io.ReadFull(rand, body[1+n:]); err != nil {
		return err
	}

	nonce := make([]byte, 12)
	binary.BigEndian.PutUint32(nonce[8:], seqNum)
	s, err := chacha20.NewUnauthenticatedCipher(c.contentKey[:], nonce)
	if err != nil {
		return err
	}
	var polyKey, discardBuf [32]byte
	s.XORKeyStream(polyKey[:], polyKey[:])
	s.XORKeyStream(discardBuf[:], discardBuf[:]) // skip the next 32 bytes

	size := 4 + length + poly1305.TagSize
	out := writerBuffer(w, size)
	if out == nil {
		c.buf = packetBuf(c.buf, size)
		defer c.releaseBuf()
		out = c.buf
	}
	binary.BigEndian.PutUint32(out, uint32(length))
	ls, err := chacha20.NewUnauthenticatedCipher(c.lengthKey[:], nonce)
	if err != nil {
		giveBack(w, out)
		return err
	}
	ls.XORKeyStream(out, out[:4])
	c.xorContent(s, nonce, out[4:4+length], body) // out has the tag's room after: see xorContent
	var mac [poly1305.TagSize]byte
	poly1305.Sum(&mac, out[:4+length], &polyKey)
	copy(out[4+length:], mac[:])
	if _, err := w.Write(out); err != nil {
		return err
	}
	return nil
}
