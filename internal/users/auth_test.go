package users

import (
	"errors"
	"os"
	"testing"
)

// TestMain checks, before any test can ask for it, that loading the
// package did not compute the dummy hash: a bcrypt at init costs every run
// of the binary tens of milliseconds (GODEBUG=inittrace=1 showed it).
func TestMain(m *testing.M) {
	if dummyHash.made.Load() {
		os.Stderr.WriteString("FAIL: internal/users computed its dummy bcrypt hash at package init\n")
		os.Exit(1)
	}
	os.Exit(m.Run())
}

func TestDummyHashMadeOnFirstUse(t *testing.T) {
	s, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.CheckPassword("nobody", "some password"); !errors.Is(err, ErrBadCredentials) {
		t.Fatalf("CheckPassword of an unknown user: %v, want ErrBadCredentials", err)
	}
	if !dummyHash.made.Load() {
		t.Fatal("an unknown user was refused without the dummy bcrypt: unknown names are cheaper to try than real ones")
	}
	if h := dummyHash.get(); len(h) == 0 || &h[0] != &dummyHash.get()[0] {
		t.Error("the dummy hash is not made once and kept")
	}
}
