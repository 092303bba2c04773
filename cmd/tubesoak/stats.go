package main

import (
	"fmt"
	"sync"
	"sync/atomic"
)

// maxProblems bounds how many failure messages are kept (all are counted).
const maxProblems = 20

// stats counts streams by outcome, at the originator and at the target,
// and keeps the first failure messages.
type stats struct {
	ok, failed, expectedFailed, corrupted, stalled atomic.Int64
	payload                                        atomic.Int64 // bytes of complete streams

	tOK, tFailed, tCorrupted, tStalled atomic.Int64

	mu       sync.Mutex
	problems []problem // one per kind, in the order first seen
	nProblem int
}

// problem is one kind of failure: its first message and how often it
// happened.
type problem struct {
	kind, first string
	count       int
}

// stream records one stream seen from its originator. through names its
// path; expectFail says it ran through a client that was killed, so
// ending in an error is what it should do.
func (s *stats) stream(through string, expectFail bool, r result) {
	switch r.outcome {
	case outcomeOK:
		s.ok.Add(1)
		s.payload.Add(r.size)
	case outcomeFailed:
		if expectFail {
			s.expectedFailed.Add(1)
			return
		}
		s.failed.Add(1)
		s.problem("stream via "+through+" failed", "%v", r.err)
	case outcomeCorrupted:
		s.corrupted.Add(1)
		s.problem("stream via "+through+" corrupted", "%v", r.err)
	case outcomeStalled:
		s.stalled.Add(1)
		s.problem("stream via "+through+" stalled", "%d of %d bytes back: %v", r.echoed, r.size, r.err)
	}
}

// target records one stream seen from its target.
func (s *stats) target(r result) {
	switch r.outcome {
	case outcomeOK:
		s.tOK.Add(1)
	case outcomeFailed:
		s.tFailed.Add(1) // its originator or forwarder was killed, or it saw the error first
	case outcomeCorrupted:
		s.tCorrupted.Add(1)
		s.problem("stream corrupted at its target", "%v", r.err)
	case outcomeStalled:
		s.tStalled.Add(1)
		s.problem("stream stalled at its target", "%d of %d bytes: %v", r.echoed, r.size, r.err)
	}
}

// problem counts a failure of the soak of the given kind, keeping the
// first message of each kind (of the first maxProblems kinds).
func (s *stats) problem(kind, format string, args ...any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.nProblem++
	for i := range s.problems {
		if s.problems[i].kind == kind {
			s.problems[i].count++
			return
		}
	}
	if len(s.problems) < maxProblems {
		s.problems = append(s.problems, problem{kind: kind, first: fmt.Sprintf(format, args...), count: 1})
	}
}

// failures returns one line per kind of failure (with its count and first
// message) and how many failures there were in all.
func (s *stats) failures() ([]string, int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for _, p := range s.problems {
		out = append(out, fmt.Sprintf("%d× %s; first: %s", p.count, p.kind, p.first))
	}
	return out, s.nProblem
}

// total is every stream the originators finished.
func (s *stats) total() int64 {
	return s.ok.Load() + s.failed.Load() + s.expectedFailed.Load() + s.corrupted.Load() + s.stalled.Load()
}
