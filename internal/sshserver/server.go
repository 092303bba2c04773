// Package sshserver is the gateway's SSH server: it authenticates tubes,
// publishes their tcpip-forwards in the forward registry, delivers
// direct-tcpip channels to virtual names or permitted destinations, and
// answers session channels with a short status.
package sshserver

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/tubegate/tubegate/internal/acceptloop"
	"github.com/tubegate/tubegate/internal/audit"
	"github.com/tubegate/tubegate/internal/forward"
	"github.com/tubegate/tubegate/internal/resume"
	"github.com/tubegate/tubegate/internal/throttle"
	"github.com/tubegate/tubegate/internal/users"
)

// Limits bound what one client can make the gateway hold. The forwards a
// tube or user may hold are the registry's to cap (Registry.MaxPerOwner
// and MaxPerUser), set by whoever makes it.
type Limits struct {
	HandshakeTimeout       time.Duration // banner to end of auth
	KeepaliveInterval      time.Duration // server keepalive period
	KeepaliveMax           int           // missed keepalives before the tube closes
	MaxAuthTries           int           // auth attempts per tube
	MaxChannels            int           // open channels per tube, both ways (forwarded-tcpip to the client too)
	MaxTubesPerUser        int           // live tubes per user
	MaxHandshakesPerSource int           // concurrent unauthenticated tubes per source address
	MaxWindowPerUser       int64         // receive window a user's channels share, bytes (windows.go)
	MaxUnackedPerUser      int64         // bytes a user's resumable tubes keep until acknowledged, together (windows.go)
	DialTimeout            time.Duration // direct-tcpip dial
}

// DefaultLimits are the limits used where Config leaves them zero.
var DefaultLimits = Limits{
	HandshakeTimeout:       20 * time.Second,
	KeepaliveInterval:      30 * time.Second,
	KeepaliveMax:           3,
	MaxAuthTries:           6,
	MaxChannels:            1024,
	MaxTubesPerUser:        2048,
	MaxHandshakesPerSource: 32,
	MaxWindowPerUser:       256 << 20,
	MaxUnackedPerUser:      256 << 20,
	DialTimeout:            10 * time.Second,
}

// CommandFunc runs an exec request of a session channel (ssh gw CMD ARGS)
// and returns its exit status.
type CommandFunc func(ctx context.Context, t *Tube, args []string, stdout, stderr io.Writer) int

// Config is everything a Server needs.
type Config struct {
	HostKeys []ssh.Signer
	Users    *users.Store
	Registry *forward.Registry
	Log      *slog.Logger
	Metrics  *Metrics // nil: not measured
	Limits   Limits
	// Commands are the exec commands a session may run, by first word.
	Commands map[string]CommandFunc
	// Dial dials permitted direct-tcpip destinations (default net.Dialer).
	Dial func(ctx context.Context, network, addr string) (net.Conn, error)
	// Resolve looks up a destination's addresses (default net.DefaultResolver).
	Resolve func(ctx context.Context, host string) ([]net.IP, error)
	// AcceptMetrics counts the accept errors the SSH listener rides out
	// (nil: not counted).
	AcceptMetrics acceptloop.Counter
	// Failures throttles wrong passwords per source address, shared with
	// the gateway's other password checks (nil: one of its own,
	// throttle.Default).
	Failures *throttle.Failures
	// Audit records tubes, forwards and direct-tcpip (nil: not recorded).
	Audit *audit.Log
}

// Server serves tubes. Create it with New.
type Server struct {
	cfg     Config
	limits  Limits
	log     *slog.Logger
	ciphers []string // the preference order, worked out once
	// tellWait bounds the wait for a shutting tube's words to be written
	// (time.After(tellTimeout); tests hold it).
	tellWait func() <-chan time.Time

	nextID atomic.Uint64

	mu         sync.Mutex
	tubes      map[*Tube]struct{}
	perUser    map[string]int
	windows    map[string]*windowBudget  // by user, while they have a tube
	unacked    map[string]*resume.Budget // by user, while they have a tube
	handshakes map[string]int
	closing    bool
}

