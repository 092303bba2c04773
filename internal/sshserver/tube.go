package sshserver

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/tubegate/tubegate/internal/audit"
	"github.com/tubegate/tubegate/internal/forward"
)

// Tube is one authenticated SSH connection to the gateway. It is the
// forward.Owner of the endpoints it publishes.
type Tube struct {
	srv       *Server
	id        string
	user      string
	transport string
	conn      *ssh.ServerConn
	raw       net.Conn // the carrier under conn
	log       *slog.Logger
	started   time.Time
	alive     func() bool // nil, or whether the web session behind the tube holds
	bytes     *byteCount  // the carrier's bytes

	channels atomic.Int32

	in incoming // the requests and channels x/crypto queues for the tube

	mu       sync.Mutex
	sessions map[ssh.Channel]struct{}
	notes    []string // recent refusals, shown in the status
}

var _ forward.Owner = (*Tube)(nil)

func newTube(s *Server, id string, raw net.Conn, conn *ssh.ServerConn, transport string, log *slog.Logger) *Tube {
	return &Tube{
		raw:       raw,
		srv:       s,
		id:        id,
		user:      conn.Permissions.Extensions[extUser],
		transport: transport,
		conn:      conn,
		log:       log,
		started:   time.Now(),
		sessions:  make(map[ssh.Channel]struct{}),
		bytes:     &byteCount{},
	}
}

// User is the gateway user the tube authenticated as.
func (t *Tube) User() string { return t.user }

// ID identifies the tube in logs and the status.
func (t *Tube) ID() string { return t.id }

// RemoteAddr is the client's address.
func (t *Tube) RemoteAddr() net.Addr { return t.conn.RemoteAddr() }

// Close ends the tube.
func (t *Tube) Close() error { return t.conn.Close() }

// Probe sends a keepalive and reports whether the client answered.
func (t *Tube) Probe(ctx context.Context) bool {
	done := make(chan error, 1)
	go func() {
		_, _, err := t.conn.SendRequest("keepalive@openssh.com", true, nil)
		done <- err
	}()
	select {
	case err := <-done:
		return err == nil
	case <-ctx.Done():
		return false
	}
}

// serve serves the tube's requests and channels until the connection
// ends, then unpublishes everything the tube owned and calls end. It
// returns at once: an idle tube has no goroutine of its own. x/crypto
// tells it when a request or channel is queued (ssh.ServerConn's
// NotifyIncoming, patch 0020) and they are taken on a goroutine that runs
// only while some are queued (incoming.go); the keepalive runs from a
// timer and the close on ctx from context.AfterFunc.
// Global requests are answered in order, as the protocol requires; while a
// tcpip-forward waits to take over an endpoint (up to probeTimeout), new
// channels of this tube wait with it.
//
// The tube's context has no child while the tube is idle (a context's
// children cost it a map): the keepalive's timer is stopped when the tube
// ends rather than by the context, and the close when the server's context
// ends is registered on that context and dropped when the tube ends.
func (t *Tube) serve(ctx context.Context, chans <-chan ssh.NewChannel, reqs <-chan *ssh.Request, end func()) {
	dropClose := context.AfterFunc(ctx, func() { t.conn.Close() })
	ctx, cancel := context.WithCancel(ctx)
	t.log.Info("tube open")
	t.srv.cfg.Audit.Record(t.event(audit.TubeOpen, audit.Success))
	stopKeepalive := t.keepalive(ctx)
	t.in = incoming{ctx: ctx, chans: chans, reqs: reqs, end: func() {
		t.closed()
		stopKeepalive()
		dropClose()
		cancel()
		end()
	}}
	t.conn.NotifyIncoming(t.takeIncoming)
}

// closed logs and audits the end of the tube, once x/crypto has closed
// its requests and channels.
func (t *Tube) closed() {
	err := t.conn.Wait()
	e := t.event(audit.TubeClose, audit.Success)
	e.BytesIn, e.BytesOut = t.bytes.in.Load(), t.bytes.out.Load()
	e.DurationMS = time.Since(t.started).Milliseconds()
	if err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, net.ErrClosed) {
		t.log.Info("tube closed", "err", err, "duration", time.Since(t.started).Round(time.Millisecond))
	} else {
		t.log.Info("tube closed", "duration", time.Since(t.started).Round(time.Millisecond))
	}
	t.srv.cfg.Audit.Record(e)
}

