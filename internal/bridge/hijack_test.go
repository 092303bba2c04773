//go:build !js

package bridge

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"
	"time"

	"github.com/coder/websocket"
)

// writeLogConn records the Write calls the WebSocket makes on the
// connection: what reaches the socket, one system call each.
type writeLogConn struct {
	net.Conn // the rest of net.Conn, unused
	writes   []int
	out      bytes.Buffer
}

func (c *writeLogConn) Write(p []byte) (int, error) {
	c.writes = append(c.writes, len(p))
	return c.out.Write(p)
}

func (c *writeLogConn) Close() error { return nil }

// hijackRecorder is a ResponseWriter whose Hijack gives a writeLogConn
// with buffers as net/http's Hijack makes them (4 KiB each).
type hijackRecorder struct {
	*httptest.ResponseRecorder
	conn *writeLogConn
}

func (h hijackRecorder) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	return h.conn, bufio.NewReadWriter(bufio.NewReader(h.conn), bufio.NewWriter(h.conn)), nil
}

func upgradeRequest() *http.Request {
	r := httptest.NewRequest(http.MethodGet, "/ssh", nil)
	r.Header.Set("Connection", "Upgrade")
	r.Header.Set("Upgrade", "websocket")
	r.Header.Set("Sec-WebSocket-Version", "13")
	r.Header.Set("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ==")
	return r
}

// writesOf sends one binary message of n bytes through a WebSocket
// accepted on w, and returns the Write calls its connection saw.
func writesOf(t *testing.T, lean bool, n int) ([]int, []byte) {
	t.Helper()
	rec := hijackRecorder{httptest.NewRecorder(), &writeLogConn{}}
	var w http.ResponseWriter = rec
	if lean {
		w = leanHijack(rec)
	}
	ws, err := websocket.Accept(w, upgradeRequest(), &websocket.AcceptOptions{CompressionMode: websocket.CompressionDisabled})
	if err != nil {
		t.Fatal(err)
	}
	msg := make([]byte, n)
	for i := range msg {
		msg[i] = byte(i * 7)
	}
	for range 2 { // the second after the first has flushed
		if err := ws.Write(context.Background(), websocket.MessageBinary, msg); err != nil {
			t.Fatal(err)
		}
	}
	return rec.conn.writes, rec.conn.out.Bytes()
}

// TestLeanHijackWritesAsNetHTTP: with the small buffers of leanHijack, a
// message reaches the connection in the same writes (one for a message of
// up to 4 KiB with its header, where TCP_NODELAY sends each write at once)
// and the same bytes as with net/http's 4 KiB bufio.Writer.
func TestLeanHijackWritesAsNetHTTP(t *testing.T) {
	for _, n := range []int{0, 1, 5, 14, 100, 125, 126, 200, 4000, 4086, 4090, 4096, 5000, 32 << 10, 65535, 65536, 200 << 10} {
		stockWrites, stockBytes := writesOf(t, false, n)
		leanWrites, leanBytes := writesOf(t, true, n)
		if !slices.Equal(leanWrites, stockWrites) {
			t.Errorf("a message of %d bytes: writes %v, want %v as with net/http's buffers", n, leanWrites, stockWrites)
		}
		if !bytes.Equal(leanBytes, stockBytes) {
			t.Errorf("a message of %d bytes: the connection saw other bytes than with net/http's buffers", n)
		}
		if n <= 4086 && len(leanWrites) != 2 {
			t.Errorf("two messages of %d bytes: writes %v, want one each", n, leanWrites)
		}
	}
}

// frame returns a WebSocket frame: header (masked with key when key is
// not nil) and payload.
func frame(fin bool, opcode byte, payload []byte, key []byte) []byte {
	b0 := opcode
	if fin {
		b0 |= 0x80
	}
	var mask byte
	if key != nil {
		mask = 0x80
	}
	h := []byte{b0}
	switch n := len(payload); {
	case n > 65535:
		h = append(h, mask|127)
		h = binary.BigEndian.AppendUint64(h, uint64(n))
	case n > 125:
		h = append(h, mask|126)
		h = binary.BigEndian.AppendUint16(h, uint16(n))
	default:
		h = append(h, mask|byte(n))
	}
	if key == nil {
		return append(h, payload...)
	}
	h = append(h, key...)
	for i, c := range payload {
		h = append(h, c^key[i%4])
	}
	return h
}

// TestFrameTailFindsFinalFrameEnds: fed a stream of frames in pieces cut
// anywhere, frameTail reports the end of a piece exactly where a frame
// with FIN set ends.
func TestFrameTailFindsFinalFrameEnds(t *testing.T) {
	var stream []byte
	ends := map[int]bool{} // offsets where a final frame ends
	for i, c := range []struct {
		fin  bool
		n    int
		mask bool
	}{{true, 0, false}, {false, 3, false}, {true, 125, true}, {true, 126, false}, {false, 300, true}, {true, 70000, false}, {true, 1, true}} {
		var key []byte
		if c.mask {
			key = []byte{1, 2, 3, byte(i)}
		}
		stream = append(stream, frame(c.fin, 2, bytes.Repeat([]byte{byte(i)}, c.n), key)...)
		ends[len(stream)] = c.fin
	}
	for _, piece := range []int{1, 2, 3, 7, 13, 100, 4096, len(stream)} {
		var tail frameTail
		for off := 0; off < len(stream); off += piece {
			end := min(off+piece, len(stream))
			if got := tail.advance(stream[off:end]); got != ends[end] {
				t.Fatalf("pieces of %d: at %d advance says %v, want %v", piece, end, got, ends[end])
			}
		}
	}
}

