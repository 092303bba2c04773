package sshserver

import (
	"context"
	"errors"
	"time"

	"github.com/tubegate/tubegate/internal/users"
)

// userCheckInterval is how often the users file is checked for deleted
// users; a stat, unless the file changed.
const userCheckInterval = time.Second

// WatchUsers closes the tubes of users who have been deleted, so that
// `gateway user del` cuts a user off within about a second: their
// forwards stop and their tubes end. It runs until ctx ends.
func (s *Server) WatchUsers(ctx context.Context) {
	tick := time.NewTicker(userCheckInterval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		for _, t := range s.liveTubes() {
			if _, err := s.cfg.Users.Get(t.user); errors.Is(err, users.ErrNotFound) {
				t.log.Warn("tube closed: user deleted")
				t.shutdown("your account was removed")
			}
		}
	}
}

func (s *Server) liveTubes() []*Tube {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]*Tube, 0, len(s.tubes))
	for t := range s.tubes {
		out = append(out, t)
	}
	return out
}
