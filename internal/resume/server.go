package resume

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync"
	"time"
)

// ServerConfig configures a Server. The zero value uses the defaults,
// with resumption off (Window 0).
type ServerConfig struct {
	// Window is how long a tube whose transport dropped waits for its
	// client to resume it (0: not at all; the tube ends on a drop).
	Window time.Duration
	// Bound is the unacknowledged bytes kept per tube (DefaultBound).
	Bound int
	// HelloTimeout bounds the wait for a new transport's HELLO (10 s).
	HelloTimeout time.Duration
	// MaxPendingPerSource caps the transports of one source address
	// waiting for their HELLO or for a resume check (32).
	MaxPendingPerSource int
	// Log gets a line for every resume accepted or refused and every tube
	// detached or given up (nil: discarded).
	Log *slog.Logger
	// Check runs lookup, a resume token check, on behalf of source,
	// counting a failure against the source and refusing (an error) when
	// it has failed too often (throttle.Failures.Check). Nil: no throttle.
	Check func(ctx context.Context, source string, lookup func() bool) (bool, error)
	// Count counts resume outcomes: accepted, refused, throttled,
	// bad_hello, expired (nil: not counted).
	Count func(outcome string)
	// Audit records each resume accepted or refused (err != nil), with
	// the tube's user and id once the tube has them (SetIdent), for the
	// audit log (nil: not recorded).
	Audit func(user, source, tube string, err error)
}

// Server accepts the transports of resumable tubes: new tubes, handed to
// the caller as Sessions, and resumes of the tubes it holds.
type Server struct {
	cfg ServerConfig
	log *slog.Logger

	mu       sync.Mutex
	byToken  map[[sha256.Size]byte]*Session // by the hash of the current token
	pending  map[string]int
	detached int
}

// NewServer returns a Server.
func NewServer(cfg ServerConfig) *Server {
	if cfg.HelloTimeout <= 0 {
		cfg.HelloTimeout = 10 * time.Second
	}
	if cfg.MaxPendingPerSource <= 0 {
		cfg.MaxPendingPerSource = 32
	}
	if cfg.Bound <= 0 {
		cfg.Bound = DefaultBound
	}
	log := cfg.Log
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	return &Server{cfg: cfg, log: log, byToken: map[[sha256.Size]byte]*Session{}, pending: map[string]int{}}
}

// Window is the resume window the Server gives its tubes.
func (s *Server) Window() time.Duration { return s.cfg.Window }

// Detached returns the number of tubes waiting for their client.
func (s *Server) Detached() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.detached
}

// Unacked returns the bytes the tubes keep until their clients acknowledge
// them, all tubes together.
func (s *Server) Unacked() int64 { return s.sum(func(e *endpoint) int64 { return int64(e.unacked()) }) }

// Kept returns the memory the tubes keep for those bytes (the buffers they
// are kept in, which the bound and the budgets count), all tubes together.
func (s *Server) Kept() int64 { return s.sum((*endpoint).keptBytes) }

// sum adds up f over the tubes' endpoints.
func (s *Server) sum(f func(*endpoint) int64) int64 {
	s.mu.Lock()
	sessions := make([]*Session, 0, len(s.byToken))
	for _, sess := range s.byToken {
		sessions = append(sessions, sess)
	}
	s.mu.Unlock()
	var n int64
	for _, sess := range sessions {
		n += f(sess.e)
	}
	return n
}

func (s *Server) count(outcome string) {
	if s.cfg.Count != nil {
		s.cfg.Count(outcome)
	}
}

// ErrRefused is wrapped by Accept's errors for a refused resume.
var ErrRefused = errors.New("resume refused")

// Accept reads the HELLO of tr, a transport just opened with
// Subprotocol by source (the client's IP). A new tube is returned as a
// Session for the caller to serve. A resume joins the tube it names and
// returns nil, nil: the tube's own server carries on. A refusal closes tr
// with a close code and reason and returns the error.
func (s *Server) Accept(ctx context.Context, tr Transport, source string, local, remote net.Addr) (*Session, error) {
	if !s.beginPending(source) {
		tr.Close(CloseTryLater, "too many pending connections from your address")
		s.count("throttled")
		return nil, fmt.Errorf("%w: more than %d pending connections from %s", ErrRefused, s.cfg.MaxPendingPerSource, source)
	}
	defer s.endPending(source)
	hctx, cancel := context.WithTimeout(ctx, s.cfg.HelloTimeout)
	msg, err := tr.ReadMessage(hctx)
	cancel()
	if err != nil {
		tr.Close(0, "")
		return nil, fmt.Errorf("wait for HELLO: %w", err)
	}
	h, err := decodeHello(msg)
	if err != nil {
		tr.Close(CloseBadFrame, err.Error())
		s.count("bad_hello")
		return nil, err
	}
	heartbeat := h.heartbeat
	if heartbeat <= 0 {
		heartbeat = DefaultHeartbeat
	}
	heartbeat = min(max(heartbeat, MinHeartbeat), MaxHeartbeat)
	if h.resume {
		return nil, s.resume(ctx, tr, h, source, heartbeat)
	}
	sess := &Session{srv: s, e: newEndpoint(s.cfg.Bound, heartbeat, 0), local: local, remote: remote, logger: s.log}
	sess.e.lost = sess.lost
	sess.e.onEnd = func(error) {
		s.forget(sess)
		sess.reattached() // counts the tube out of the detached ones
	}
	token, err := s.issue(sess)
	if err != nil {
		tr.Close(1011, "internal error")
		return nil, err
	}
	err = sess.e.attach(tr, 0, func(recv uint64) []byte {
		return welcome{token: token, recv: recv, window: s.cfg.Window, heartbeat: heartbeat}.encode()
	})
	if err != nil {
		s.forget(sess)
		tr.Close(0, "")
		return nil, err
	}
	return sess, nil
}