// keepalive probes the client every KeepaliveInterval and closes the tube
// once it has answered nothing for KeepaliveInterval × KeepaliveMax, until
// ctx ends. The deadline is kept by the timer, not by the probe: a probe
// that cannot even be sent (the tube's writers are blocked) does not delay
// it. At most one probe is in flight; no goroutine waits between probes.
// The returned func stops the timer.
func (t *Tube) keepalive(ctx context.Context) (stop func()) {
	interval := t.srv.limits.KeepaliveInterval
	silence := interval * time.Duration(t.srv.limits.KeepaliveMax)
	var (
		mu       sync.Mutex
		timer    *time.Timer
		answered = time.Now() // the last answer, or the tube's start
		inFlight bool
	)
	probe := func() {
		ok := t.Probe(ctx)
		mu.Lock()
		defer mu.Unlock()
		inFlight = false
		if ok {
			answered = time.Now()
		}
	}
	detached, _ := t.raw.(detachable)
	tick := func() {
		if ctx.Err() != nil {
			return
		}
		mu.Lock()
		defer mu.Unlock()
		if detached != nil && detached.Detached() {
			// The client is away: the resume window governs, and the
			// silence starts again when it is back.
			answered = time.Now()
			timer.Reset(interval)
			return
		}
		if quiet := time.Since(answered); quiet >= silence {
			t.log.Warn("tube closed: keepalives unanswered", "silent_for", quiet.Round(time.Millisecond),
				"limit", silence)
			t.srv.cfg.Metrics.refused("keepalive_timeout")
			go t.conn.Close()
			return
		}
		if !inFlight {
			inFlight = true
			go probe()
		}
		// Wake at the next probe, or exactly at the deadline if sooner.
		timer.Reset(min(interval, silence-time.Since(answered)))
	}
	mu.Lock()
	timer = time.AfterFunc(interval, tick)
	mu.Unlock()
	return func() {
		mu.Lock()
		timer.Stop()
		mu.Unlock()
	}
}

// note records a refusal for the status and tells open sessions.
func (t *Tube) note(msg string) {
	t.mu.Lock()
	t.notes = append(t.notes, msg)
	if len(t.notes) > 10 {
		t.notes = t.notes[len(t.notes)-10:]
	}
	t.mu.Unlock()
	t.tellSessions(msg)
}

