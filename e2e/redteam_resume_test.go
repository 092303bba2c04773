package e2e

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"
	"golang.org/x/crypto/ssh"

	"github.com/tubegate/tubegate/internal/resume"
)

// wsTransport is a test's WebSocket as a resume.Transport.
type wsTransport struct{ ws *websocket.Conn }

func (t wsTransport) ReadMessage(ctx context.Context) ([]byte, error) {
	_, b, err := t.ws.Read(ctx)
	var ce websocket.CloseError
	if errors.As(err, &ce) {
		return nil, &resume.CloseError{Code: int(ce.Code), Reason: ce.Reason}
	}
	return b, err
}

func (t wsTransport) WriteMessage(ctx context.Context, p []byte) error {
	return t.ws.Write(ctx, websocket.MessageBinary, p)
}

func (t wsTransport) Close(code int, reason string) error {
	if code == 0 {
		return t.ws.CloseNow()
	}
	return t.ws.Close(websocket.StatusCode(code), reason)
}

// recordingTransport notes the token of the WELCOME it carries.
type recordingTransport struct {
	wsTransport
	d     *tokenDialer
	first atomic.Bool
}

func (t *recordingTransport) ReadMessage(ctx context.Context) ([]byte, error) {
	b, err := t.wsTransport.ReadMessage(ctx)
	if err == nil && !t.first.Swap(true) && len(b) > 1+resume.TokenSize && b[0] == 0x02 {
		t.d.mu.Lock()
		t.d.tokens = append(t.d.tokens, append([]byte(nil), b[1:1+resume.TokenSize]...))
		t.d.mu.Unlock()
	}
	return b, err
}

// tokenDialer dials the gateway's /ssh with the resume subprotocol and
// records every token the gateway gives; blocked makes it fail.
type tokenDialer struct {
	url     string
	blocked atomic.Bool
	mu      sync.Mutex
	tokens  [][]byte
}

func (d *tokenDialer) dial(ctx context.Context) (resume.Transport, error) {
	if d.blocked.Load() {
		return nil, errors.New("network down (test)")
	}
	ws, _, err := websocket.Dial(ctx, d.url, &websocket.DialOptions{Subprotocols: []string{resume.Subprotocol}})
	if err != nil {
		return nil, err
	}
	return &recordingTransport{wsTransport: wsTransport{ws}, d: d}, nil
}

func (d *tokenDialer) token(i int) []byte {
	d.mu.Lock()
	defer d.mu.Unlock()
	if i < 0 {
		i += len(d.tokens)
	}
	return d.tokens[i]
}

func (d *tokenDialer) count() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return len(d.tokens)
}

// resumableTube opens a resumable tube to w's gateway as user and
// authenticates over it.
func resumableTube(t *testing.T, w *world, user string) (*resume.Conn, *ssh.Client, *tokenDialer) {
	t.Helper()
	d := &tokenDialer{url: w.gw.wsURL()}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	rc, err := resume.Dial(ctx, d.dial, resume.Options{Heartbeat: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rc.Close() })
	cc, chans, reqs, err := ssh.NewClientConn(rc, "gw", &ssh.ClientConfig{
		User:            user,
		Auth:            []ssh.AuthMethod{ssh.PublicKeys(userSigner(t, w, user))},
		HostKeyCallback: ssh.InsecureIgnoreHostKey(),
		Timeout:         10 * time.Second,
	})
	if err != nil {
		t.Fatalf("ssh over a resumable tube as %s: %v", user, err)
	}
	client := ssh.NewClient(cc, chans, reqs)
	t.Cleanup(func() { client.Close() })
	return rc, client, d
}

// requireAlive requires the tube's SSH to answer a keepalive.
func requireAlive(t *testing.T, c *ssh.Client, what string) {
	t.Helper()
	done := make(chan error, 1)
	go func() { _, _, err := c.SendRequest("keepalive@openssh.com", true, nil); done <- err }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	case <-time.After(20 * time.Second):
		t.Fatalf("%s: no answer", what)
	}
}

// tryResume presents token as a resume from a fresh WebSocket and returns
// the close code the gateway answers with (0 if it welcomed it) and how
// many DATA frames came before.
func tryResume(t *testing.T, w *world, token []byte, offset uint64) (code int, data int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	ws, _, err := websocket.Dial(ctx, w.gw.wsURL(), &websocket.DialOptions{Subprotocols: []string{resume.Subprotocol}})
	if err != nil {
		t.Fatal(err)
	}
	defer ws.CloseNow()
	if ws.Subprotocol() != resume.Subprotocol {
		t.Fatalf("the gateway did not take subprotocol %s", resume.Subprotocol)
	}
	hello := make([]byte, 6+resume.TokenSize+8) // HELLO, flag resume, 1 s heartbeat, token, offset
	hello[0], hello[1] = 0x01, 0x01
	binary.BigEndian.PutUint32(hello[2:], 1000)
	copy(hello[6:], token)
	binary.BigEndian.PutUint64(hello[6+resume.TokenSize:], offset)
	if err := ws.Write(ctx, websocket.MessageBinary, hello); err != nil {
		t.Fatal(err)
	}
	for {
		_, b, err := ws.Read(ctx)
		if err != nil {
			var ce websocket.CloseError
			if errors.As(err, &ce) {
				return int(ce.Code), data
			}
			t.Fatalf("resume attempt: %v (want a close frame or a WELCOME)", err)
		}
		switch b[0] {
		case 0x02:
			return 0, data
		case 0x03:
			data++
		}
	}
}