// resume joins tr to the tube h's token belongs to.
func (s *Server) resume(ctx context.Context, tr Transport, h hello, source string, heartbeat time.Duration) error {
	var sess *Session
	ok, err := s.check(ctx, source, func() bool { sess = s.take(h.token); return sess != nil })
	if err != nil {
		tr.Close(CloseThrottled, "too many failed resumes from your address; try later")
		s.count("throttled")
		s.log.Warn("resume refused: throttled", "source", source, "err", err)
		err = fmt.Errorf("%w: %v", ErrRefused, err)
		s.audit(nil, source, err)
		return err
	}
	if !ok {
		tr.Close(CloseRefused, "resume refused: unknown, used or expired token")
		s.count("refused")
		s.log.Warn("resume refused: unknown, used or expired token", "source", source)
		err := fmt.Errorf("%w: unknown, used or expired token", ErrRefused)
		s.audit(nil, source, err)
		return err
	}
	token, err := s.issue(sess)
	if err != nil {
		tr.Close(1011, "internal error")
		sess.end(err, 0, "")
		return err
	}
	sess.e.mu.Lock()
	sess.e.heartbeat, sess.e.timeout = heartbeat, deadFactor*heartbeat
	sess.e.mu.Unlock()
	err = sess.e.attach(tr, h.recv, func(recv uint64) []byte {
		return welcome{token: token, recv: recv, window: s.cfg.Window, heartbeat: heartbeat}.encode()
	})
	if err != nil {
		tr.Close(CloseBadFrame, err.Error())
		sess.log().Warn("resume failed: tube ended", "source", source, "err", err)
		sess.end(err, 0, "")
		s.count("refused")
		err = fmt.Errorf("%w: %v", ErrRefused, err)
		s.audit(sess, source, err)
		return err
	}
	sess.reattached()
	s.count("accepted")
	s.audit(sess, source, nil)
	sess.log().Info("tube resumed", "source", source, "resent_from", h.recv)
	return nil
}

// audit records a resume's outcome for sess (nil: no tube was found).
func (s *Server) audit(sess *Session, source string, err error) {
	if s.cfg.Audit == nil {
		return
	}
	var user, tube string
	if sess != nil {
		user, tube = sess.ident()
	}
	s.cfg.Audit(user, source, tube, err)
}

func (s *Server) check(ctx context.Context, source string, lookup func() bool) (bool, error) {
	if s.cfg.Check == nil {
		return lookup(), nil
	}
	return s.cfg.Check(ctx, source, lookup)
}

// issue makes a fresh token for sess, replacing its last one.
func (s *Server) issue(sess *Session) ([TokenSize]byte, error) {
	var token [TokenSize]byte
	if _, err := rand.Read(token[:]); err != nil {
		return token, fmt.Errorf("resume token: %w", err)
	}
	h := sha256.Sum256(token[:])
	s.mu.Lock()
	defer s.mu.Unlock()
	if sess.hasToken {
		delete(s.byToken, sess.tokenHash)
	}
	sess.tokenHash, sess.hasToken = h, true
	s.byToken[h] = sess
	return token, nil
}

// take finds the tube of token and makes the token unusable (single
// use). It returns nil for a token it does not know.
func (s *Server) take(token [TokenSize]byte) *Session {
	h := sha256.Sum256(token[:])
	s.mu.Lock()
	defer s.mu.Unlock()
	sess := s.byToken[h]
	if sess == nil || subtle.ConstantTimeCompare(sess.tokenHash[:], h[:]) != 1 {
		return nil
	}
	delete(s.byToken, h)
	sess.hasToken = false
	return sess
}

// forget drops sess's token.
func (s *Server) forget(sess *Session) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if sess.hasToken {
		delete(s.byToken, sess.tokenHash)
		sess.hasToken = false
	}
}

func (s *Server) beginPending(source string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.pending[source] >= s.cfg.MaxPendingPerSource {
		return false
	}
	s.pending[source]++
	return true
}

func (s *Server) endPending(source string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.pending[source]--; s.pending[source] <= 0 {
		delete(s.pending, source)
	}
}

