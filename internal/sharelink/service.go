package sharelink

import (
	"context"
	"errors"

	"github.com/tubegate/tubegate/internal/forward"
)

// Service makes links on behalf of a user, with the checks every place
// that makes links shares: the command line, the SSH command and the API.
type Service struct {
	Store *Store
	URLs  URLs
	// Policy returns a user's forwarding policy (for TCP links).
	Policy func(user string) (forward.Policy, error)
	// Registry, if set, is consulted so that a link can only be made for
	// an endpoint the user publishes right now. The command line, which
	// runs without the server, leaves it nil: the link then works once the
	// user publishes the endpoint.
	Registry *forward.Registry
}

// Created is a link just made, with the addresses to hand out.
type Created struct {
	Link
	// URL is the primary address (see URLs.Primary).
	URL string
	// PathURL is the address under the gateway's own host (HTTP links).
	PathURL string
	// HostURL is the address under the share domain, if there is one.
	HostURL string
}

// Create makes a link for p.User.
func (s *Service) Create(p Params) (Created, error) {
	addr, err := forward.ParseAddress(p.Endpoint)
	if err != nil {
		return Created{}, err
	}
	if s.Registry != nil {
		ep, err := s.Registry.Resolve(context.Background(), addr)
		if err != nil {
			return Created{}, err
		}
		if ep == nil || ep.Owner.User() != p.User {
			return Created{}, forward.Refusedf("you publish no endpoint %s (publish it first, e.g. ssh -R %s:localhost:PORT)",
				addr, addr)
		}
	}
	var pol forward.Policy
	if p.TCP {
		if s.Policy == nil {
			return Created{}, errors.New("share link: no policy source for TCP links")
		}
		if pol, err = s.Policy(p.User); err != nil {
			return Created{}, err
		}
	}
	l, token, err := s.Store.Create(p, pol)
	if err != nil {
		return Created{}, err
	}
	c := Created{Link: l, URL: s.URLs.Primary(l, token)}
	if l.Kind == KindHTTP {
		c.PathURL = s.URLs.Path(token)
		c.HostURL = s.URLs.Host(token)
	}
	return c, nil
}
