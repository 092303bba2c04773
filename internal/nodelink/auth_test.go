package nodelink

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tubegate/tubegate/internal/cluster"
	"github.com/tubegate/tubegate/internal/forward"
)

// rawOpen sends an open request for key/tube to b, signed by a's link,
// after tamper has had its way with it, and returns the status.
func rawOpen(t *testing.T, a, b *node, key, tube string, tamper func(*http.Request)) int {
	t.Helper()
	req := signedOpen(t, a, b, key, tube)
	if tamper != nil {
		tamper(req)
	}
	return send(t, b, req)
}

func signedOpen(t *testing.T, a, b *node, key, tube string) *http.Request {
	t.Helper()
	u, err := peerURL(b.node, PathOpen, url.Values{qKey: {key}, qTube: {tube}})
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest(http.MethodGet, u.String(), nil)
	req.Header.Set("Connection", "Upgrade")
	req.Header.Set("Upgrade", Proto)
	c := claim{method: http.MethodGet, path: PathOpen, key: key, tube: tube}
	a.link.sign(&c, b.node, req.Header)
	return req
}

// send writes req on a connection of its own and reads the status (a 101
// is closed at once).
func send(t *testing.T, b *node, req *http.Request) int {
	t.Helper()
	c, err := net.Dial("tcp", b.srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	resp, err := roundTrip(c, bufio.NewReader(c), req)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, io.LimitReader(resp.Body, 4096))
	return resp.StatusCode
}

// TestRefusals: each forged, stale, replayed or tampered request is
// refused with its status, a log line and a count, and the handler goes
// on serving the genuine request that follows.
func TestRefusals(t *testing.T) {
	a, b, _ := pair(t, Config{}, Config{})
	b.local.hold("echo:k", "tube1")
	wrong := newNode(t, "node-a", nil, Config{Secret: bytes.Repeat([]byte{8}, 32)}, false)
	late := newNode(t, "node-a", nil, Config{Now: func() time.Time { return time.Now().Add(-40 * time.Second) }}, false)
	early := newNode(t, "node-a", nil, Config{Now: func() time.Time { return time.Now().Add(40 * time.Second) }}, false)

	replayed := signedOpen(t, a, b, "echo:k", "tube1")
	if got := send(t, b, replayed.Clone(context.Background())); got != http.StatusSwitchingProtocols {
		t.Fatalf("the genuine request: %d", got)
	}
	cases := []struct {
		name, reason string
		status       int
		do           func() int
	}{
		{"no auth", reasonNoAuth, 401, func() int {
			return rawOpen(t, a, b, "echo:k", "tube1", func(r *http.Request) {
				for _, h := range []string{hdrFrom, hdrTo, hdrTime, hdrNonce, hdrMAC} {
					r.Header.Del(h)
				}
			})
		}},
		{"wrong secret", reasonBadMAC, 403, func() int { return rawOpen(t, wrong, b, "echo:k", "tube1", nil) }},
		{"expired timestamp", reasonExpired, 403, func() int { return rawOpen(t, late, b, "echo:k", "tube1", nil) }},
		{"future timestamp", reasonExpired, 403, func() int { return rawOpen(t, early, b, "echo:k", "tube1", nil) }},
		{"replayed nonce", reasonReplay, 403, func() int { return send(t, b, replayed) }},
		{"tampered key", reasonBadMAC, 403, func() int {
			return rawOpen(t, a, b, "echo:k", "tube1", func(r *http.Request) { setQuery(r, qKey, "echo:other") })
		}},
		{"tampered tube", reasonBadMAC, 403, func() int {
			return rawOpen(t, a, b, "echo:k", "tube1", func(r *http.Request) { setQuery(r, qTube, "tube9") })
		}},
		{"tampered origin", reasonBadMAC, 403, func() int {
			return rawOpen(t, a, b, "echo:k", "tube1", func(r *http.Request) { setQuery(r, qOrigin, "10.0.0.1:1") })
		}},
		{"tampered timestamp", reasonBadMAC, 403, func() int {
			return rawOpen(t, a, b, "echo:k", "tube1", func(r *http.Request) {
				ts, _ := strconv.ParseInt(r.Header.Get(hdrTime), 10, 64)
				r.Header.Set(hdrTime, strconv.FormatInt(ts+1, 10))
			})
		}},
		{"signed for another node", reasonWrongNode, 403, func() int {
			c := *b
			c.node.ID = "node-c"
			return rawOpen(t, a, &c, "echo:k", "tube1", nil)
		}},
		{"bad nonce", reasonMalformed, 400, func() int {
			return rawOpen(t, a, b, "echo:k", "tube1", func(r *http.Request) { r.Header.Set(hdrNonce, "zz") })
		}},
		{"no upgrade", reasonMalformed, 426, func() int {
			return rawOpen(t, a, b, "echo:k", "tube1", func(r *http.Request) { r.Header.Del("Upgrade") })
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before := b.link.Refused(tc.reason)
			if got := tc.do(); got != tc.status {
				t.Errorf("status %d, want %d", got, tc.status)
			}
			if n := b.link.Refused(tc.reason) - before; n != 1 {
				t.Errorf("refusals counted under %s: %d, want 1", tc.reason, n)
			}
			if !strings.Contains(b.logs.String(), "reason="+tc.reason) {
				t.Errorf("no log line with reason=%s:\n%s", tc.reason, b.logs.String())
			}
		})
	}
	// The handler carries on: a genuine open still works.
	c, err := a.link.Open(context.Background(), b.node, "echo:k", "tube1", origin)
	if err != nil {
		t.Fatalf("genuine open after the refusals: %v", err)
	}
	echoRoundTrip(t, c, 4096)
	c.Close()
	// And the client's view of a refusal: ErrAuth.
	if _, err := wrong.link.Open(context.Background(), b.node, "echo:k", "tube1", origin); !errors.Is(err, ErrAuth) {
		t.Errorf("open with the wrong secret: %v; want ErrAuth", err)
	}
	if _, err := wrong.link.Probe(context.Background(), b.node, "tube1"); !errors.Is(err, ErrAuth) {
		t.Errorf("probe with the wrong secret: %v; want ErrAuth", err)
	}
	if err := late.link.CloseTube(context.Background(), b.node, "tube1"); !errors.Is(err, ErrAuth) {
		t.Errorf("close with a stale clock: %v; want ErrAuth", err)
	}
	if len(b.local.closed) != 0 {
		t.Errorf("a refused close ended tubes %v", b.local.closed)
	}
}

