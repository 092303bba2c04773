package audit

import "sync"

// DefaultFirstSeen is how many (key, source) pairs a FirstSeen remembers.
const DefaultFirstSeen = 10000

// FirstSeen remembers which sources have used which keys (share links),
// so that only the first use per source is recorded. It is bounded: past
// its size the oldest pair is forgotten, and a source seen again after
// that is recorded again (more records, never fewer).
type FirstSeen struct {
	mu    sync.Mutex
	max   int
	seen  map[[2]string]struct{}
	order [][2]string // insertion order, a queue
}

// NewFirstSeen remembers up to max pairs (0: DefaultFirstSeen).
func NewFirstSeen(max int) *FirstSeen {
	if max <= 0 {
		max = DefaultFirstSeen
	}
	return &FirstSeen{max: max, seen: make(map[[2]string]struct{})}
}

// First reports whether source has not used key before, and remembers it.
func (f *FirstSeen) First(key, source string) bool {
	k := [2]string{key, source}
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.seen[k]; ok {
		return false
	}
	if len(f.order) >= f.max {
		delete(f.seen, f.order[0])
		f.order = f.order[1:]
	}
	f.seen[k] = struct{}{}
	f.order = append(f.order, k)
	return true
}

// Len is how many pairs are remembered.
func (f *FirstSeen) Len() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.seen)
}
