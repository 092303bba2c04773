package sharelink

import (
	"errors"
	"testing"
	"time"

	"github.com/tubegate/tubegate/internal/forward"
)

func TestVisitMaxUses(t *testing.T) {
	dir := t.TempDir()
	c := newClock()
	s := openStore(t, dir, c, 0)
	l, _, err := s.Create(Params{User: "alice", Endpoint: "app:80", MaxUses: 2}, forward.Policy{})
	if err != nil {
		t.Fatal(err)
	}
	v1, err := s.Visit(l.ID, "")
	if err != nil || v1 == "" {
		t.Fatalf("first visit: %q %v", v1, err)
	}
	if again, err := s.Visit(l.ID, v1); err != nil || again != v1 {
		t.Fatalf("returning visitor: %q %v", again, err)
	}
	// A second process sees the use taken, and takes the last one.
	other := openStore(t, dir, c, 0)
	if _, err := other.Visit(l.ID, ""); err != nil {
		t.Fatalf("second visit: %v", err)
	}
	for _, st := range []*Store{s, other} {
		if _, err := st.Visit(l.ID, "bogus"); !errors.Is(err, ErrUsedUp) {
			t.Fatalf("third visit: %v, want ErrUsedUp", err)
		}
	}
	if again, err := s.Visit(l.ID, v1); err != nil || again != v1 {
		t.Fatalf("returning visitor after used up: %q %v", again, err)
	}
	list, _ := openStore(t, dir, c, 0).List("alice")
	if len(list) != 1 || list[0].Uses() != 2 || list[0].MaxUses != 2 {
		t.Fatalf("listed: %+v", list)
	}
}

func TestVisitUnlimited(t *testing.T) {
	s := openStore(t, t.TempDir(), newClock(), time.Hour)
	l, _, err := s.Create(Params{User: "alice", Endpoint: "app:80"}, forward.Policy{})
	if err != nil {
		t.Fatal(err)
	}
	if v, err := s.Visit(l.ID, ""); err != nil || v != "" {
		t.Fatalf("visit: %q %v", v, err)
	}
	for _, n := range []int{-1, MaxUsesLimit + 1} {
		if _, _, err := s.Create(Params{User: "alice", Endpoint: "app:80", MaxUses: n}, forward.Policy{}); err == nil {
			t.Fatalf("max uses %d accepted", n)
		}
	}
}
