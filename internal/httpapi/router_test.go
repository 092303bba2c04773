package httpapi

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"golang.org/x/crypto/ssh"

	"github.com/tubegate/tubegate/internal/bridge"
	"github.com/tubegate/tubegate/internal/forward"
	"github.com/tubegate/tubegate/internal/hostkeys"
	"github.com/tubegate/tubegate/internal/sshserver"
	"github.com/tubegate/tubegate/internal/users"
	"github.com/tubegate/tubegate/internal/webapi"
)

// newTestServer serves the router with one user, "alice", who has no SSH
// credentials at all: only the fake session below can let her in.
func newTestServer(t *testing.T) *httptest.Server {
	t.Helper()
	dir := t.TempDir()
	hk, err := hostkeys.LoadOrCreate(dir)
	if err != nil {
		t.Fatal(err)
	}
	store, err := users.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := store.Add(users.User{Name: "alice", PasswordHash: "x"}); err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	reg := prometheus.NewRegistry()
	srv, err := sshserver.New(sshserver.Config{
		HostKeys: hk, Users: store, Registry: forward.NewRegistry(log), Log: log,
		Metrics: sshserver.NewMetrics(reg),
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	h := New(Config{
		Context: ctx, SSH: srv, Log: log,
		Metrics: promhttp.HandlerFor(reg, promhttp.HandlerOpts{}),
		Sessions: func(next http.Handler) http.Handler {
			return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				next.ServeHTTP(w, webapi.Provide(r, func() (*webapi.Session, bool) {
					if c, err := r.Cookie("test-session"); err != nil || c.Value != "alice" {
						return nil, false
					}
					return &webapi.Session{User: "alice"}, true
				}))
			})
		},
	})
	ts := httptest.NewServer(h)
	t.Cleanup(func() { cancel(); srv.Shutdown(); ts.Close() })
	return ts
}

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

func TestHealthAndMetrics(t *testing.T) {
	ts := newTestServer(t)
	if code, body := get(t, ts.URL+"/healthz"); code != 200 || body != "ok\n" {
		t.Errorf("/healthz: %d %q", code, body)
	}
	// A failed handshake shows in the metrics.
	c, err := bridge.Dial(context.Background(), "ws"+strings.TrimPrefix(ts.URL, "http")+"/ssh", bridge.DialOptions{})
	if err != nil {
		t.Fatal(err)
	}
	c.Write(append([]byte("SSH-2.0-x\r\n"), strings.Repeat("\xff", 64)...)) // an impossible packet length
	io.Copy(io.Discard, c)
	c.Close()
	deadline := time.Now().Add(5 * time.Second)
	for {
		_, body := get(t, ts.URL+"/metrics")
		if strings.Contains(body, "tubegate_handshake_failures_total 1") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("/metrics never counted the failed handshake:\n%s", body)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestForeignOriginRefused(t *testing.T) {
	ts := newTestServer(t)
	req, _ := http.NewRequest("GET", ts.URL+"/ssh", nil)
	req.Header.Set("Origin", "https://evil.example")
	req.Header.Set("Connection", "Upgrade")
	req.Header.Set("Upgrade", "websocket")
	req.Header.Set("Sec-WebSocket-Version", "13")
	req.Header.Set("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ==")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Errorf("foreign origin: %d, want 403", resp.StatusCode)
	}
}

// sshOverWS runs an SSH handshake with no credentials over /ssh.
func sshOverWS(t *testing.T, ts *httptest.Server, header http.Header) error {
	t.Helper()
	u := "ws" + strings.TrimPrefix(ts.URL, "http") + "/ssh"
	c, err := bridge.Dial(context.Background(), u, bridge.DialOptions{Header: header})
	if err != nil {
		return err
	}
	defer c.Close()
	sc, chans, reqs, err := ssh.NewClientConn(c, "gw", &ssh.ClientConfig{
		User: "whoever", HostKeyCallback: ssh.InsecureIgnoreHostKey(), Timeout: 5 * time.Second,
	})
	if err != nil {
		return err
	}
	client := ssh.NewClient(sc, chans, reqs)
	defer client.Close()
	sess, err := client.NewSession()
	if err != nil {
		return err
	}
	out, err := sess.Output("status")
	if err == nil && !strings.Contains(string(out), "you are alice") {
		t.Errorf("status as cookie user: %q", out)
	}
	return err
}

func TestCookieAuthorizesTube(t *testing.T) {
	ts := newTestServer(t)
	if err := sshOverWS(t, ts, http.Header{"Cookie": {"test-session=alice"}}); err != nil {
		t.Errorf("tube with a session cookie: %v", err)
	}
	if err := sshOverWS(t, ts, nil); err == nil {
		t.Error("tube with neither cookie nor credentials was accepted")
	}
	same := http.Header{"Cookie": {"test-session=alice"}, "Origin": {ts.URL}}
	if err := sshOverWS(t, ts, same); err != nil {
		t.Errorf("tube from the gateway's own origin: %v", err)
	}
}

func TestLoopbackOnly(t *testing.T) {
	h := LoopbackOnly(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("ok")) }))
	for remote, want := range map[string]int{
		"127.0.0.1:5000": 200, "[::1]:5000": 200, "127.0.0.2:1": 200,
		"192.0.2.7:5000": 403, "[2001:db8::1]:443": 403, "garbage": 403,
	} {
		rec := httptest.NewRecorder()
		req := httptest.NewRequest("GET", "/metrics", nil)
		req.RemoteAddr = remote
		h.ServeHTTP(rec, req)
		if rec.Code != want {
			t.Errorf("from %s: %d, want %d", remote, rec.Code, want)
		}
	}
}

func TestAPIRefusalsLogged(t *testing.T) {
	var logs bytes.Buffer
	h := New(Config{
		Context: context.Background(), Log: slog.New(slog.NewTextHandler(&logs, nil)),
		Mount: []func(chi.Router){func(r chi.Router) {
			r.Post("/api/refuse", func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(http.StatusForbidden)
				w.Write([]byte(`{"error":"missing or wrong CSRF token"}` + "\n"))
			})
			r.Post("/api/fine", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) })
			r.Get("/other", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusForbidden) })
		}},
	})
	for _, path := range []string{"/api/refuse", "/api/fine", "/other"} {
		method := "POST"
		if path == "/other" {
			method = "GET"
		}
		req := httptest.NewRequest(method, path, nil)
		req.RemoteAddr = "192.0.2.7:4242"
		h.ServeHTTP(httptest.NewRecorder(), req)
	}
	want := `level=INFO msg="web API refused" method=POST path=/api/refuse status=403 reason="missing or wrong CSRF token" remote=192.0.2.7:4242`
	if !strings.Contains(logs.String(), want) {
		t.Errorf("want a line with\n%s\ngot\n%s", want, logs.String())
	}
	if n := strings.Count(logs.String(), "web API refused"); n != 1 {
		t.Errorf("%d refusal lines, want 1 (only the /api/ refusal):\n%s", n, logs.String())
	}
}