// New checks cfg and returns a Server.
func New(cfg Config) (*Server, error) {
	if len(cfg.HostKeys) == 0 {
		return nil, errors.New("sshserver: no host keys")
	}
	if cfg.Users == nil || cfg.Registry == nil {
		return nil, errors.New("sshserver: users and registry are required")
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if cfg.Dial == nil {
		d := &net.Dialer{}
		cfg.Dial = d.DialContext
	}
	if cfg.Failures == nil {
		cfg.Failures = throttle.Default()
	}
	if cfg.Resolve == nil {
		cfg.Resolve = func(ctx context.Context, host string) ([]net.IP, error) {
			return net.DefaultResolver.LookupIP(ctx, "ip", host)
		}
	}
	l := cfg.Limits
	fill := func(v *int, d int) {
		if *v == 0 {
			*v = d
		}
	}
	fillDur := func(v *time.Duration, d time.Duration) {
		if *v == 0 {
			*v = d
		}
	}
	fillDur(&l.HandshakeTimeout, DefaultLimits.HandshakeTimeout)
	fillDur(&l.KeepaliveInterval, DefaultLimits.KeepaliveInterval)
	fill(&l.KeepaliveMax, DefaultLimits.KeepaliveMax)
	fill(&l.MaxAuthTries, DefaultLimits.MaxAuthTries)
	fill(&l.MaxChannels, DefaultLimits.MaxChannels)
	fill(&l.MaxTubesPerUser, DefaultLimits.MaxTubesPerUser)
	fill(&l.MaxHandshakesPerSource, DefaultLimits.MaxHandshakesPerSource)
	if l.MaxWindowPerUser == 0 {
		l.MaxWindowPerUser = DefaultLimits.MaxWindowPerUser
	}
	if l.MaxUnackedPerUser == 0 {
		l.MaxUnackedPerUser = DefaultLimits.MaxUnackedPerUser
	}
	fillDur(&l.DialTimeout, DefaultLimits.DialTimeout)
	return &Server{
		cfg:        cfg,
		ciphers:    serverCiphers(),
		tellWait:   func() <-chan time.Time { return time.After(tellTimeout) },
		limits:     l,
		log:        cfg.Log,
		tubes:      make(map[*Tube]struct{}),
		perUser:    make(map[string]int),
		windows:    make(map[string]*windowBudget),
		unacked:    make(map[string]*resume.Budget),
		handshakes: make(map[string]int),
	}, nil
}

// ConnOptions describe how a tube arrived.
type ConnOptions struct {
	// Transport names the carrier in logs and metrics: "tcp" or "websocket".
	Transport string
	// PreAuthUser, if set, is a user already authenticated by the carrier
	// (a browser's session cookie): the tube is accepted as that user with
	// no SSH credentials.
	PreAuthUser string
	// Alive, if set, reports whether what authorized PreAuthUser (the web
	// session) still holds; the tube is closed within a second of it
	// turning false (see WatchUsers).
	Alive func() bool
}

// Serve accepts tubes from ln until ctx ends or ln fails for good. Errors
// that pass, such as running out of descriptors, are backed off, logged
// once per burst and counted, never returned.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	ln = acceptloop.Wrap(ln, "ssh", s.log, s.cfg.AcceptMetrics)
	go func() {
		<-ctx.Done()
		ln.Close()
	}()
	for {
		c, err := ln.Accept()
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, net.ErrClosed) {
				return nil
			}
			return fmt.Errorf("ssh accept: %w", err)
		}
		if tc, ok := c.(*net.TCPConn); ok {
			tc.SetNoDelay(true)
			tc.SetKeepAlive(true)
		}
		go s.ServeConn(ctx, c, ConnOptions{Transport: "tcp"})
	}
}

// ServeConn runs the handshake of one tube on c and, once the tube is
// open, returns: the tube serves itself until it ends (Tube.serve), then
// closes c. It never panics on bad input: whatever the peer sends, only
// this tube is closed, with a log line.
func (s *Server) ServeConn(ctx context.Context, c net.Conn, opts ConnOptions) {
	served := false // then the tube closes c when it ends
	defer func() {
		if !served {
			c.Close()
		}
	}()
	id := "t" + strconv.FormatUint(s.nextID.Add(1), 10)
	log := s.log.With("tube", id, "remote", c.RemoteAddr().String(), "transport", opts.Transport)
	defer contain(log, c)
	if ls, ok := c.(logSetter); ok {
		ls.SetLog(log)
	}
	src := throttle.Source(c.RemoteAddr().String())
	if !s.beginHandshake(src) {
		log.Warn("tube refused: too many unauthenticated connections from this source",
			"limit", s.limits.MaxHandshakesPerSource)
		s.cfg.Metrics.refused("handshakes_per_source")
		io.WriteString(c, "tubegate: too many unauthenticated connections from your address\r\n")
		return
	}
	c.SetDeadline(time.Now().Add(s.limits.HandshakeTimeout))
	var slot tubeSlot
	defer s.releaseTube(&slot) // whatever is still reserved when the tube ends
	hctx, hcancel := context.WithTimeout(ctx, s.limits.HandshakeTimeout)
	bytes := &byteCount{}
	sc, chans, reqs, err := ssh.NewServerConn(newCountingConn(c, bytes), s.serverConfig(hctx, opts, log, &slot))
	hcancel()
	s.endHandshake(src)
	if err != nil {
		log.Info("tube closed during handshake", "err", err)
		s.cfg.Metrics.handshakeFailed()
		return
	}
	c.SetDeadline(time.Time{})
	user := sc.Permissions.Extensions[extUser]
	t := newTube(s, id, c, sc, opts.Transport, log.With("user", user))
	t.alive, t.bytes = opts.Alive, bytes
	if ls, ok := c.(logSetter); ok {
		ls.SetLog(t.log)
	}
	if is, ok := c.(identSetter); ok {
		is.SetIdent(user, id)
	}
	if err := s.addTube(t, &slot); err != nil {
		t.log.Warn("tube refused", "err", err)
		sc.Close()
		return
	}
	if bs, ok := c.(budgetSetter); ok {
		bs.SetBudget(s.unackedBudgetFor(user))
	}
	t.serve(ctx, chans, reqs, func() {
		s.removeTube(t)
		c.Close()
	})
	served = true
}