// TestRedteamResumeTokens (issue 9, result 6): forged, replayed (already
// used) and expired resume tokens get nothing but a close 4401; a token
// resumes its own tube only; failing sources are throttled.
func TestRedteamResumeTokens(t *testing.T) {
	w := newWorld(t, gatewayOpts{args: []string{"--resume-window", "3s"}})
	w.addUser(t, "alice")
	w.addUser(t, "bob")
	rcA, sshA, dA := resumableTube(t, w, "alice")
	rcB, sshB, dB := resumableTube(t, w, "bob")
	requireAlive(t, sshA, "tube A")

	// A resumes once: its first token is used up.
	rcA.Drop()
	deadline := time.Now().Add(startTimeout)
	for dA.count() < 2 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	requireAlive(t, sshA, "tube A after its resume")

	code, data := tryResume(t, w, dA.token(0), 0)
	if code != resume.CloseRefused || data != 0 {
		t.Errorf("replayed token: close %d, %d DATA frames; want %d and none", code, data, resume.CloseRefused)
	}
	redteam(t, "resume tube A with its already used token", "refused: close 4401, no data",
		fmt.Sprintf("close %d, %d DATA frames", code, data))

	forged := make([]byte, resume.TokenSize)
	rand.Read(forged)
	code, data = tryResume(t, w, forged, 0)
	if code != resume.CloseRefused || data != 0 {
		t.Errorf("forged token: close %d, %d DATA frames; want %d and none", code, data, resume.CloseRefused)
	}
	redteam(t, "resume with a forged (random) token", "refused: close 4401, no data",
		fmt.Sprintf("close %d, %d DATA frames", code, data))

	// B's token of tube B, once its window has passed.
	tokB := dB.token(-1)
	dB.blocked.Store(true)
	rcB.Drop()
	w.gw.proc.mustWaitLine(t, regexp.MustCompile(`msg="tube ended: not resumed within the resume window".*user=bob`), startTimeout)
	code, data = tryResume(t, w, tokB, 0)
	if code != resume.CloseRefused || data != 0 {
		t.Errorf("expired token: close %d, %d DATA frames; want %d and none", code, data, resume.CloseRefused)
	}
	redteam(t, "resume tube B after its 3 s window with its last token", "refused: close 4401, no data",
		fmt.Sprintf("close %d, %d DATA frames", code, data))
	_ = sshB

	// A's live token resumes tube A and nothing else: a new tube C of
	// bob's goes on untouched.
	_, sshC, _ := resumableTube(t, w, "bob")
	before := len(w.gw.proc.out.linesMatching(`msg="tube resumed"`))
	dA.blocked.Store(true) // A's own client will find its token used
	_, recvA := rcA.Offsets()
	code, _ = tryResume(t, w, dA.token(-1), recvA)
	if code != 0 {
		t.Fatalf("tube A's live token: close %d, want a WELCOME", code)
	}
	w.gw.proc.mustWaitLine(t, regexp.MustCompile(fmt.Sprintf(`msg="tube resumed".*user=alice.*resent_from=%d\b`, recvA)), startTimeout)
	if lines := w.gw.proc.out.linesMatching(`msg="tube resumed"`); len(lines) != before+1 {
		t.Fatalf("one resume with A's token made %d resumes: %q", len(lines)-before, lines[before:])
	}
	requireAlive(t, sshC, "bob's tube C after a resume with alice's token")
	redteam(t, "resume with tube A's token while bob's tube C is live", "tube A resumed, tube C untouched",
		"logged as alice's tube resumed; bob's tube answers")

	// A source that keeps failing is refused before any lookup.
	refused, throttled := 0, 0
	for i := 0; i < 12; i++ {
		rand.Read(forged)
		switch code, _ := tryResume(t, w, forged, 0); code {
		case resume.CloseRefused:
			refused++
		case resume.CloseThrottled:
			throttled++
		default:
			t.Fatalf("forged token %d: close %d", i, code)
		}
	}
	if throttled == 0 {
		t.Errorf("12 more forged tokens: %d refused, none throttled", refused)
	}
	resp, err := w.gw.httpClient(t).Get("http://" + w.gw.httpAddr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, m := range []string{`tubegate_resumes_total{outcome="accepted"}`, `tubegate_resumes_total{outcome="refused"}`,
		`tubegate_resumes_total{outcome="throttled"}`, `tubegate_resumes_total{outcome="expired"}`} {
		if !strings.Contains(string(body), m) {
			t.Errorf("/metrics has no %s", m)
		}
	}
	redteam(t, "12 more forged resume tokens from one address", "throttled (close 4429) once the budget of 10 failures is spent",
		fmt.Sprintf("%d refused (4401), %d throttled (4429)", refused, throttled))
}
