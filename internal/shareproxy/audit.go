package shareproxy

import (
	"context"
	"net"
	"time"

	"github.com/tubegate/tubegate/internal/audit"
	"github.com/tubegate/tubegate/internal/sharelink"
)

// linkWatchInterval is how often the links are compared with the last
// look, for links that expired and links made or revoked by another
// process (gateway link).
const linkWatchInterval = time.Second

// RecordLink writes a link.create or link.revoke made in this process
// (the page, an admin, the SSH link command) to the audit log, so that
// the watch of the links (see watchLinks) does not write it again as made
// elsewhere.
func (p *Proxy) RecordLink(e audit.Event) {
	p.noteMu.Lock()
	p.noted[e.Event+" "+e.Link] = time.Now()
	p.noteMu.Unlock()
	p.cfg.Audit.Record(e)
}

// noted reports, once, whether event for link was recorded by RecordLink.
func (p *Proxy) takeNoted(event, link string) bool {
	p.noteMu.Lock()
	defer p.noteMu.Unlock()
	_, ok := p.noted[event+" "+link]
	delete(p.noted, event+" "+link)
	return ok
}

// forgetNoted drops what RecordLink noted before then and the watch never
// saw (a link made and revoked between two looks), so the set stays small.
func (p *Proxy) forgetNoted(before time.Time) {
	p.noteMu.Lock()
	defer p.noteMu.Unlock()
	for k, at := range p.noted {
		if at.Before(before) {
			delete(p.noted, k)
		}
	}
}

// recordUse writes link.use for the first request through l from the
// request's source address (bounded, see audit.FirstSeen).
func (p *Proxy) recordUse(l sharelink.Link, remote, outcome, reason string) {
	if p.cfg.Audit == nil {
		return
	}
	host, _, err := net.SplitHostPort(remote)
	if err != nil {
		host = remote
	}
	if !p.seen.First(l.ID, host) {
		return
	}
	p.cfg.Audit.Record(audit.Event{Event: audit.LinkUse, User: l.User, Source: remote, Outcome: outcome,
		Reason: reason, Link: l.ID, Endpoint: l.Endpoint})
}

// watchLinks writes link.expire for links that expired, and link.create
// and link.revoke for changes this process did not record itself (made by
// `gateway link` in another process, By "cli"), until ctx ends.
func (p *Proxy) watchLinks(ctx context.Context, interval time.Duration) {
	store := p.cfg.Links.Store
	list := func() map[string]sharelink.Link {
		links, err := store.All()
		if err != nil {
			return nil
		}
		m := make(map[string]sharelink.Link, len(links))
		for _, l := range links {
			m[l.ID] = l
		}
		return m
	}
	prev := list()
	expired := make(map[string]bool) // link.expire written, the link not yet swept
	for id, l := range prev {
		expired[id] = !time.Now().Before(store.ExpiresAt(&l))
	}
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		cur := list()
		if cur == nil {
			continue // the store could not be read: next tick
		}
		now := time.Now()
		p.forgetNoted(now.Add(-time.Minute))
		for id, l := range cur {
			if _, ok := prev[id]; !ok && !p.takeNoted(audit.LinkCreate, id) {
				p.cfg.Audit.Record(audit.Event{Event: audit.LinkCreate, User: l.User, Outcome: audit.Success,
					By: "cli", Link: id, Endpoint: l.Endpoint})
			}
			if !expired[id] && !now.Before(store.ExpiresAt(&l)) {
				expired[id] = true
				p.cfg.Audit.Record(audit.Event{Event: audit.LinkExpire, User: l.User, Outcome: audit.Success,
					Link: id, Endpoint: l.Endpoint})
			}
		}
		for id, l := range prev {
			if _, ok := cur[id]; ok {
				continue
			}
			switch {
			case p.takeNoted(audit.LinkRevoke, id), expired[id]:
			case !now.Before(store.ExpiresAt(&l)):
				p.cfg.Audit.Record(audit.Event{Event: audit.LinkExpire, User: l.User, Outcome: audit.Success,
					Link: id, Endpoint: l.Endpoint})
			default:
				p.cfg.Audit.Record(audit.Event{Event: audit.LinkRevoke, User: l.User, Outcome: audit.Success,
					By: "cli", Link: id, Endpoint: l.Endpoint})
			}
			delete(expired, id)
		}
		prev = cur
	}
}