// tellSessions writes "tubegate: msg" to the stderr of the tube's open
// sessions. A client that stops reading can block such a write, so each
// runs on its own goroutine, never under t.mu; the returned channel closes
// once all are written.
func (t *Tube) tellSessions(msg string) <-chan struct{} {
	t.mu.Lock()
	sessions := make([]ssh.Channel, 0, len(t.sessions))
	for ch := range t.sessions {
		sessions = append(sessions, ch)
	}
	t.mu.Unlock()
	var wg sync.WaitGroup
	for _, ch := range sessions {
		wg.Add(1)
		go func() {
			defer wg.Done()
			fmt.Fprintf(ch.Stderr(), "tubegate: %s\r\n", msg)
		}()
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	return done
}

// tellTimeout bounds how long shutdown waits for its words to be written.
const tellTimeout = time.Second

// detachable is what a resumable carrier implements: while it is
// detached the keepalive leaves the tube to the resume window.
type detachable interface{ Detached() bool }

// logSetter is what a carrier that logs on its own implements, to log
// with the tube's id and user.
type logSetter interface{ SetLog(*slog.Logger) }

// identSetter is what a carrier that audits on its own implements (a
// resumable tube), to name the tube's user and id once authenticated.
type identSetter interface{ SetIdent(user, tube string) }

// goAway is what a carrier that can say why it closes implements (the
// WebSocket bridge).
type goAway interface{ GoAway(reason string) error }

// shutdown tells the client why the tube ends, as far as the carrier
// allows, and closes it: open sessions get the text on stderr, and a
// WebSocket tube a close frame with the reason. x/crypto/ssh cannot send a
// protocol disconnect message (golang/go#37913), so a -N tube over plain
// TCP just sees the connection close.
func (t *Tube) shutdown(reason string) {
	select {
	case <-t.tellSessions(reason):
	case <-t.srv.tellWait():
	}
	if ga, ok := t.raw.(goAway); ok {
		ga.GoAway(reason)
	}
	t.conn.Close()
}

// globalRequest answers one global request.
func (t *Tube) globalRequest(ctx context.Context, req *ssh.Request) {
	switch req.Type {
	case forward.ReqTCPIPForward:
		t.publish(ctx, req)
	case forward.ReqCancelTCPIPForward:
		var fr forward.CancelForwardRequest
		if err := ssh.Unmarshal(req.Payload, &fr); err != nil {
			t.log.Info("bad cancel-tcpip-forward", "err", err)
			req.Reply(false, nil)
			return
		}
		err := t.srv.cfg.Registry.Cancel(t, fr.BindAddr, int(fr.BindPort))
		if err != nil {
			t.log.Info("cancel-tcpip-forward failed", "err", err)
		} else {
			t.log.Info("forward cancelled", "bind", forward.JoinHostPort(fr.BindAddr, int(fr.BindPort)))
		}
		req.Reply(err == nil, nil)
	case "keepalive@openssh.com", "no-more-sessions@openssh.com":
		if req.WantReply {
			req.Reply(true, nil)
		}
	default:
		if req.WantReply {
			req.Reply(false, nil)
		}
	}
}

func (t *Tube) publish(ctx context.Context, req *ssh.Request) {
	var fr forward.ForwardRequest
	if err := ssh.Unmarshal(req.Payload, &fr); err != nil {
		t.log.Info("bad tcpip-forward", "err", err)
		req.Reply(false, nil)
		return
	}
	spec := forward.JoinHostPort(fr.BindAddr, int(fr.BindPort))
	var ep *forward.Endpoint
	pol, err := t.srv.cfg.Users.Policy(t.user)
	if err == nil && forward.IsVirtualName(fr.BindAddr) {
		err = t.mayPublishName(pol, fr.BindAddr)
	}
	if err == nil {
		ep, err = t.srv.cfg.Registry.Publish(ctx, t, pol, fr.BindAddr, int(fr.BindPort))
	}
	if err != nil {
		t.log.Warn("tcpip-forward refused", "bind", spec, "err", err)
		e := t.event(audit.ForwardPublish, audit.Refused)
		e.Target, e.Reason = spec, err.Error()
		t.srv.cfg.Audit.Record(e)
		t.srv.cfg.Metrics.refused("tcpip_forward")
		t.note(fmt.Sprintf("-R %s refused: %v", spec, err))
		req.Reply(false, nil)
		return
	}
	t.log.Info("forward published", "bind", spec, "endpoint", ep.Key, "virtual", ep.Virtual)
	e := t.event(audit.ForwardPublish, audit.Success)
	e.Target = ep.Key.String()
	t.srv.cfg.Audit.Record(e)
	var reply []byte
	if fr.BindPort == 0 {
		reply = ssh.Marshal(forward.ForwardReply{Port: uint32(ep.BindPort)})
	}
	req.Reply(true, reply)
}

// mayPublishName applies the namespace rule (see package forward) to a
// virtual name the tube asks to publish.
func (t *Tube) mayPublishName(pol forward.Policy, name string) error {
	if err := forward.CheckName(name); err != nil {
		return fmt.Errorf("%w: %v", forward.ErrRefused, err)
	}
	if !pol.AllowsName(t.user, name) {
		return fmt.Errorf("%w: %s may publish names under %s (like myhost.%s), not %s, unless --permit-name allows it",
			forward.ErrRefused, t.user, t.user, t.user, name)
	}
	if pol.Claims(t.user, name) {
		return nil
	}
	other, err := t.srv.cfg.Users.NameClaimant(name, t.user)
	if err != nil {
		return fmt.Errorf("name %s: %w", name, err)
	}
	if other != "" {
		return fmt.Errorf("%w: the name %s is reserved for another user", forward.ErrRefused, name)
	}
	return nil
}

// EndpointLost tells the client that one of its forwards died on its own
// (the registry has unpublished it): a log line, a note on its sessions'
// stderr and in its status, and a forward-lost@tubegate global request
// with the bind address and port that a client may act on (clients ignore
// global requests they do not know).
func (t *Tube) EndpointLost(ep *forward.Endpoint, err error) {
	t.log.Warn("forward lost: its listener failed", "endpoint", ep.Key, "err", err)
	t.note(fmt.Sprintf("-R %s stopped: its listener on the gateway failed (%v); request it again",
		forward.JoinHostPort(ep.BindHost, ep.BindPort), err))
	payload := ssh.Marshal(forward.ForwardRequest{BindAddr: ep.BindHost, BindPort: uint32(ep.BindPort)})
	go t.conn.SendRequest(forward.ReqForwardLost, false, payload)
}

// OpenForwarded opens a forwarded-tcpip channel to the client for ep. It
// counts against the tube's channel cap (Limits.MaxChannels) with the
// channels the client opens, until the returned conn is closed: whoever
// can reach a published port cannot open more.
func (t *Tube) OpenForwarded(ctx context.Context, ep *forward.Endpoint, origin net.Addr) (net.Conn, error) {
	if n := t.channels.Add(1); int(n) > t.srv.limits.MaxChannels {
		t.channels.Add(-1)
		t.srv.cfg.Metrics.refused("channels_per_tube")
		return nil, fmt.Errorf("%w: forwarded-tcpip to %s for %s: the tube already has %d channels open",
			forward.ErrRefused, t.id, ep.Key, t.srv.limits.MaxChannels)
	}
	payload := ssh.Marshal(forward.NewForwardedTCPIP(ep.BindHost, ep.BindPort, origin))
	ch, err := forward.OpenChannel(ctx, t.conn, forward.ChanForwardedTCPIP, payload)
	if err != nil {
		t.channels.Add(-1)
		return nil, fmt.Errorf("open forwarded-tcpip to %s for %s: %w", t.id, ep.Key, err)
	}
	return forward.ChannelConnReleasing(ch, forward.Addr{Net: "tubegate", Address: ep.Key.String()}, origin,
		func() { t.channels.Add(-1) }), nil
}
