package sshserver

import (
	"log/slog"
	"testing"

	"github.com/tubegate/tubegate/internal/forward"
)

// TestWindowBudgetLends: Take lends what is asked while there is that
// much, what is left if that is at least the minimum, else nothing; Give
// puts it back.
func TestWindowBudgetLends(t *testing.T) {
	b := &windowBudget{left: 100}
	for _, c := range []struct{ want, min, got uint32 }{
		{60, 60, 60},
		{60, 30, 40},
		{10, 1, 0},
	} {
		if got := b.Take(c.want, c.min); got != c.got {
			t.Fatalf("Take(%d, %d) = %d, want %d", c.want, c.min, got, c.got)
		}
	}
	b.Give(60)
	if got := b.Take(60, 60); got != 60 {
		t.Fatalf("after Give(60), Take(60, 60) = %d", got)
	}
}

// TestWindowBudgetIsPerUser: a user's tubes share one budget (of each
// kind: receive windows, and what resumable tubes keep unacknowledged), another
// user has their own, and a user's budget goes with their last tube.
func TestWindowBudgetIsPerUser(t *testing.T) {
	hk, store := newDataDir(t)
	s, err := New(Config{HostKeys: hk, Users: store, Registry: forward.NewRegistry(slog.New(slog.DiscardHandler))})
	if err != nil {
		t.Fatal(err)
	}
	var a1, a2, b1 tubeSlot
	for _, c := range []struct {
		slot *tubeSlot
		user string
	}{{&a1, "alice"}, {&a2, "alice"}, {&b1, "bob"}} {
		if _, ok := s.reserveTube(c.slot, c.user); !ok {
			t.Fatalf("reserve %s", c.user)
		}
	}
	if s.windowBudgetFor(&a1) != s.windowBudgetFor(&a2) {
		t.Error("alice's two tubes have two budgets")
	}
	if s.windowBudgetFor(&a1) == s.windowBudgetFor(&b1) {
		t.Error("alice and bob share a budget")
	}
	if a := s.unackedBudgetFor("alice"); a != s.unackedBudgetFor("alice") || a == s.unackedBudgetFor("bob") {
		t.Error("resume budgets: not one per user")
	}
	if left := s.unackedBudgetFor("bob").Left(); left != s.limits.MaxUnackedPerUser {
		t.Errorf("a new resume budget has %d, want --max-unacked-per-user's %d", left, s.limits.MaxUnackedPerUser)
	}
	first, firstUnacked := s.windowBudgetFor(&a1), s.unackedBudgetFor("alice")
	s.releaseTube(&a1)
	s.releaseTube(&a2)
	var again tubeSlot
	s.reserveTube(&again, "alice")
	if s.windowBudgetFor(&again) == first || s.unackedBudgetFor("alice") == firstUnacked {
		t.Error("alice's budget outlived her tubes")
	}
	if b := s.windowBudgetFor(&b1).(*windowBudget); b.left != s.limits.MaxWindowPerUser {
		t.Errorf("a new budget has %d, want --max-window-per-user's %d", b.left, s.limits.MaxWindowPerUser)
	}
}
