package cluster

import (
	"bytes"
	"context"
	"errors"
	"testing"
	"time"

	"github.com/tubegate/tubegate/internal/cluster/redistest"
)

func TestOpenSecretAndHealth(t *testing.T) {
	srv := redistest.Start(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	a, err := Open(ctx, Config{URL: srv.URL(), NodeAddr: "http://127.0.0.1:1/", PingEvery: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := Open(ctx, Config{URL: srv.URL(), NodeID: "b"})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if a.NodeID() == "" || b.NodeID() != "b" || a.NodeAddr() != "http://127.0.0.1:1" {
		t.Fatalf("identity: %q %q %q", a.NodeID(), b.NodeID(), a.NodeAddr())
	}
	sa, err := a.Secret(ctx)
	if err != nil {
		t.Fatal(err)
	}
	sb, err := b.Secret(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(sa) != 32 || !bytes.Equal(sa, sb) {
		t.Fatalf("two nodes see different secrets: %x %x", sa, sb)
	}

	reconnected := make(chan struct{}, 1)
	a.OnReconnect(func(context.Context) { reconnected <- struct{}{} })
	go a.Run(ctx)
	srv.Stop()
	waitFor(t, func() bool { return errors.Is(a.Health(), ErrUnavailable) })
	srv.Restart()
	select {
	case <-reconnected:
	case <-time.After(10 * time.Second):
		t.Fatal("no reconnect hook after redis came back")
	}
	if err := a.Health(); err != nil {
		t.Fatalf("health after restart: %v", err)
	}
	// The secret survived the restart (append-only file).
	if s, err := a.Secret(ctx); err != nil || !bytes.Equal(s, sa) {
		t.Fatalf("secret after restart: %x %v", s, err)
	}
}

func TestOpenUnreachable(t *testing.T) {
	_, err := Open(context.Background(), Config{URL: "redis://:hunter2@127.0.0.1:1"})
	if !errors.Is(err, ErrUnavailable) {
		t.Fatalf("want ErrUnavailable, got %v", err)
	}
	if bytes.Contains([]byte(err.Error()), []byte("hunter2")) {
		t.Fatalf("password in error: %v", err)
	}
}

func TestRedact(t *testing.T) {
	for in, want := range map[string]string{
		"redis://:pw@h:1/0":      "redis://:xxxxx@h:1/0",
		"rediss://u:pw@h:1":      "rediss://u:xxxxx@h:1",
		"redis://h:1":            "redis://h:1",
		"redis://user@h:1":       "redis://user@h:1",
		"redis://:p@ss@h:6379/2": "redis://:xxxxx@h:6379/2",
	} {
		if got := Redact(in); got != want {
			t.Errorf("Redact(%q) = %q, want %q", in, got, want)
		}
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 10s")
		}
		time.Sleep(20 * time.Millisecond)
	}
}
