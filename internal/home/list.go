// Package home is the page's "Hosts and services": every endpoint a user
// may reach (their own names and ports from any tube, and what their
// permit-open grants), with its state, kept current over Server-Sent Events.
package home

import (
	"net"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/tubegate/tubegate/internal/forward"
)

// Entry is one endpoint on the home list.
type Entry struct {
	// Target is what the console and ssh -J take: NAME:PORT or HOST:PORT.
	Target string `json:"target"`
	// Endpoint is the gateway's endpoint key, which share links name
	// ("" for a destination).
	Endpoint string `json:"endpoint,omitempty"`
	Host     string `json:"host"`
	Port     int    `json:"port"`
	// Kind: "name" (a virtual name), "port" (a published port) or
	// "destination" (a real host:port the user's permit-open names).
	Kind string `json:"kind"`
	// State: "online", "offline" or, for a destination, "allowed" (the
	// gateway dials it on demand; whether it answers is not known).
	State string `json:"state"`
	// Since: online since, or offline since (zero: never seen).
	Since time.Time `json:"since,omitzero"`
	// Publisher is the user who publishes it ("" for a destination).
	Publisher string `json:"publisher,omitempty"`
	// Mine: published by the user themself (links can be made to it).
	Mine bool `json:"mine"`
	// From is the address of the publishing tube, for the user's own
	// endpoints only: another user's address is theirs (Teleport shows a
	// tunnelled node as "Tunnel", not its agent's address).
	From string `json:"from,omitempty"`
	// Conns is the number of live connections through the endpoint (0 for
	// an endpoint on another node: counted there).
	Conns int64 `json:"conns"`
	// Node is the cluster node whose tube holds the endpoint, for an
	// endpoint on another node than the one serving the list ("" else).
	Node string `json:"node,omitempty"`
}

// List is the answer of GET /api/home and of each SSE event.
type List struct {
	User string `json:"user"`
	// PublicURL is the gateway's public base URL (--url, or the address
	// served): the page builds ssh commands with it.
	PublicURL string  `json:"public_url"`
	Entries   []Entry `json:"entries"`
	// Unavailable, on a cluster, says why other nodes' endpoints are
	// missing from Entries ("cluster unavailable: redis unreachable: ...");
	// "" when the list is whole.
	Unavailable string `json:"unavailable,omitempty"`
}

// Build returns what user may reach, given their policy: live endpoints
// (this node's, then other nodes' as the cluster's directory records
// them) and remembered gone ones that the direct-tcpip rules would let
// them through to (their own; another user's name granted by
// NAME@OWNER:PORT; another user's port their permit-open covers), then
// the exact host:port destinations of their permit-open. Nothing else is
// listed: a name or port the user may not reach is not theirs to learn of.
func Build(user string, pol forward.Policy, live []forward.Live, remote []forward.Claim, gone []forward.Gone) []Entry {
	out := []Entry{}
	seen := map[string]bool{}
	// add lists owner's endpoint key once, if user may reach it; fill sets
	// what only the caller knows (state, since, origin, node).
	add := func(key forward.Address, virtual bool, owner string, addr netip.Addr, fill func(e *Entry, mine bool)) {
		mine := owner == user
		if !mine && !reachable(pol, owner, key, virtual, addr) {
			return
		}
		e := entry(key, virtual, owner, mine)
		if seen[e.Target] {
			return
		}
		fill(&e, mine)
		out = append(out, e)
		seen[e.Target] = true
	}
	for _, l := range live {
		add(l.Key, l.Virtual, l.User, addrOf(l.Addr), func(e *Entry, mine bool) {
			e.State, e.Since, e.Conns = "online", l.Published, l.Active
			if mine {
				e.From = l.From
			}
		})
	}
	for _, c := range remote {
		add(c.Key, c.Virtual, c.User, c.Key.IP, func(e *Entry, _ bool) {
			e.State, e.Since, e.Node = "online", c.Published, c.Node
		})
	}
	for _, g := range gone {
		add(g.Key, g.Virtual, g.User, g.Key.IP, func(e *Entry, mine bool) {
			e.State, e.Since = "offline", g.Since
			if mine {
				e.From = g.From
			}
		})
	}
	for _, r := range pol.Open {
		if r.Port == "*" || strings.ContainsAny(r.Host, "*?[/") {
			continue // a pattern names no one endpoint
		}
		port, _ := strconv.Atoi(r.Port)
		target := forward.JoinHostPort(r.Host, port)
		if r.Owner != "" {
			// A granted name never seen: offline, owner as granted.
			a := forward.AddressOf(r.Host, port)
			if t := entry(a, true, r.Owner, false); !seen[t.Target] {
				t.State = "offline"
				out = append(out, t)
				seen[t.Target] = true
			}
			continue
		}
		if seen[target] {
			continue
		}
		out = append(out, Entry{Target: target, Host: r.Host, Port: port, Kind: "destination", State: "allowed"})
		seen[target] = true
	}
	return out
}

// Lookups is what of other users the cluster's directory is asked about
// for user's list: the endpoint addresses their policy names exactly
// (NAME@OWNER:PORT grants, HOST:PORT rules), and the owners of their
// grants written as patterns (db-*@alice:*), whose endpoints are all read
// and then filtered by the grant. Build decides what is listed; this only
// bounds the read. Rules for real destinations written as patterns (*:22,
// a CIDR) name no one endpoint and no owner: other users' ports they
// cover are listed from the serving node only.
func Lookups(user string, pol forward.Policy) (users []string, keys []forward.Address) {
	users = []string{user}
	for _, r := range pol.Open {
		pattern := r.Port == "*" || strings.ContainsAny(r.Host, "*?[/")
		switch {
		case pattern && r.Owner != "" && !slices.Contains(users, r.Owner):
			users = append(users, r.Owner)
		case pattern:
		default:
			if port, err := strconv.Atoi(r.Port); err == nil && port > 0 && port <= 65535 {
				keys = append(keys, forward.AddressOf(r.Host, port))
			}
		}
	}
	return users, keys
}

// reachable mirrors the gateway's direct-tcpip decision for another user's
// endpoint: a name only by NAME@OWNER:PORT, a port by permit-open.
func reachable(pol forward.Policy, owner string, key forward.Address, virtual bool, addr netip.Addr) bool {
	if virtual {
		return pol.AllowsOpenName(owner, key.Name, key.Port)
	}
	return pol.AllowsOpen(hostOf(key), addr, key.Port)
}

// hostOf is the host to type for key: a loopback port is "localhost", as
// the gateway's own listing and OpenSSH's -R name it (and as permit-open
// rules usually do: localhost:PORT covers 127.0.0.1 and ::1).
func hostOf(key forward.Address) string {
	if !key.Virtual() && key.IP == netip.AddrFrom4([4]byte{127, 0, 0, 1}) {
		return "localhost"
	}
	return key.Host()
}

func entry(key forward.Address, virtual bool, owner string, mine bool) Entry {
	e := Entry{Target: forward.JoinHostPort(hostOf(key), key.Port), Host: hostOf(key), Port: key.Port, Kind: "port",
		Endpoint: key.String(), Publisher: owner, Mine: mine}
	if virtual {
		e.Kind = "name"
	}
	return e
}

func addrOf(a net.Addr) netip.Addr {
	if ta, ok := a.(*net.TCPAddr); ok {
		ip, _ := netip.AddrFromSlice(ta.IP)
		return ip.Unmap()
	}
	return netip.Addr{}
}
