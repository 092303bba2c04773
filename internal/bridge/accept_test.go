//go:build !js

package bridge

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/tubegate/tubegate/internal/idlepoll"
)

func upgradeRequest() *http.Request {
	r := httptest.NewRequest(http.MethodGet, "/ssh", nil)
	r.Header.Set("Connection", "Upgrade")
	r.Header.Set("Upgrade", "websocket")
	r.Header.Set("Sec-WebSocket-Version", "13")
	r.Header.Set("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ==")
	return r
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

// hijackTo is a ResponseWriter whose Hijack gives conn; the response's
// head goes to the recorder.
type hijackTo struct {
	*httptest.ResponseRecorder
	conn net.Conn
}

func (h hijackTo) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	return h.conn, bufio.NewReadWriter(bufio.NewReader(h.conn), bufio.NewWriter(h.conn)), nil
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

// writeLog records the Write calls made on a connection that is not a
// socket's pass-through wrapper (as a TLS connection is not).
type writeLog struct{ passThroughLog }

func (c *writeLog) WriteThrough() net.Conn { return nil }

// TestAcceptWritesWholeFrames: the gateway writes each message as one
// unmasked frame: where the connection is a socket beneath pass-through
// wrappers, a message of writevMin bytes or more goes out in one writev
// of its header and payload (none of it through the wrapper's Write), a
// smaller one in one Write; over any other connection every message is
// one Write. The peer reads exactly the frames.
func TestAcceptWritesWholeFrames(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	for _, socket := range []bool{true, false} {
		for _, n := range []int{0, 100, 125, 126, writevMin - 1, writevMin, 65535, 65536, 200 << 10} {
			c, err := net.Dial("tcp", ln.Addr().String())
			if err != nil {
				t.Fatal(err)
			}
			peer, err := ln.Accept()
			if err != nil {
				t.Fatal(err)
			}
			var wrapped net.Conn
			var log *passThroughLog
			if socket {
				log = &passThroughLog{Conn: c}
				wrapped = log
			} else {
				wl := &writeLog{passThroughLog{Conn: c}}
				log, wrapped = &wl.passThroughLog, wl
			}
			rec := httptest.NewRecorder()
			ws, err := acceptLean(hijackTo{rec, wrapped}, upgradeRequest(), nil, nil)
			if err != nil {
				t.Fatal(err)
			}
			if rec.Code != http.StatusSwitchingProtocols || rec.Header().Get("Sec-WebSocket-Accept") != "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=" {
				t.Fatalf("answer %d %v, want 101 with RFC 6455's example accept key", rec.Code, rec.Header())
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
				if err := ws.WriteMessage(context.Background(), msg); err != nil {
					t.Fatal(err)
				}
			}
			writes := slices.Clone(log.writes)
			c.Close()
			b := <-got
			peer.Close()
			if want := slices.Concat(frame(true, 2, msg, nil), frame(true, 2, msg, nil)); !bytes.Equal(b, want) {
				t.Errorf("two messages of %d bytes: the peer read %d bytes, not the %d of their two frames", n, len(b), len(want))
			}
			switch writev := socket && n >= writevMin; {
			case writev && len(writes) != 0:
				t.Errorf("socket, two messages of %d bytes: Write calls %v on the wrapper, want none (one writev each)", n, writes)
			case !writev && len(writes) != 2:
				t.Errorf("socket %v, two messages of %d bytes: Write calls %v, want one each", socket, n, writes)
			}
		}
	}
}

// rawUpgrade opens a WebSocket to srv by hand and sends extra right
// behind the request, in the same write.
func rawUpgrade(t *testing.T, srv *httptest.Server, extra []byte) (net.Conn, *bufio.Reader) {
	t.Helper()
	c, err := net.Dial("tcp", srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(10 * time.Second))
	req := "GET / HTTP/1.1\r\nHost: " + srv.Listener.Addr().String() + "\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n" +
		"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n"
	if _, err := c.Write(append([]byte(req), extra...)); err != nil {
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
	return c, br
}

// TestAcceptKeepsBytesPastRequest: a client that sends its first message
// in the same packet as the upgrade request (net/http reads both at once)
// has it read, small or larger than the reader's own buffer, whether its
// reader may park or not.
func TestAcceptKeepsBytesPastRequest(t *testing.T) {
	poll, err := idlepoll.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	defer poll.Close()
	for _, idle := range []*idlepoll.Poller{nil, poll} {
		t.Run(fmt.Sprint("parking ", idle != nil), func(t *testing.T) { testBytesPastRequest(t, idle) })
	}
}

func testBytesPastRequest(t *testing.T, idle *idlepoll.Poller) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := AcceptTube(context.Background(), w, r, TubeOptions{Idle: idle})
		if err != nil {
			return
		}
		defer c.Close()
		if (c.(*leanConn).c.park != nil) != (idle != nil) {
			t.Errorf("parking %v with poller %v", c.(*leanConn).c.park != nil, idle)
		}
		io.Copy(c, c)
	}))
	defer srv.Close()
	for _, n := range []int{5, readBufSize, 3000} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			msg := bytes.Repeat([]byte("x"), n)
			_, br := rawUpgrade(t, srv, frame(true, 2, msg, []byte{9, 8, 7, 6}))
			got, pongs := readPayloads(t, br, n)
			if !bytes.Equal(got, msg) || len(pongs) != 0 {
				t.Fatalf("echo %q (pongs %q), want %q", got, pongs, msg)
			}
		})
	}
}

