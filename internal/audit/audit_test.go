package audit

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func readEvents(t *testing.T, path string) []map[string]any {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []map[string]any
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("line %q: %v", sc.Text(), err)
		}
		out = append(out, m)
	}
	return out
}

func TestCloseWritesEverything(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.log")
	l, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 1000 {
		l.Record(Event{Event: TubeOpen, User: "alice", Tube: fmt.Sprintf("t%d", i), Outcome: Success})
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	ev := readEvents(t, path)
	if len(ev) != 1000 || l.Dropped() != 0 {
		t.Fatalf("%d events written, %d dropped; want 1000, 0", len(ev), l.Dropped())
	}
	for _, k := range []string{"time", "event", "user", "source", "tube", "outcome"} {
		if _, ok := ev[0][k]; !ok {
			t.Errorf("field %q missing from %v", k, ev[0])
		}
	}
	if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o600 {
		t.Errorf("mode %v, want 0600", fi.Mode().Perm())
	}
	l.Record(Event{Event: TubeOpen})
	if l.Dropped() != 1 {
		t.Errorf("an event after Close: dropped %d, want 1", l.Dropped())
	}
}

func TestAppendsToExistingFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.log")
	os.WriteFile(path, []byte(`{"event":"old"}`+"\n"), 0o600)
	l, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	l.Record(Event{Event: WebLogin, Outcome: Success})
	l.Close()
	if ev := readEvents(t, path); len(ev) != 2 || ev[0]["event"] != "old" {
		t.Fatalf("file after append: %v", ev)
	}
}

func TestReopenAfterRotation(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "audit.log")
	l, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	l.Record(Event{Event: TubeOpen, Tube: "t1"})
	if err := os.Rename(path, path+".1"); err != nil {
		t.Fatal(err)
	}
	l.Record(Event{Event: TubeOpen, Tube: "t2"}) // queued before the reopen: still the old file
	if err := l.Reopen(); err != nil {
		t.Fatal(err)
	}
	l.Record(Event{Event: TubeOpen, Tube: "t3"})
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	old, cur := readEvents(t, path+".1"), readEvents(t, path)
	if len(old) != 2 || len(cur) != 1 || cur[0]["tube"] != "t3" {
		t.Fatalf("rotated file %v, new file %v", old, cur)
	}
}

// blockedWriter blocks every write until released, then counts lines.
type blockedWriter struct {
	release chan struct{}
	lines   *int
}

func (b blockedWriter) Write(p []byte) (int, error) {
	<-b.release
	*b.lines += bytes.Count(p, []byte("\n"))
	return len(p), nil
}

func TestFullQueueDropsAndCounts(t *testing.T) {
	var lines int
	w := blockedWriter{release: make(chan struct{}), lines: &lines}
	l, err := Open("-", Options{Queue: 4, Stdout: w})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		// The writer holds one event in a blocked flush; 4 wait in the
		// queue; the rest must not block this goroutine.
		for range 100 {
			l.Record(Event{Event: TubeOpen})
		}
	}()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Record blocked behind a stuck writer")
	}
	d := l.Dropped()
	if d == 0 {
		t.Errorf("dropped none of 100 with a queue of 4 and a stuck writer")
	}
	close(w.release)
	l.Close()
	if uint64(lines)+d != 100 {
		t.Errorf("%d written + %d dropped, want 100", lines, d)
	}
	if n := len(l.Recent(0)); n != 100 {
		t.Errorf("recent keeps %d, want all 100", n)
	}
}

func TestStdout(t *testing.T) {
	r, w := io.Pipe()
	l, err := Open("-", Options{Stdout: w})
	if err != nil {
		t.Fatal(err)
	}
	go func() { l.Record(Event{Event: LinkCreate, Link: "abc"}); l.Close(); w.Close() }()
	b, _ := io.ReadAll(r)
	var e Event
	if err := json.Unmarshal(b, &e); err != nil || e.Link != "abc" {
		t.Fatalf("stdout %q: %v", b, err)
	}
}

func TestRecentNewestFirst(t *testing.T) {
	l, _ := Open("", Options{Recent: 3})
	defer l.Close()
	for i := range 5 {
		l.Record(Event{Tube: fmt.Sprint(i)})
	}
	got := l.Recent(10)
	if len(got) != 3 || got[0].Tube != "4" || got[2].Tube != "2" {
		t.Fatalf("recent %v", got)
	}
	if got := l.Recent(1); len(got) != 1 || got[0].Tube != "4" {
		t.Fatalf("recent(1) %v", got)
	}
}

func TestNilLog(t *testing.T) {
	var l *Log
	l.Record(Event{})
	if l.Recent(5) != nil || l.Dropped() != 0 || l.Reopen() != nil || l.Close() != nil {
		t.Fatal("a nil Log does something")
	}
}

func TestFirstSeenBounded(t *testing.T) {
	f := NewFirstSeen(3)
	if !f.First("l1", "a") || f.First("l1", "a") || !f.First("l1", "b") || !f.First("l2", "a") {
		t.Fatal("first use per (link, source) not told apart")
	}
	for i := range 100 {
		f.First("l3", fmt.Sprint(i))
	}
	if f.Len() != 3 {
		t.Fatalf("remembers %d pairs, want at most 3", f.Len())
	}
}

func TestResumeEvent(t *testing.T) {
	ok := Resume("alice", "127.0.0.1:5", "t3", nil)
	bad := Resume("alice", "127.0.0.1:5", "t3", errors.New("token used"))
	if ok.Event != TubeResume || ok.Outcome != Success || bad.Outcome != Refused || bad.Reason != "token used" {
		t.Fatalf("%+v %+v", ok, bad)
	}
}