func setQuery(r *http.Request, k, v string) {
	q := r.URL.Query()
	q.Set(k, v)
	r.URL.RawQuery = q.Encode()
}

// A node with no Local (or a request signed for the wrong route) is
// refused as well.
func TestRefusedPathAndNoLocal(t *testing.T) {
	a, b, _ := pair(t, Config{}, Config{})
	// A signature for /probe does not open a stream.
	req := signedOpen(t, a, b, "echo:k", "tube1")
	req.URL.Path = PathProbe
	req.Method = http.MethodPost
	if got := send(t, b, req); got != 403 {
		t.Errorf("open's signature used on probe: %d, want 403", got)
	}
	// node-a serves nothing.
	if _, err := b.link.Probe(context.Background(), a.node, "x"); err == nil || !strings.Contains(err.Error(), "serves no endpoints") {
		t.Errorf("probe of a node without Local: %v", err)
	}
}

// The stream cap per peer: past it, a clear refusal (a limit:
// forward.ErrRefused); a slot comes back when a stream ends.
func TestStreamCapPerPeer(t *testing.T) {
	a, b, _ := pair(t, Config{}, Config{MaxStreamsPerPeer: 2})
	b.local.hold("echo:cap", "tube1")
	var open []net.Conn
	for range 2 {
		c, err := a.link.Open(context.Background(), b.node, "echo:cap", "tube1", origin)
		if err != nil {
			t.Fatal(err)
		}
		open = append(open, c)
	}
	_, err := a.link.Open(context.Background(), b.node, "echo:cap", "tube1", origin)
	if !errors.Is(err, forward.ErrRefused) || !strings.Contains(err.Error(), "the cap") {
		t.Fatalf("third stream: %v; want the cap's refusal", err)
	}
	if b.link.Refused(reasonCap) != 1 {
		t.Errorf("cap refusals counted: %d", b.link.Refused(reasonCap))
	}
	// Another peer has slots of its own.
	other := newNode(t, "node-c", nil, Config{}, false)
	c, err := other.link.Open(context.Background(), b.node, "echo:cap", "tube1", origin)
	if err != nil {
		t.Fatalf("another peer: %v", err)
	}
	c.Close()
	open[0].Close()
	eventually(t, "the closed stream's slot is free", func() bool {
		b.link.mu.Lock()
		defer b.link.mu.Unlock()
		return b.link.perPeer["node-a"] == 1
	})
	c, err = a.link.Open(context.Background(), b.node, "echo:cap", "tube1", origin)
	if err != nil {
		t.Fatalf("after a stream ended: %v", err)
	}
	c.Close()
	open[1].Close()
}

