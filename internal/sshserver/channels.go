package sshserver

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"

	"golang.org/x/crypto/ssh"

	"github.com/tubegate/tubegate/internal/audit"
	"github.com/tubegate/tubegate/internal/forward"
)

// dispatch starts the handler of one channel request, after the per-tube
// channel limit.
func (t *Tube) dispatch(ctx context.Context, nc ssh.NewChannel) {
	if n := t.channels.Add(1); int(n) > t.srv.limits.MaxChannels {
		t.channels.Add(-1)
		t.srv.cfg.Metrics.refused("channels_per_tube")
		t.log.Warn("channel refused: limit reached", "type", nc.ChannelType(), "limit", t.srv.limits.MaxChannels)
		nc.Reject(ssh.ResourceShortage, fmt.Sprintf("tubegate: this connection already has %d channels open", t.srv.limits.MaxChannels))
		return
	}
	go func() {
		defer t.channels.Add(-1)
		defer contain(t.log, t)
		switch nc.ChannelType() {
		case forward.ChanDirectTCPIP:
			t.directTCPIP(ctx, nc)
		case "session":
			t.session(ctx, nc)
		default:
			t.log.Info("channel refused: unknown type", "type", nc.ChannelType())
			nc.Reject(ssh.UnknownChannelType, "tubegate: unsupported channel type "+nc.ChannelType())
		}
	}()
}

// directTCPIP delivers ssh -L / -W / -J: to a virtual name or published
// port through its owner's tube, or to a destination the user's policy
// permits, dialed by the gateway. The policy is read anew for every channel.
func (t *Tube) directTCPIP(ctx context.Context, nc ssh.NewChannel) {
	var p forward.DirectTCPIP
	if err := ssh.Unmarshal(nc.ExtraData(), &p); err != nil || p.Port > 65535 {
		t.log.Info("channel refused: malformed direct-tcpip", "err", err)
		nc.Reject(ssh.ConnectionFailed, "tubegate: malformed direct-tcpip request")
		return
	}
	target := forward.JoinHostPort(p.Host, int(p.Port))
	origin := p.Origin(t.RemoteAddr())
	log := t.log.With("target", target)
	remote, err := t.connectTarget(ctx, p.Host, int(p.Port), origin)
	if err != nil {
		reason, msg := ssh.ConnectionFailed, err.Error()
		e := t.event(audit.DirectTCPIP, audit.Failed)
		e.Target, e.Reason = target, err.Error()
		if errors.Is(err, forward.ErrRefused) {
			e.Outcome = audit.Refused
			reason = ssh.Prohibited
			t.srv.cfg.Metrics.refused("direct_tcpip")
			log.Warn("direct-tcpip refused", "err", err)
		} else {
			log.Info("direct-tcpip failed", "err", err)
		}
		t.srv.cfg.Audit.Record(e)
		nc.Reject(reason, "tubegate: "+msg)
		return
	}
	e := t.event(audit.DirectTCPIP, audit.Success)
	e.Target = target
	t.srv.cfg.Audit.Record(e)
	ch, reqs, err := nc.Accept()
	if err != nil {
		remote.Close()
		return
	}
	go ssh.DiscardRequests(reqs)
	log.Debug("direct-tcpip open")
	forward.Pipe(forward.ChannelConn(ch, forward.Addr{Net: "tubegate", Address: target}, origin), remote)
}

func (t *Tube) connectTarget(ctx context.Context, host string, port int, origin net.Addr) (net.Conn, error) {
	pol, err := t.srv.cfg.Users.Policy(t.user)
	if err != nil {
		return nil, forward.Refusedf("user %s: %v", t.user, err)
	}
	target := forward.JoinHostPort(host, port)
	// On a cluster the endpoint may be another node's; when the directory
	// cannot be asked, nothing is dialed (the target could be an endpoint).
	ep, err := t.srv.cfg.Registry.Resolve(ctx, forward.AddressOf(host, port))
	if err != nil {
		return nil, err
	}
	if ep != nil {
		owner := ep.Owner.User()
		switch {
		case owner == t.user:
		case ep.Virtual && pol.AllowsOpenName(owner, host, port):
		case ep.Virtual:
			// Another user's name, not granted to this one by NAME@OWNER:
			// the target can only mean a real host of that name.
			return t.dialPermitted(ctx, pol, host, port)
		case !pol.AllowsOpen(host, addrOf(ep), port):
			// Worded as for any forbidden destination: whether another
			// user publishes it is not this user's to learn.
			return nil, notPermitted(t.user, target)
		}
		dctx, cancel := context.WithTimeout(ctx, t.srv.limits.DialTimeout)
		defer cancel()
		c, err := ep.Dial(dctx, origin)
		if err != nil {
			return nil, fmt.Errorf("%s is published but its tube did not answer: %w", target, err)
		}
		return c, nil
	}
	c, err := t.dialPermitted(ctx, pol, host, port)
	if err != nil && t.mayReachName(pol, host, port) {
		// A name the user could reach were it online (their own, or
		// granted by NAME@OWNER): say that it is not, rather than
		// "not permitted", which would be wrong, or a resolver's error.
		var re *resolveError
		if errors.Is(err, forward.ErrRefused) || errors.As(err, &re) {
			return nil, fmt.Errorf("no such name online: %s is not published right now (start the ssh -R that publishes it)", target)
		}
	}
	return c, err
}

