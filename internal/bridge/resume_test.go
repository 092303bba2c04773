//go:build !js

package bridge

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/tubegate/tubegate/internal/resume"
)

// resumeEchoServer serves /ssh with AcceptTube and echoes every tube.
func resumeEchoServer(t *testing.T, rs *resume.Server) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := AcceptTube(context.Background(), w, r, TubeOptions{Resume: rs, Source: "127.0.0.1"})
		if err != nil || c == nil {
			return
		}
		go func() { io.Copy(c, c); c.Close() }()
	}))
	t.Cleanup(srv.Close)
	return srv
}

func echoOnce(t *testing.T, c net.Conn, msg string) {
	t.Helper()
	if _, err := c.Write([]byte(msg)); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, len(msg))
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.ReadFull(c, buf); err != nil || string(buf) != msg {
		t.Fatalf("echo %q: got %q, %v", msg, buf, err)
	}
}

func TestDialResumeSurvivesDrop(t *testing.T) {
	rs := resume.NewServer(resume.ServerConfig{Window: time.Minute})
	srv := resumeEchoServer(t, rs)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	states := make(chan resume.State, 16)
	c, err := DialResume(ctx, wsURL(srv), DialOptions{}, resume.Options{OnState: func(s resume.State) { states <- s }})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	echoOnce(t, c, strings.Repeat("before ", 1000))
	c.(*resumeClientConn).Resume().Drop()
	echoOnce(t, c, strings.Repeat("after ", 1000))
	var kinds []string
	for len(kinds) < 3 {
		select {
		case s := <-states:
			kinds = append(kinds, s.Kind.String())
		case <-time.After(10 * time.Second):
			t.Fatalf("states so far %v", kinds)
		}
	}
	if strings.Join(kinds, ",") != "connected,reconnecting,resumed" {
		t.Errorf("states %v", kinds)
	}
}

// TestPlainClientUnchanged: a client that does not ask for resumption
// gets the raw stream from AcceptTube, as from Accept.
func TestPlainClientUnchanged(t *testing.T) {
	rs := resume.NewServer(resume.ServerConfig{Window: time.Minute})
	srv := resumeEchoServer(t, rs)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := Dial(ctx, wsURL(srv), DialOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, ok := c.(*leanConn); !ok {
		t.Fatalf("plain Dial gave %T, want the lean client's raw stream", c)
	}
	echoOnce(t, c, "SSH-2.0-plain\r\n")
}

func TestDialResumeNeedsGatewaySupport(t *testing.T) {
	srv := resumeEchoServer(t, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := DialResume(ctx, wsURL(srv), DialOptions{}, resume.Options{}); err == nil || !strings.Contains(err.Error(), "does not offer") {
		t.Fatalf("DialResume to a gateway without resumption: %v", err)
	}
}
