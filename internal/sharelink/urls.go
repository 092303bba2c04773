package sharelink

import (
	"fmt"
	"net"
	"net/url"
	"strings"

	"github.com/tubegate/tubegate/internal/forward"
)

// URLs turns links into the addresses people are given.
type URLs struct {
	// Base is the gateway's public base URL, e.g. https://gw.example.com.
	Base string
	// ShareDomain, if set, serves links at TOKEN.ShareDomain and
	// NAME.ShareDomain (it may carry a :port). It must not be the domain
	// of the gateway's page.
	ShareDomain string
}

// PathPrefix is the URL path under which links are served on the
// gateway's own host.
const PathPrefix = "/s/"

func (u URLs) base() *url.URL {
	b, err := url.Parse(strings.TrimRight(u.Base, "/"))
	if err != nil || b.Host == "" {
		b = &url.URL{Scheme: "http", Host: "127.0.0.1:8080"}
	}
	return b
}

// Path is the link's URL under the gateway's own host.
func (u URLs) Path(token string) string {
	b := u.base()
	return b.Scheme + "://" + b.Host + strings.TrimRight(b.Path, "/") + PathPrefix + token + "/"
}

// Host is the URL of host-name label label under the share domain, or ""
// without one.
func (u URLs) Host(label string) string {
	if u.ShareDomain == "" || label == "" {
		return ""
	}
	return u.base().Scheme + "://" + label + "." + u.ShareDomain + "/"
}

// TCP is the address of a TCP link: the listener's own address when it
// is bound to one, else the gateway's public host name.
func (u URLs) TCP(l Link) string {
	a, err := forward.ParseAddress(l.Endpoint)
	if err != nil {
		return l.Endpoint
	}
	host := a.IP.String()
	if !a.IP.IsValid() || a.IP.IsUnspecified() {
		host = u.base().Hostname()
	}
	return net.JoinHostPort(host, fmt.Sprint(a.Port))
}

// Primary is the address to hand out for a link just made with token:
// the share-domain URL when there is a share domain (a tunnelled page
// then cannot touch the gateway's cookies), except for a link that needs
// a gateway login, whose cookie only the gateway's own host receives.
func (u URLs) Primary(l Link, token string) string {
	switch {
	case l.Kind == KindTCP:
		return u.TCP(l)
	case u.ShareDomain != "" && !l.LoginRequired:
		return u.Host(token)
	default:
		return u.Path(token)
	}
}

// Listed is what can still be shown for a link later, when its token is
// no longer known: a TCP address or a named host URL, else "".
func (u URLs) Listed(l Link) string {
	switch {
	case l.Kind == KindTCP:
		return u.TCP(l)
	case l.Name != "" && !l.LoginRequired:
		return u.Host(l.Name)
	}
	return ""
}
