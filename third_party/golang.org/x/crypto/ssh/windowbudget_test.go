// Copyright 2026 The Tubegate Authors. Patch to golang.org/x/crypto/ssh;
// see third_party/patches/x-crypto-0012-channel-windows-from-a-budget.patch.

package ssh

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"io"
	"net"
	"sync"
	"testing"
	"time"
)

// testBudget lends from a fixed capacity.
type testBudget struct {
	mu        sync.Mutex
	cap, left uint32
}

func newTestBudget(capacity uint32) *testBudget { return &testBudget{cap: capacity, left: capacity} }

func (b *testBudget) Take(want, min uint32) uint32 {
	b.mu.Lock()
	defer b.mu.Unlock()
	n := want
	if b.left < want {
		n = b.left
	}
	if n < min {
		return 0
	}
	b.left -= n
	return n
}

func (b *testBudget) Give(n uint32) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.left += n
	if b.left > b.cap {
		panic("budget given back more than it lent")
	}
}

func (b *testBudget) lent() uint32 {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.cap - b.left
}

// budgetPair connects a client to a server whose channels take their
// windows from b, and returns the client and the server's channels as
// they are accepted.
func budgetPair(t *testing.T, b WindowBudget) (*Client, <-chan Channel) {
	t.Helper()
	_, priv, _ := ed25519.GenerateKey(rand.Reader)
	signer, err := NewSignerFromKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	conf := &ServerConfig{NoClientAuth: true, WindowBudget: func(ConnMetadata) WindowBudget { return b }}
	conf.AddHostKey(signer)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	accepted := make(chan Channel, 16)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		sc, chans, reqs, err := NewServerConn(c, conf)
		if err != nil {
			return
		}
		t.Cleanup(func() { sc.Close() })
		go DiscardRequests(reqs)
		for nc := range chans {
			ch, creqs, err := nc.Accept()
			if err != nil {
				continue
			}
			go DiscardRequests(creqs)
			accepted <- ch
		}
	}()
	client, err := Dial("tcp", ln.Addr().String(), &ClientConfig{HostKeyCallback: InsecureIgnoreHostKey()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Close() })
	return client, accepted
}

// waitFor polls cond until it holds or 10 s pass.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for end := time.Now().Add(10 * time.Second); !cond(); {
		if time.Now().After(end) {
			t.Fatalf("after 10 s: %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestWindowBudgetRefusesPastIt: a connection whose budget lends three
// initial windows opens three channels; the fourth is refused with
// ResourceShortage, and opens once one of the three is closed.
func TestWindowBudgetRefusesPastIt(t *testing.T) {
	b := newTestBudget(3 * BudgetInitialWindow)
	client, accepted := budgetPair(t, b)
	var chans []Channel
	for i := 0; i < 3; i++ {
		ch, reqs, err := client.OpenChannel("test", nil)
		if err != nil {
			t.Fatalf("channel %d: %v", i, err)
		}
		go DiscardRequests(reqs)
		chans = append(chans, ch)
		<-accepted
	}
	_, _, err := client.OpenChannel("test", nil)
	var oe *OpenChannelError
	if !errors.As(err, &oe) || oe.Reason != ResourceShortage {
		t.Fatalf("a fourth channel past the budget: %v, want an open failure with ResourceShortage", err)
	}
	chans[0].Close()
	waitFor(t, "the closed channel's window given back", func() bool { return b.lent() == 2*BudgetInitialWindow })
	if _, _, err := client.OpenChannel("test", nil); err != nil {
		t.Fatalf("a channel once one was closed: %v", err)
	}
}

// TestWindowBudgetBoundsUnreadData: three channels whose server never
// reads, each sent 1 MiB: the server holds no more than the budget, and
// the writers wait. Once the channels are gone and closed, unread, the
// budget has it all back.
func TestWindowBudgetBoundsUnreadData(t *testing.T) {
	const capacity = 512 << 10
	b := newTestBudget(capacity)
	client, accepted := budgetPair(t, b)
	var server []*channel
	done := make(chan struct{}, 3)
	for i := 0; i < 3; i++ {
		ch, reqs, err := client.OpenChannel("test", nil)
		if err != nil {
			t.Fatal(err)
		}
		go DiscardRequests(reqs)
		server = append(server, (<-accepted).(*channel))
		go func() { ch.Write(make([]byte, 1<<20)); done <- struct{}{} }()
	}
	unread := func() (n uint32) {
		for _, ch := range server {
			ch.windowMu.Lock()
			n += ch.maxWindow - ch.myWindow - ch.myConsumed
			ch.windowMu.Unlock()
		}
		return n
	}
	waitFor(t, "every window lent filled", func() bool { return unread() == b.lent() })
	if n := unread(); n > capacity {
		t.Fatalf("the server holds %d unread bytes, past the budget of %d", n, capacity)
	}
	select {
	case <-done:
		t.Fatal("a writer finished 1 MiB with the budget at 512 KiB")
	default:
	}
	// Closed on both sides with their data unread, the channels give it
	// all back: the server's side will not read it.
	client.Close()
	for _, ch := range server {
		ch.Close()
	}
	waitFor(t, "the unread windows given back", func() bool { return b.lent() == 0 })
}

// TestWindowBudgetGrowsAndGivesBack: one channel carries 8 MiB to a
// reader that keeps up: its window grows from the initial one, every byte
// arrives, and once the channel is closed the budget has it all back.
func TestWindowBudgetGrowsAndGivesBack(t *testing.T) {
	b := newTestBudget(4 << 20)
	client, accepted := budgetPair(t, b)
	ch, reqs, err := client.OpenChannel("test", nil)
	if err != nil {
		t.Fatal(err)
	}
	go DiscardRequests(reqs)
	srv := (<-accepted).(*channel)
	want := make([]byte, 8<<20)
	rand.Read(want)
	go func() { ch.Write(want); ch.CloseWrite() }()
	var got bytes.Buffer
	if _, err := io.Copy(&got, srv); err != nil || !bytes.Equal(got.Bytes(), want) {
		t.Fatalf("read %d bytes (%v), not the %d sent", got.Len(), err, len(want))
	}
	srv.windowMu.Lock()
	grown := srv.maxWindow
	srv.windowMu.Unlock()
	if grown <= BudgetInitialWindow {
		t.Errorf("the window stayed at %d", grown)
	}
	srv.Close()
	waitFor(t, "the window given back", func() bool { return b.lent() == 0 })
}
