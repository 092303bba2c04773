package procs

import (
	"runtime"
	"testing"
)

func TestOneUnlessSet(t *testing.T) {
	was := runtime.GOMAXPROCS(0)
	t.Cleanup(func() { runtime.GOMAXPROCS(was) })

	runtime.GOMAXPROCS(3)
	t.Setenv("GOMAXPROCS", "")
	One()
	if got := runtime.GOMAXPROCS(0); got != 1 {
		t.Fatalf("GOMAXPROCS unset: a client runs with %d Ps, want 1", got)
	}

	runtime.GOMAXPROCS(3)
	t.Setenv("GOMAXPROCS", "3")
	One()
	if got := runtime.GOMAXPROCS(0); got != 3 {
		t.Fatalf("GOMAXPROCS=3 set: a client runs with %d Ps, want 3 (the environment rules)", got)
	}
}
