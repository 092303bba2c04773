package home

import (
	"bufio"
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/tubegate/tubegate/internal/forward"
	"github.com/tubegate/tubegate/internal/webapi"
)

type noPolicy struct{}

func (noPolicy) Policy(string) (forward.Policy, error) { return forward.Policy{}, nil }

type testOwner struct{ user string }

func (o *testOwner) User() string                   { return o.user }
func (o *testOwner) ID() string                     { return "t1" }
func (o *testOwner) Close() error                   { return nil }
func (o *testOwner) Probe(ctx context.Context) bool { return true }
func (o *testOwner) OpenForwarded(context.Context, *forward.Endpoint, net.Addr) (net.Conn, error) {
	return nil, net.ErrClosed
}

// server serves the home API with every request logged in as alice.
func server(t *testing.T, ctx context.Context, reg *forward.Registry) *httptest.Server {
	t.Helper()
	api := New(Config{Context: ctx, Registry: reg, Users: noPolicy{}, PublicURL: "https://gw.test",
		Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	r := chi.NewRouter()
	r.Use(func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
			next.ServeHTTP(w, webapi.Provide(req, func() (*webapi.Session, bool) { return &webapi.Session{User: "alice", CSRF: "x"}, true }))
		})
	})
	api.Mount(r)
	srv := httptest.NewServer(r)
	t.Cleanup(srv.Close)
	return srv
}

func TestEventsFollowTheRegistryAndAreCapped(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	reg := forward.NewRegistry(slog.New(slog.NewTextHandler(io.Discard, nil)))
	srv := server(t, ctx, reg)
	resp, err := http.Get(srv.URL + "/api/home/events")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); ct != "text/event-stream" {
		t.Fatalf("content type %q", ct)
	}
	lines := bufio.NewScanner(resp.Body)
	next := func() string {
		for lines.Scan() {
			if d, ok := strings.CutPrefix(lines.Text(), "data: "); ok {
				return d
			}
		}
		t.Fatalf("stream ended: %v", lines.Err())
		return ""
	}
	if first := next(); !strings.Contains(first, `"entries":[]`) || !strings.Contains(first, `"public_url":"https://gw.test"`) {
		t.Fatalf("first event: %s", first)
	}
	if _, err := reg.Publish(context.Background(), &testOwner{user: "alice"}, forward.Policy{}, "myhost.alice", 22); err != nil {
		t.Fatal(err)
	}
	if ev := next(); !strings.Contains(ev, `"target":"myhost.alice:22"`) || !strings.Contains(ev, `"state":"online"`) {
		t.Fatalf("event after publishing: %s", ev)
	}
	// The 16 streams a user may hold: this one and 15 more; the 17th is refused.
	var more []*http.Response
	for range MaxStreamsPerUser - 1 {
		r, err := http.Get(srv.URL + "/api/home/events")
		if err != nil || r.StatusCode != http.StatusOK {
			t.Fatalf("stream: %v %v", r, err)
		}
		more = append(more, r)
	}
	r, err := http.Get(srv.URL + "/api/home/events")
	if err != nil || r.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("stream %d: %v %v, want 429", MaxStreamsPerUser+1, r.Status, err)
	}
	r.Body.Close()
	for _, r := range more {
		r.Body.Close()
	}
	// The gateway stopping ends the streams.
	cancel()
	done := make(chan struct{})
	go func() { io.Copy(io.Discard, resp.Body); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("the stream outlived the gateway's context")
	}
}
