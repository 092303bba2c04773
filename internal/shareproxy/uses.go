package shareproxy

import (
	"errors"
	"net/http"
	"time"

	"github.com/tubegate/tubegate/internal/audit"
	"github.com/tubegate/tubegate/internal/edge"
	"github.com/tubegate/tubegate/internal/sharelink"
)

// visitCookie names the cookie that marks a viewer who took one of a
// link's uses. Its "tubegate" prefix keeps it from the tunnelled service
// and out of the service's reach (see gatewayCookie).
func visitCookie(id string) string { return "tubegate_visit_" + id }

// admitVisit counts a viewer against a link with max uses, after the
// guards: a viewer with the link's visit cookie comes in again; a new one
// takes a use and gets the cookie; with every use taken the link answers
// "used up". It reports whether the request may pass; if not, it has
// answered.
func (p *Proxy) admitVisit(w http.ResponseWriter, r *http.Request, l sharelink.Link, prefix string) bool {
	if l.MaxUses == 0 {
		return true
	}
	name := visitCookie(l.ID)
	var have string
	if c, err := r.Cookie(name); err == nil {
		have = c.Value
	}
	visit, err := p.cfg.Links.Store.Visit(l.ID, have)
	switch {
	case errors.Is(err, sharelink.ErrUsedUp):
		p.recordUse(l, r.RemoteAddr, audit.Failed, "used up")
		p.log.Info("share link: refused a new viewer, every use is taken", "link", l.ID, "remote", r.RemoteAddr, "max_uses", l.MaxUses)
		writePage(w, pageUsedUp)
		return false
	case errors.Is(err, sharelink.ErrNotFound):
		writeGone(w, r, false)
		return false
	case errors.Is(err, sharelink.ErrUnavailable):
		p.log.Warn("share link: use not counted: cluster unavailable", "link", l.ID, "err", err)
		writePage(w, pageUnavailable)
		return false
	case err != nil:
		p.log.Error("share link: use not counted", "link", l.ID, "err", err)
		writePage(w, pageBusy)
		return false
	}
	if visit != have {
		path := prefix + "/"
		if prefix == "" {
			path = "/"
		}
		http.SetCookie(w, &http.Cookie{Name: name, Value: visit, Path: path, HttpOnly: true,
			Secure: edge.Scheme(r) == "https", SameSite: http.SameSiteLaxMode,
			Expires: p.cfg.Links.Store.ExpiresAt(&l).Add(time.Minute)})
		p.log.Info("share link: a use was taken", "link", l.ID, "remote", r.RemoteAddr, "uses", l.Uses()+1, "max_uses", l.MaxUses)
	}
	return true
}
