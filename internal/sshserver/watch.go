package sshserver

import (
	"context"
	"time"
)

// userCheckInterval is how often the users file is checked for deleted
// users; a stat, unless the file changed.
const userCheckInterval = time.Second

// WatchUsers closes the tubes of users who have been deleted, so that
// `gateway user del` cuts a user off within about a second: their
// forwards stop and their tubes end. It also closes browser tubes whose
// web session has ended (new credentials, `gateway user sessions
// --revoke`). It runs until ctx ends.
func (s *Server) WatchUsers(ctx context.Context) {
	tick := time.NewTicker(userCheckInterval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		list, err := s.cfg.Users.List() // one look at the file, whatever the tubes
		if err != nil {
			continue // a broken file keeps the last good users: next tick
		}
		exists := make(map[string]bool, len(list))
		for _, u := range list {
			exists[u.Name] = true
		}
		var gone, ended []*Tube
		for _, t := range s.liveTubes() {
			switch {
			case !exists[t.user]:
				t.log.Warn("tube closed: user deleted")
				gone = append(gone, t)
			case t.alive != nil && !t.alive():
				t.log.Warn("tube closed: its web session ended")
				ended = append(ended, t)
			}
		}
		if len(gone) > 0 && !s.shutdownTubes(gone, "your account was removed") {
			s.log.Warn("some tubes of deleted users did not close in time", "tubes", len(gone))
		}
		if len(ended) > 0 && !s.shutdownTubes(ended, "your web session ended: log in again") {
			s.log.Warn("some tubes of ended web sessions did not close in time", "tubes", len(ended))
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
