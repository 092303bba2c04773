package connlimit

import (
	"bufio"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"
)

// ReasonPerClient is the reason Requests refuses a request, as counted by
// Requests.Refused.
const ReasonPerClient = "per_client"

// Requests caps the requests in flight per client address for requests a
// trusted reverse proxy relays: the proxy's own connections carry many
// clients, so the listener cannot hold each client to its share (the
// proxy is exempt there), and the cap moves here, to the client address
// the proxy vouches for (as nginx's limit_conn counts, with its realip
// module, the requests being served per real client). A WebSocket tube
// or a streaming share-link answer is in flight until its connection
// closes, hijacked or not.
type Requests struct {
	max    int
	client func(*http.Request) (netip.Addr, bool)
	log    *slog.Logger

	mu      sync.Mutex
	by      map[netip.Addr]int
	logged  time.Time // last refusal logged
	unsaid  int       // refusals since, not logged
	refused atomic.Uint64
}

// NewRequests caps each client at max requests in flight (0: no cap).
// client returns the address a request counts against, and false for a
// request that is not counted here (one the listener's cap already
// holds).
func NewRequests(max int, client func(*http.Request) (netip.Addr, bool), log *slog.Logger) *Requests {
	return &Requests{max: max, client: client, log: log, by: make(map[netip.Addr]int)}
}

// Refused returns how many requests were refused since the start.
func (q *Requests) Refused() uint64 { return q.refused.Load() }

// InFlight returns the requests counted now for a.
func (q *Requests) InFlight(a netip.Addr) int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.by[a]
}

// Handler serves next within the cap; a request past it gets 429.
func (q *Requests) Handler(next http.Handler) http.Handler {
	if q.max <= 0 {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		a, ok := q.client(r)
		if !ok {
			next.ServeHTTP(w, r)
			return
		}
		if !q.acquire(a) {
			q.refuse(a)
			w.Header().Set("Retry-After", "5")
			http.Error(w, "tubegate: too many connections from your address", http.StatusTooManyRequests)
			return
		}
		cw := &countedWriter{ResponseWriter: w, release: sync.OnceFunc(func() { q.release(a) })}
		defer func() {
			if !cw.hijacked.Load() {
				cw.release()
			}
		}()
		next.ServeHTTP(cw, r)
	})
}

func (q *Requests) acquire(a netip.Addr) bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.by[a] >= q.max {
		return false
	}
	q.by[a]++
	return true
}

func (q *Requests) release(a netip.Addr) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.by[a]--; q.by[a] <= 0 {
		delete(q.by, a)
	}
}

// refuse counts a refusal and logs it, at most one line in 5 seconds
// (with how many went unlogged before it).
func (q *Requests) refuse(a netip.Addr) {
	q.refused.Add(1)
	q.mu.Lock()
	now := time.Now()
	if now.Sub(q.logged) < 5*time.Second {
		q.unsaid++
		q.mu.Unlock()
		return
	}
	unsaid := q.unsaid
	q.logged, q.unsaid = now, 0
	q.mu.Unlock()
	if q.log != nil {
		q.log.Warn("request refused: too many in flight from this client behind a trusted proxy",
			"remote", a.String(), "max_per_source", q.max, "refused_unlogged_before", unsaid)
	}
}

// countedWriter gives its slot back when the handler returns or, for a
// hijacked connection (a WebSocket), when that connection closes.
type countedWriter struct {
	http.ResponseWriter
	release  func()
	hijacked atomic.Bool
}

func (w *countedWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// Hijack hands over the connection, whose Close gives the slot back.
func (w *countedWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	c, brw, err := http.NewResponseController(w.ResponseWriter).Hijack()
	if err != nil {
		return nil, nil, err
	}
	w.hijacked.Store(true)
	return &releasingConn{Conn: c, release: w.release}, brw, nil
}

type releasingConn struct {
	net.Conn
	release func()
}

// WriteThrough returns the connection its Write passes bytes to unchanged
// (writev.Wrapper).
func (c *releasingConn) WriteThrough() net.Conn { return c.Conn }

// ReadThrough returns the connection its Read passes straight to
// (idlepoll.ReadWrapper).
func (c *releasingConn) ReadThrough() net.Conn { return c.Conn }

func (c *releasingConn) Close() error {
	defer c.release()
	return c.Conn.Close()
}