// TestAcceptRefusesBadUpgrades: each request that is not a WebSocket
// upgrade the gateway speaks is answered with its status and a reason, and
// nothing is hijacked.
func TestAcceptRefusesBadUpgrades(t *testing.T) {
	cases := []struct {
		name   string
		status int
		edit   func(r *http.Request)
		reason string
	}{
		{"no Connection upgrade", 426, func(r *http.Request) { r.Header.Set("Connection", "keep-alive") }, "not an upgrade"},
		{"no Upgrade websocket", 426, func(r *http.Request) { r.Header.Set("Upgrade", "h2c") }, "not an upgrade"},
		{"HTTP/1.0", 426, func(r *http.Request) { r.Proto, r.ProtoMinor = "HTTP/1.0", 0 }, "HTTP/1.0"},
		{"POST", 405, func(r *http.Request) { r.Method = http.MethodPost }, "POST"},
		{"version 8", 400, func(r *http.Request) { r.Header.Set("Sec-WebSocket-Version", "8") }, "version"},
		{"no key", 400, func(r *http.Request) { r.Header.Del("Sec-WebSocket-Key") }, "0 Sec-WebSocket-Key"},
		{"two keys", 400, func(r *http.Request) { r.Header.Add("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ==") }, "2 Sec-WebSocket-Key"},
		{"short key", 400, func(r *http.Request) { r.Header.Set("Sec-WebSocket-Key", "c2hvcnQ=") }, "16 bytes"},
		{"foreign origin", 403, func(r *http.Request) { r.Header.Set("Origin", "https://evil.example") }, "not authorized"},
		{"origin without host", 403, func(r *http.Request) { r.Header.Set("Origin", "null") }, "not a URL"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := upgradeRequest()
			tc.edit(r)
			rec := httptest.NewRecorder()
			conn := &passThroughLog{}
			ws, err := acceptLean(hijackTo{rec, conn}, r, nil, nil)
			if err == nil || ws != nil {
				t.Fatalf("accepted: %v", err)
			}
			if rec.Code != tc.status || !strings.Contains(rec.Body.String(), tc.reason) || !strings.Contains(err.Error(), tc.reason) {
				t.Errorf("answer %d %q, error %v; want %d and a reason with %q", rec.Code, rec.Body.String(), err, tc.status, tc.reason)
			}
		})
	}
	// The request's own host as Origin (the page) is taken.
	r := upgradeRequest()
	r.Header.Set("Origin", "http://"+r.Host)
	c, peer := net.Pipe()
	defer c.Close()
	defer peer.Close()
	if _, err := acceptLean(hijackTo{httptest.NewRecorder(), c}, r, nil, nil); err != nil {
		t.Errorf("same-origin upgrade refused: %v", err)
	}
}

// readPayloads reads the gateway's frames from br until n bytes of binary
// payload have come, and returns them and the pongs' payloads.
func readPayloads(t *testing.T, br *bufio.Reader, n int) (data []byte, pongs []string) {
	t.Helper()
	for len(data) < n {
		var h [10]byte
		if _, err := io.ReadFull(br, h[:2]); err != nil {
			t.Fatalf("after %d bytes: %v", len(data), err)
		}
		if h[1]&0x80 != 0 {
			t.Fatal("a masked frame from the gateway")
		}
		k := headerLen(h[1])
		if _, err := io.ReadFull(br, h[2:k]); err != nil {
			t.Fatal(err)
		}
		p := make([]byte, payloadLen(h[:k]))
		if _, err := io.ReadFull(br, p); err != nil {
			t.Fatal(err)
		}
		switch h[0] & 0x0f {
		case opPong:
			pongs = append(pongs, string(p))
		case opBinary, opContinuation:
			data = append(data, p...)
		default:
			t.Fatalf("a frame of opcode %#x", h[0]&0x0f)
		}
	}
	return data, pongs
}

// readCloseFrame reads frames from br up to a close frame and returns its
// status and reason.
func readCloseFrame(t *testing.T, br *bufio.Reader) (int, string) {
	t.Helper()
	for {
		var h [4]byte
		if _, err := io.ReadFull(br, h[:2]); err != nil {
			t.Fatalf("no close frame: %v", err)
		}
		n := int(h[1] & 0x7f)
		if n == 126 {
			io.ReadFull(br, h[2:4])
			n = int(binary.BigEndian.Uint16(h[2:4]))
		}
		p := make([]byte, n)
		if _, err := io.ReadFull(br, p); err != nil {
			t.Fatal(err)
		}
		if h[0]&0x0f == opClose && n >= 2 {
			return int(binary.BigEndian.Uint16(p)), string(p[2:])
		}
	}
}