// ErrWindowPassed ends a tube whose client did not come back in time.
var ErrWindowPassed = errors.New("the client did not resume the tube within the resume window")

// Session is the gateway's side of a resumable tube: a net.Conn that
// outlives its transports for the resume window.
type Session struct {
	srv           *Server
	e             *endpoint
	local, remote net.Addr

	mu        sync.Mutex
	logger    *slog.Logger
	user, id  string // the tube's, once authenticated (SetIdent)
	detached  bool
	window    *time.Timer
	tokenHash [sha256.Size]byte // under srv.mu
	hasToken  bool              // under srv.mu
}

var _ net.Conn = (*Session)(nil)

// SetLog sets the logger the Session's lines go to (with the tube's id
// and user, once known).
func (s *Session) SetLog(l *slog.Logger) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.logger = l
}

// SetIdent names the tube's user and id, for the audit of its resumes.
func (s *Session) SetIdent(user, tube string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.user, s.id = user, tube
}

func (s *Session) ident() (user, tube string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.user, s.id
}

func (s *Session) log() *slog.Logger {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.logger
}

// lost is the endpoint's news of a failed transport.
func (s *Session) lost(err error) {
	var ce *CloseError
	if errors.As(err, &ce) { // the client ended the tube
		s.end(io.EOF, 0, "")
		return
	}
	window := s.srv.cfg.Window
	if window <= 0 {
		s.log().Info("tube ended: connection lost and resumption is off (--resume-window 0)", "err", err)
		s.end(fmt.Errorf("connection lost (resumption off): %w", err), 0, "")
		return
	}
	s.mu.Lock()
	if s.e.ended() != nil || s.detached || s.e.attached() {
		s.mu.Unlock()
		return
	}
	s.detached = true
	s.window = time.AfterFunc(window, s.windowPassed)
	s.mu.Unlock()
	s.srv.mu.Lock()
	s.srv.detached++
	s.srv.mu.Unlock()
	s.log().Info("tube detached: waiting for the client to resume", "err", err, "window", window)
}

// reattached ends the detached state after a resume.
func (s *Session) reattached() {
	s.mu.Lock()
	was := s.detached
	s.detached = false
	if s.window != nil {
		s.window.Stop()
		s.window = nil
	}
	s.mu.Unlock()
	if was {
		s.srv.mu.Lock()
		s.srv.detached--
		s.srv.mu.Unlock()
	}
}

func (s *Session) windowPassed() {
	s.mu.Lock()
	still := s.detached
	s.mu.Unlock()
	if !still || s.e.attached() {
		return
	}
	s.srv.count("expired")
	s.log().Warn("tube ended: not resumed within the resume window", "window", s.srv.cfg.Window)
	s.end(ErrWindowPassed, 0, "")
}

// end ends the stream; onEnd forgets the tube.
func (s *Session) end(err error, code int, reason string) { s.e.end(err, code, reason) }

// Detached reports whether the tube waits for its client to resume it:
// its keepalive must then leave it to the resume window.
func (s *Session) Detached() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.detached
}

// GoAway ends the tube with close status 1012 and reason, as the gateway
// shuts down.
func (s *Session) GoAway(reason string) error {
	s.end(net.ErrClosed, CloseRestart, reason)
	return nil
}

// Read reads the client's bytes; it waits while the tube is detached.
func (s *Session) Read(p []byte) (int, error) { return s.e.Read(p) }

// SetBudget counts what the tube keeps unacknowledged for its client in b,
// its user's share, from now on (see Budget).
func (s *Session) SetBudget(b *Budget) { s.e.setBudget(b) }

// Write sends p, or keeps it (up to the bound) while the tube is detached.
func (s *Session) Write(p []byte) (int, error) { return s.e.Write(p) }

// WriteChunkBuffer is Write for bytes gathered in b[DATA header room:], a
// buffer from ChunkBuffer: the session keeps b itself (until the client
// acknowledges its bytes) instead of copying them. b is the session's
// from then on, whatever the outcome.
func (s *Session) WriteChunkBuffer(b []byte) (int, error) { return s.e.writeChunkBuffer(b) }

// Close ends the tube; the client is told with close 1000 once it has
// acknowledged every byte the tube sent, coming back within the resume
// window if it is away (closing.go). Reads and writes fail at once.
func (s *Session) Close() error {
	s.e.closeAfterAcked(CloseNormal, "tube closed", max(s.srv.cfg.Window, time.Second))
	return nil
}

func (s *Session) LocalAddr() net.Addr                { return s.local }
func (s *Session) RemoteAddr() net.Addr               { return s.remote }
func (s *Session) SetDeadline(t time.Time) error      { s.e.setDeadlines(true, true, t); return nil }
func (s *Session) SetReadDeadline(t time.Time) error  { s.e.setDeadlines(true, false, t); return nil }
func (s *Session) SetWriteDeadline(t time.Time) error { s.e.setDeadlines(false, true, t); return nil }
