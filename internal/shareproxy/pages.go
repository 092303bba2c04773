package shareproxy

import (
	"html/template"
	"net/http"
	"strings"
)

var pageTemplate = template.Must(template.New("page").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width">
<meta name="robots" content="noindex"><title>{{.Title}} · Tubegate</title>
<style>body{font:16px/1.5 system-ui,sans-serif;max-width:40em;margin:4em auto;padding:0 1em;color:#222}
h1{font-size:1.4em}p.code{color:#777}</style></head>
<body><h1>{{.Title}}</h1><p>{{.Text}}</p><p class="code">HTTP {{.Status}} · Tubegate share link</p></body></html>
`))

type page struct {
	Status      int
	Title, Text string
}

// writeGone answers 404 for a link that is not there: "this link was revoked"
// for a revoked one (HTML for a browser, plain text for anything else),
// else the not-found page.
func writeGone(w http.ResponseWriter, r *http.Request, revoked bool) {
	if !revoked {
		writePage(w, pageNotFound)
		return
	}
	if strings.Contains(r.Header.Get("Accept"), "text/html") {
		writePage(w, pageRevoked)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/plain; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(pageRevoked.Status)
	_, _ = w.Write([]byte("this link was revoked\n"))
}

// writePage answers with a small HTML page. Error pages are never cached
// and never framed.
func writePage(w http.ResponseWriter, p page) {
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'")
	w.WriteHeader(p.Status)
	_ = pageTemplate.Execute(w, p)
}

var (
	pageRevoked = page{http.StatusNotFound, "This link was revoked",
		"This link was revoked by the person who shared it; it no longer leads anywhere. Ask them for a new link if you still need it."}
	pageNotFound = page{http.StatusNotFound, "Link not found",
		"This share link does not exist: it may have expired or been revoked, or the address is mistyped."}
	pageOffline = page{http.StatusBadGateway, "The tunnel behind this link is offline",
		"The link is valid, but the tunnel behind this link is offline: the computer that shares this service is not connected to the gateway right now. The link works again as soon as it reconnects; try again later."}
	pageBadGateway = page{http.StatusBadGateway, "The shared service did not answer",
		"The tunnel behind this link is up, but the service it leads to did not give a valid answer."}
	pageLogin = page{http.StatusUnauthorized, "Log in to open this link",
		"This share link is only for people logged in to this gateway. Log in on the gateway's page, then open the link again."}
	pageLoginHost = page{http.StatusForbidden, "Open this link on the gateway's own address",
		"This share link is only for people logged in to the gateway, and the login does not reach this domain. Ask for the link's /s/ address on the gateway."}
	pageBasicAuth = page{http.StatusUnauthorized, "User name and password needed",
		"This share link is protected by a user name and password."}
	pageUsedUp = page{http.StatusGone, "This link has been used up",
		"This share link could be opened a set number of times, and every one has been taken. Ask the person who shared it for a new link."}
	pageThrottled = page{http.StatusTooManyRequests, "Too many wrong passwords",
		"Too many wrong passwords came from your address. Wait a minute, then try again."}
	pageUnavailable = page{http.StatusServiceUnavailable, "The gateway cannot look this link up right now",
		"Cluster unavailable: redis unreachable. The gateway cannot check this link right now; try again in a moment."}
	pageBusy = page{http.StatusServiceUnavailable, "The password could not be checked",
		"The gateway is busy checking passwords. Try again in a moment."}
)