// TestGatewayReadsClientFrames: the gateway's end joins a message's
// masked frames, answers a ping between them with a pong of its payload,
// and fails the WebSocket at a frame that breaks the protocol with a
// close frame of its status and the reason, which its reader returns.
func TestGatewayReadsClientFrames(t *testing.T) {
	ended := make(chan error, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := Accept(w, r)
		if err != nil {
			ended <- err
			return
		}
		defer c.Close()
		_, err = io.Copy(c, c)
		ended <- err
	}))
	defer srv.Close()
	key := []byte{0xa1, 0xb2, 0xc3, 0xd4}
	big := make([]byte, 70000)
	for i := range big {
		big[i] = byte(i * 13)
	}
	msg := slices.Concat(frame(false, opBinary, []byte("hello, "), key), frame(true, opPing, []byte("are you there"), key),
		frame(false, opContinuation, []byte("tube"), []byte{1, 2, 3, 4}), frame(true, opContinuation, big, []byte{5, 6, 7, 8}))
	c, br := rawUpgrade(t, srv, msg)
	want := slices.Concat([]byte("hello, tube"), big)
	echoed, pongs := readPayloads(t, br, len(want))
	if !bytes.Equal(echoed, want) {
		t.Fatalf("echoed %d bytes, other than the %d sent", len(echoed), len(want))
	}
	if len(pongs) != 1 || pongs[0] != "are you there" {
		t.Fatalf("pongs %q, want one with the ping's payload", pongs)
	}
	c.Write(frame(true, opBinary, []byte("not masked"), nil))
	if code, reason := readCloseFrame(t, br); code != 1002 || !strings.Contains(reason, "unmasked") {
		t.Errorf("close %d %q, want 1002 and the reason", code, reason)
	}
	if err := <-ended; err == nil || !strings.Contains(err.Error(), "unmasked frame") {
		t.Errorf("the gateway's reader ended with %v, want the reason", err)
	}
}

// TestUnmask: every byte is XORed with the key's byte at its offset, for
// runs of every length around the word and the pooled pattern, the key
// carried on from one run to the next.
func TestUnmask(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for n := 0; n < 3000; n += 1 + n/8 {
		src := make([]byte, n)
		for i := range src {
			src[i] = byte(rng.Uint32())
		}
		key := rng.Uint32()
		want := make([]byte, n)
		for i := range src {
			want[i] = src[i] ^ byte(key>>(8*(i%4)))
		}
		got := slices.Clone(src)
		k := key
		for rest := got; len(rest) > 0; {
			m := min(len(rest), 1+rng.IntN(600))
			k = unmask(rest[:m], k)
			rest = rest[m:]
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("%d bytes unmasked in runs: wrong", n)
		}
		if k != unmask(slices.Clone(src), key) {
			t.Fatalf("%d bytes: the key carried on differs", n)
		}
	}
}

func BenchmarkUnmask(b *testing.B) {
	p := make([]byte, 32<<10)
	b.SetBytes(int64(len(p)))
	for b.Loop() {
		unmask(p, 0x12345678)
	}
}

// TestCoderClientRoundTrip: a client of another implementation
// (coder/websocket's, which masks and frames its own way) is read and
// answered, large messages too.
func TestCoderClientRoundTrip(t *testing.T) {
	srv := echoServer(t, nil)
	defer srv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ws, _, err := websocket.Dial(ctx, wsURL(srv), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ws.CloseNow()
	ws.SetReadLimit(-1)
	nc := websocket.NetConn(ctx, ws, websocket.MessageBinary)
	msg := bytes.Repeat([]byte("0123456789abcdef"), 40000)
	go nc.Write(msg)
	got := make([]byte, len(msg))
	if _, err := io.ReadFull(nc, got); err != nil || !bytes.Equal(got, msg) {
		t.Fatalf("round trip: %v", err)
	}
}

// TestGatewayCloseMidMessage: the gateway's end closed while a client's
// message is still coming (a handshake that failed on its first bytes)
// reads the rest of it and the client's answering close frame before it
// closes the socket, so the client sees the close frame and a clean end,
// not a reset.
func TestGatewayCloseMidMessage(t *testing.T) {
	closed := make(chan error, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := Accept(w, r)
		if err != nil {
			closed <- err
			return
		}
		buf := make([]byte, 10)
		if _, err := io.ReadFull(c, buf); err != nil {
			closed <- err
			return
		}
		closed <- c.Close()
	}))
	defer srv.Close()
	key := []byte{7, 7, 7, 7}
	c, br := rawUpgrade(t, srv, nil)
	if _, err := c.Write(frame(true, opBinary, make([]byte, 200<<10), key)); err != nil {
		t.Fatal(err)
	}
	if code, _ := readCloseFrame(t, br); code != 1000 {
		t.Fatalf("close status %d, want 1000", code)
	}
	if _, err := c.Write(frame(true, opClose, []byte{0x03, 0xe8}, key)); err != nil {
		t.Fatal(err)
	}
	if err := <-closed; err != nil {
		t.Fatalf("the gateway's close: %v", err)
	}
	if b, err := io.ReadAll(br); err != nil || len(b) != 0 {
		t.Fatalf("after the close frame: %d bytes, %v; want a clean end", len(b), err)
	}
}