// mayReachName reports whether host:port is a virtual name this user would
// be let through to if it were online: a name in their namespace or one
// their policy claims, or another user's granted by a NAME@OWNER:PORT rule.
// Only for those may the answer differ from a forbidden destination's.
func (t *Tube) mayReachName(pol forward.Policy, host string, port int) bool {
	if forward.CheckName(host) != nil {
		return false
	}
	if pol.Claims(t.user, host) {
		return true
	}
	for _, r := range pol.Open {
		if r.Owner != "" && pol.AllowsOpenName(r.Owner, host, port) {
			return true
		}
	}
	return false
}

// notPermitted is the refusal of a destination the user's policy does not
// allow. It reads the same whether or not anything answers there.
func notPermitted(user, target string) error {
	return forward.Refusedf("%s may not connect to %s: not permitted by your policy (permit-open)", user, target)
}

// resolveError is a failure to resolve a name the policy permits.
type resolveError struct {
	host string
	err  error
}

func (e *resolveError) Error() string { return fmt.Sprintf("resolve %s: %v", e.host, e.err) }
func (e *resolveError) Unwrap() error { return e.err }

// dialPermitted dials the real destination host:port, if the policy's
// permit-open allows it.
func (t *Tube) dialPermitted(ctx context.Context, pol forward.Policy, host string, port int) (net.Conn, error) {
	target := forward.JoinHostPort(host, port)
	addr, err := t.permittedAddr(ctx, pol, host, port)
	if err != nil {
		return nil, err
	}
	dctx, cancel := context.WithTimeout(ctx, t.srv.limits.DialTimeout)
	defer cancel()
	c, err := t.srv.cfg.Dial(dctx, "tcp", net.JoinHostPort(addr.String(), strconv.Itoa(port)))
	if err != nil {
		return nil, fmt.Errorf("connect to %s: %w", target, err)
	}
	return c, nil
}

// permittedAddr resolves host once and returns the first address the
// policy permits, so that the address checked is the address dialed (no
// DNS rebinding between check and dial).
func (t *Tube) permittedAddr(ctx context.Context, pol forward.Policy, host string, port int) (netip.Addr, error) {
	target := forward.JoinHostPort(host, port)
	if a, err := netip.ParseAddr(host); err == nil {
		if pol.AllowsOpen("", a, port) {
			return a.Unmap(), nil
		}
		return netip.Addr{}, notPermitted(t.user, target)
	}
	if len(pol.Open) == 0 {
		return netip.Addr{}, notPermitted(t.user, target)
	}
	rctx, cancel := context.WithTimeout(ctx, t.srv.limits.DialTimeout)
	defer cancel()
	ips, err := t.srv.cfg.Resolve(rctx, host)
	if err != nil {
		// Say "refused" rather than leak whether a name resolves, unless
		// the name itself is permitted.
		if pol.AllowsOpen(host, netip.Addr{}, port) {
			return netip.Addr{}, &resolveError{host, err}
		}
		return netip.Addr{}, notPermitted(t.user, target)
	}
	for _, ip := range ips {
		a, ok := netip.AddrFromSlice(ip)
		if ok && pol.AllowsOpen(host, a.Unmap(), port) {
			return a.Unmap(), nil
		}
	}
	return netip.Addr{}, notPermitted(t.user, target)
}

// addrOf is the IP of a published port's listener, for policy matching.
func addrOf(ep *forward.Endpoint) netip.Addr {
	if ta, ok := ep.Addr().(*net.TCPAddr); ok {
		a, _ := netip.AddrFromSlice(ta.IP)
		return a.Unmap()
	}
	return netip.Addr{}
}