// shutdownWait bounds how long Shutdown waits for tubes to close.
const shutdownWait = 3 * time.Second

// Shutdown refuses new tubes, tells every live tube why it ends (see
// Tube.shutdown) and closes them all, waiting at most a few seconds.
func (s *Server) Shutdown() {
	s.mu.Lock()
	s.closing = true
	s.mu.Unlock()
	if !s.shutdownTubes(s.liveTubes(), "the gateway is shutting down") {
		s.log.Warn("shutdown: some tubes did not close in time")
	}
}

// shutdownTubes shuts tubes down all at once (see Tube.shutdown), so that
// clients slow to take the news cost their own wait, not each other's. It
// waits at most shutdownWait and reports whether all were done by then.
func (s *Server) shutdownTubes(tubes []*Tube, reason string) bool {
	var wg sync.WaitGroup
	for _, t := range tubes {
		wg.Add(1)
		go func() { defer wg.Done(); t.shutdown(reason) }()
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
		return true
	case <-time.After(shutdownWait):
		return false
	}
}

// Tubes returns the number of live tubes.
func (s *Server) Tubes() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.tubes)
}

// tubeSlot is one place in a user's count of tubes, reserved when the
// user authenticates and handed to the tube, so that concurrent handshakes
// cannot overshoot MaxTubesPerUser. The zero value holds nothing.
type tubeSlot struct {
	user string // "" when nothing is reserved
}

// reserveTube reserves slot for user, giving back what it held for an
// earlier attempt of the same handshake (SSH allows another user name per
// attempt). It reports the user's count and whether the slot was taken.
func (s *Server) reserveTube(slot *tubeSlot, user string) (int, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if slot.user == user {
		return s.perUser[user], true
	}
	s.releaseLocked(slot)
	if n := s.perUser[user]; n >= s.limits.MaxTubesPerUser {
		return n, false
	}
	s.perUser[user]++
	slot.user = user
	return s.perUser[user], true
}

func (s *Server) releaseTube(slot *tubeSlot) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.releaseLocked(slot)
}

func (s *Server) releaseLocked(slot *tubeSlot) {
	if slot.user == "" {
		return
	}
	if s.perUser[slot.user]--; s.perUser[slot.user] <= 0 {
		s.forgetUserLocked(slot.user)
	}
	slot.user = ""
}

// addTube registers t in the slot reserved for its user, which it then
// owns (removeTube gives it back). A handshake may end as another user than
// the slot was last reserved for (a public key accepted in an earlier
// attempt): the slot is then reserved again, under the cap.
func (s *Server) addTube(t *Tube, slot *tubeSlot) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closing {
		return errors.New("gateway is shutting down")
	}
	if slot.user != t.user {
		s.releaseLocked(slot)
		if n := s.perUser[t.user]; n >= s.limits.MaxTubesPerUser {
			s.cfg.Metrics.refused("tubes_per_user")
			return fmt.Errorf("%s already has %d connections, the limit", t.user, n)
		}
		s.perUser[t.user]++
	}
	slot.user = "" // the tube owns the count now
	s.tubes[t] = struct{}{}
	s.cfg.Metrics.tubeOpened(t.transport)
	return nil
}

func (s *Server) removeTube(t *Tube) {
	s.mu.Lock()
	delete(s.tubes, t)
	if s.perUser[t.user]--; s.perUser[t.user] <= 0 {
		s.forgetUserLocked(t.user)
	}
	s.mu.Unlock()
	s.cfg.Metrics.tubeClosed(t.transport)
}

func (s *Server) beginHandshake(src string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.handshakes[src] >= s.limits.MaxHandshakesPerSource {
		return false
	}
	s.handshakes[src]++
	return true
}

func (s *Server) endHandshake(src string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.handshakes[src]--; s.handshakes[src] <= 0 {
		delete(s.handshakes, src)
	}
}