// A client that never finishes its request is cut by the listener's
// header timeout, and others are served meanwhile.
func TestSlowLorisCut(t *testing.T) {
	a := newNode(t, "node-a", nil, Config{}, false)
	b := newNode(t, "node-b", newFakeLocal(startEndpoints(t)), Config{}, false, 300*time.Millisecond)
	b.local.hold("echo:k", "tube1")
	c, err := net.Dial("tcp", b.srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	io.WriteString(c, "GET "+PathOpen+" HTTP/1.1\r\nHost: x\r\nUpgrade: "+Proto+"\r\n")
	conn, err := a.link.Open(context.Background(), b.node, "echo:k", "tube1", origin)
	if err != nil {
		t.Fatalf("open while a slow client hangs: %v", err)
	}
	conn.Close()
	c.SetReadDeadline(time.Now().Add(10 * time.Second)) // liveness only
	_, err = io.ReadAll(c)
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		t.Fatal("the slow client was not cut by the header timeout")
	}
}

// A peer that accepts and never answers cannot hold Open: its timeout
// (or the caller's context) ends it.
func TestOpenPeerNeverAnswers(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	held := make(chan net.Conn, 16)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			held <- c
		}
	}()
	defer func() {
		ln.Close()
		for len(held) > 0 {
			(<-held).Close()
		}
	}()
	a := newNode(t, "node-a", nil, Config{OpenTimeout: 200 * time.Millisecond}, false)
	mute := cluster.Node{ID: "mute", Addr: "http://" + ln.Addr().String()}
	if _, err := a.link.Open(context.Background(), mute, "echo:k", "tube1", origin); err == nil {
		t.Fatal("open to a mute peer succeeded")
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := a.link.Open(ctx, mute, "echo:k", "tube1", origin); err == nil {
		t.Fatal("open with a cancelled context succeeded")
	}
}

// A delivery into the tube that never completes is given up after the
// serving node's OpenTimeout: a clear error, no stream held.
func TestOpenDeliveryTimeout(t *testing.T) {
	a, b, _ := pair(t, Config{}, Config{OpenTimeout: 200 * time.Millisecond})
	b.local.block = true
	_, err := a.link.Open(context.Background(), b.node, "echo:k", "tube1", origin)
	var pe *PeerError
	if !errors.As(err, &pe) || pe.Status != http.StatusBadGateway {
		t.Fatalf("err = %v; want a 502 from node-b", err)
	}
	b.link.mu.Lock()
	defer b.link.mu.Unlock()
	if len(b.link.perPeer) != 0 {
		t.Errorf("slots held: %v", b.link.perPeer)
	}
}

func TestNonceCache(t *testing.T) {
	now := time.Unix(1_000_000, 0)
	c := newNonceCache(30*time.Second, 3)
	n := func(b byte) [16]byte { return [16]byte{b} }
	if c.add(now.Unix(), n(1), now) != nonceFresh || c.add(now.Unix(), n(1), now) != nonceReplayed {
		t.Fatal("a nonce is not remembered")
	}
	if c.add(now.Unix()-1, n(1), now) != nonceFresh {
		t.Error("the same nonce under another timestamp is another request")
	}
	c.add(now.Unix()+30, n(2), now)
	if c.add(now.Unix(), n(3), now) != nonceFull {
		t.Error("a full cache forgets instead of refusing")
	}
	// 31 s later the first two buckets are past the window and dropped;
	// the one stamped +30 s is kept until it is.
	later := now.Add(31 * time.Second)
	if c.add(later.Unix(), n(3), later) != nonceFresh || c.len() != 2 {
		t.Errorf("expired nonces not dropped: %d remembered", c.len())
	}
	if c.add(now.Unix()+30, n(2), later) != nonceReplayed {
		t.Error("a nonce still in its window was forgotten")
	}
}
