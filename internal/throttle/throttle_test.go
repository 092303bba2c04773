package throttle

import (
	"testing"
	"time"
)

func TestFailuresPerSourceAndWindow(t *testing.T) {
	f := New(3, time.Minute)
	now := time.Now()
	for i := 0; i < 3; i++ {
		if !f.allowed("10.0.0.1", now) {
			t.Fatalf("refused after %d failures, limit 3", i)
		}
		f.failed("10.0.0.1", now)
	}
	if f.allowed("10.0.0.1", now) {
		t.Error("allowed after 3 failures")
	}
	if !f.allowed("10.0.0.2", now) {
		t.Error("another source suffered")
	}
	if !f.allowed("10.0.0.1", now.Add(time.Minute+time.Second)) {
		t.Error("still refused after the window")
	}
	f.failed("10.0.0.2", now.Add(2*time.Minute)) // prunes the old window
	if len(f.fails) != 1 {
		t.Errorf("%d windows kept, want 1", len(f.fails))
	}
}

func TestSource(t *testing.T) {
	for in, want := range map[string]string{"10.1.2.3:555": "10.1.2.3", "[::1]:22": "::1", "pipe": "pipe"} {
		if got := Source(in); got != want {
			t.Errorf("Source(%q) = %q, want %q", in, got, want)
		}
	}
}
