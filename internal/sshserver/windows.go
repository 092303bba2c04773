package sshserver

import (
	"sync"

	"golang.org/x/crypto/ssh"

	"github.com/tubegate/tubegate/internal/resume"
)

// windowBudget is the receive window a user's channels share, across all
// their tubes (x/crypto patch 0012): what clients may send the gateway
// before the gateway's side reads it, and so what one user can make the
// gateway hold in channel buffers. A channel starts with a small window from
// it and grows while its reader keeps up; past it, channels are refused.
type windowBudget struct {
	mu   sync.Mutex
	left int64
}

// Take lends up to want bytes, at least min, or nothing.
func (b *windowBudget) Take(want, min uint32) uint32 {
	b.mu.Lock()
	defer b.mu.Unlock()
	n := int64(want)
	if b.left < n {
		n = b.left
	}
	if n < int64(min) || n <= 0 {
		return 0
	}
	b.left -= n
	return uint32(n)
}

// Give takes back n bytes lent by Take.
func (b *windowBudget) Give(n uint32) {
	b.mu.Lock()
	b.left += int64(n)
	b.mu.Unlock()
}

// windowBudgetFor returns the budget of the user slot is reserved for,
// made when their first tube opens; it goes when their last tube closes
// (forgetUserLocked). A slot with no user (not reached after a successful
// authentication) gets a budget of its own.
func (s *Server) windowBudgetFor(slot *tubeSlot) ssh.WindowBudget {
	s.mu.Lock()
	defer s.mu.Unlock()
	if slot.user == "" {
		return &windowBudget{left: s.limits.MaxWindowPerUser}
	}
	b := s.windows[slot.user]
	if b == nil {
		b = &windowBudget{left: s.limits.MaxWindowPerUser}
		s.windows[slot.user] = b
	}
	return b
}

// budgetSetter is a tube's connection that keeps what it sends until its
// client acknowledges it (a resumable WebSocket tube): a client that never
// does makes the gateway keep up to its bound (8 MiB) per tube, so a
// user's tubes share a budget for it (resume.Budget).
type budgetSetter interface{ SetBudget(*resume.Budget) }

// unackedBudgetFor returns the budget of user's resumable tubes, made with
// their first tube and dropped with their last (forgetUserLocked).
func (s *Server) unackedBudgetFor(user string) *resume.Budget {
	s.mu.Lock()
	defer s.mu.Unlock()
	b := s.unacked[user]
	if b == nil {
		b = resume.NewBudget(s.limits.MaxUnackedPerUser)
		s.unacked[user] = b
	}
	return b
}

// forgetUserLocked drops what the server keeps for a user with no tube
// left; s.mu is held.
func (s *Server) forgetUserLocked(user string) {
	delete(s.perUser, user)
	delete(s.windows, user)
	delete(s.unacked, user)
}