// TestLeanHijackKeepsBytesPastRequest: a client that sends its first
// message in the same packet as the upgrade request (net/http reads both
// at once) has it read, small or larger than the reader's own buffer.
func TestLeanHijackKeepsBytesPastRequest(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := Accept(w, r)
		if err != nil {
			return
		}
		defer c.Close()
		buf := make([]byte, 8192)
		n, err := io.ReadAtLeast(c, buf, 1)
		if err != nil {
			return
		}
		c.Write(buf[:n])
		time.Sleep(100 * time.Millisecond) // the queued message out before the close
	}))
	defer srv.Close()
	for _, n := range []int{5, readBufSize, 3000} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			c, err := net.Dial("tcp", srv.Listener.Addr().String())
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			c.SetDeadline(time.Now().Add(5 * time.Second))
			msg := bytes.Repeat([]byte("x"), n)
			req := "GET / HTTP/1.1\r\nHost: " + srv.Listener.Addr().String() + "\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n" +
				"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n"
			if _, err := c.Write(append([]byte(req), frame(true, 2, msg, []byte{9, 8, 7, 6})...)); err != nil {
				t.Fatal(err)
			}
			br := bufio.NewReader(c)
			resp, err := http.ReadResponse(br, nil)
			if err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode != http.StatusSwitchingProtocols {
				t.Fatalf("status %s", resp.Status)
			}
			want := frame(true, 2, msg, nil)
			got := make([]byte, len(want))
			if _, err := io.ReadFull(br, got); err != nil {
				t.Fatalf("echo of a message sent with the request: %v", err)
			}
			if !bytes.Equal(got, want) {
				t.Fatalf("echo %q, want %q", got, want)
			}
		})
	}
}

// passThroughLog is a wrapper over a real socket whose Write passes bytes
// on unchanged (writev.Wrapper), and records the Write calls made on it.
type passThroughLog struct {
	net.Conn
	writes []int
}

func (c *passThroughLog) Write(p []byte) (int, error) {
	c.writes = append(c.writes, len(p))
	return c.Conn.Write(p)
}

func (c *passThroughLog) WriteThrough() net.Conn { return c.Conn }

// TestLeanHijackWritesLargeMessageInOneCall: where the connection is a
// socket beneath pass-through wrappers, a message too large for the 4 KiB
// buffer goes out in one writev of its header and payload (none of its
// bytes through the wrapper's Write), and a small one in one Write, as
// before; the peer reads the same bytes as with net/http's buffers.
func TestLeanHijackWritesLargeMessageInOneCall(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	for _, n := range []int{0, 100, 4086, 4090, 5000, 32 << 10, 65536, 200 << 10} {
		_, stockBytes := writesOf(t, false, n)
		c, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		peer, err := ln.Accept()
		if err != nil {
			t.Fatal(err)
		}
		wrapped := &passThroughLog{Conn: c}
		hj := hijackTo{httptest.NewRecorder(), wrapped} // the response goes to the recorder
		ws, err := websocket.Accept(leanHijack(hj), upgradeRequest(), &websocket.AcceptOptions{CompressionMode: websocket.CompressionDisabled})
		if err != nil {
			t.Fatal(err)
		}
		msg := make([]byte, n)
		for i := range msg {
			msg[i] = byte(i * 7)
		}
		got := make(chan []byte, 1)
		go func() {
			b, _ := io.ReadAll(peer)
			got <- b
		}()
		for range 2 {
			if err := ws.Write(context.Background(), websocket.MessageBinary, msg); err != nil {
				t.Fatal(err)
			}
		}
		writes := slices.Clone(wrapped.writes)
		c.Close()
		b := <-got
		peer.Close()
		if !bytes.Equal(b, stockBytes) {
			t.Errorf("a message of %d bytes: the peer read %d bytes, other than net/http's %d", n, len(b), len(stockBytes))
		}
		switch large := n+4 > writeBufSize; {
		case large && len(writes) != 0:
			t.Errorf("two messages of %d bytes: Write calls %v on the wrapper, want none (one writev each)", n, writes)
		case !large && len(writes) != 2:
			t.Errorf("two messages of %d bytes: Write calls %v, want one each", n, writes)
		}
	}
}

// hijackTo is a ResponseWriter whose Hijack gives conn.
type hijackTo struct {
	*httptest.ResponseRecorder
	conn net.Conn
}

func (h hijackTo) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	return h.conn, bufio.NewReadWriter(bufio.NewReader(h.conn), bufio.NewWriter(h.conn)), nil
}
