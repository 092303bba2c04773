package shareproxy

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net/http"

	"github.com/tubegate/tubegate/internal/sharelink"
	"github.com/tubegate/tubegate/internal/throttle"
	"github.com/tubegate/tubegate/internal/webapi"
)

// maxAuthCache bounds the remembered basic-auth successes; past it the
// cache starts over (a cost of one bcrypt per viewer, not a failure).
const maxAuthCache = 4096

// guard applies a link's guards and reports whether the request may pass;
// if not, it has answered.
func (p *Proxy) guard(w http.ResponseWriter, r *http.Request, l sharelink.Link, prefix string) bool {
	if l.LoginRequired {
		if prefix == "" {
			// A host-name link lives on the share domain, where the
			// gateway's session cookie is (rightly) never sent.
			writePage(w, pageLoginHost)
			return false
		}
		if _, ok := webapi.UserOf(r); !ok {
			writePage(w, pageLogin)
			return false
		}
	}
	if l.HasBasicAuth() {
		user, pass, ok := r.BasicAuth()
		if ok {
			var err error
			ok, err = p.checkBasic(r, l, user, pass)
			if err != nil {
				p.log.Warn("share link: basic auth not checked", "link", l.ID, "remote", r.RemoteAddr, "err", err)
				if errors.Is(err, throttle.ErrThrottled) {
					writePage(w, pageThrottled)
				} else {
					writePage(w, pageBusy)
				}
				return false
			}
		}
		if !ok {
			w.Header().Set("WWW-Authenticate", `Basic realm="Tubegate share link", charset="UTF-8"`)
			writePage(w, pageBasicAuth)
			return false
		}
	}
	return true
}

// checkBasic checks credentials against the link, remembering successes
// so that a page with many resources costs one bcrypt, not one each. A
// check that is not remembered counts against the request's source like
// every other password check (see throttle.Failures.Check).
func (p *Proxy) checkBasic(r *http.Request, l sharelink.Link, user, pass string) (bool, error) {
	sum := sha256.Sum256([]byte(l.ID + "\x00" + l.BasicAuthHash + "\x00" + user + "\x00" + pass))
	key := hex.EncodeToString(sum[:])
	p.authMu.Lock()
	_, ok := p.authCache[key]
	p.authMu.Unlock()
	if ok {
		return true, nil
	}
	ok, err := p.cfg.Failures.Check(r.Context(), "share", throttle.Source(r.RemoteAddr), func() bool {
		return l.CheckBasicAuth(user, pass)
	})
	if err != nil {
		return false, err
	}
	if !ok {
		p.log.Info("share link: wrong basic auth", "link", l.ID, "remote", r.RemoteAddr)
		return false, nil
	}
	p.authMu.Lock()
	if len(p.authCache) >= maxAuthCache {
		clear(p.authCache)
	}
	p.authCache[key] = struct{}{}
	p.authMu.Unlock()
	return true, nil
}
