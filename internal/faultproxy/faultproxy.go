// Package faultproxy is a TCP proxy on loopback that injects network
// faults between a client and a server, for tests and benchmarks: it
// resets connections mid-stream (RST), black-holes them (stops
// forwarding without closing, both ways, as a dead NAT does), black-holes
// new connections for a while (a dead network) and adds latency.
package faultproxy

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"time"
)

// Proxy forwards every connection it accepts to a target address.
type Proxy struct {
	ln     net.Listener
	target string
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu        sync.Mutex
	pairs     map[*pair]struct{}
	latency   time.Duration
	holeUntil time.Time // new connections are black-holed until then
	accepted  int
}

// pair is one proxied connection: the client's side and the target's.
type pair struct {
	client, server net.Conn
	holed          chan struct{} // closed when the pair is black-holed
	holeOnce       sync.Once
}

func (p *pair) hole() { p.holeOnce.Do(func() { close(p.holed) }) }

// New listens on listen (a loopback address, port 0 for any) and
// forwards to target until Close.
func New(listen, target string) (*Proxy, error) {
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		return nil, fmt.Errorf("faultproxy listen %s: %w", listen, err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	p := &Proxy{ln: ln, target: target, ctx: ctx, cancel: cancel, pairs: map[*pair]struct{}{}}
	p.wg.Add(1)
	go p.serve()
	return p, nil
}

// Addr is the address clients connect to.
func (p *Proxy) Addr() string { return p.ln.Addr().String() }

// Accepted returns how many connections the proxy has accepted.
func (p *Proxy) Accepted() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.accepted
}

// SetLatency delays every chunk forwarded from now on by d, each way.
func (p *Proxy) SetLatency(d time.Duration) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.latency = d
}

// Reset resets every current connection, both to the client and to the
// target (SO_LINGER 0, then close: an RST, not a FIN), and returns how
// many it reset.
func (p *Proxy) Reset() int {
	p.mu.Lock()
	pairs := p.takeAll()
	p.mu.Unlock()
	for _, pr := range pairs {
		rst(pr.client)
		rst(pr.server)
	}
	return len(pairs)
}

// BlackHole stops forwarding on every current connection, both ways,
// without closing it: nothing more is read from either side, as if the
// network between them had died. Those connections stay dead until
// Close. It returns how many it black-holed.
func (p *Proxy) BlackHole() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	for pr := range p.pairs {
		pr.hole()
	}
	return len(p.pairs)
}

// BlackHoleFor black-holes every current connection for good and every
// connection accepted in the next d (they are accepted, then carry
// nothing), as a dead network does; connections after d work.
func (p *Proxy) BlackHoleFor(d time.Duration) int {
	p.mu.Lock()
	p.holeUntil = time.Now().Add(d)
	p.mu.Unlock()
	return p.BlackHole()
}

// Close stops the proxy and closes every connection.
func (p *Proxy) Close() error {
	p.cancel()
	err := p.ln.Close()
	p.mu.Lock()
	pairs := p.takeAll()
	p.mu.Unlock()
	for _, pr := range pairs {
		pr.client.Close()
		pr.server.Close()
	}
	p.wg.Wait()
	return err
}

// takeAll removes and returns every pair; p.mu is held.
func (p *Proxy) takeAll() []*pair {
	var out []*pair
	for pr := range p.pairs {
		out = append(out, pr)
		delete(p.pairs, pr)
	}
	return out
}

func rst(c net.Conn) {
	if tc, ok := c.(*net.TCPConn); ok {
		tc.SetLinger(0)
	}
	c.Close()
}

func (p *Proxy) serve() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) || p.ctx.Err() != nil {
				return
			}
			time.Sleep(10 * time.Millisecond) // EMFILE and the like: try again
			continue
		}
		p.wg.Add(1)
		go p.handle(c)
	}
}

func (p *Proxy) handle(c net.Conn) {
	defer p.wg.Done()
	d := net.Dialer{Timeout: 10 * time.Second}
	s, err := d.DialContext(p.ctx, "tcp", p.target)
	if err != nil {
		rst(c)
		return
	}
	pr := &pair{client: c, server: s, holed: make(chan struct{})}
	p.mu.Lock()
	if p.ctx.Err() != nil {
		p.mu.Unlock()
		c.Close()
		s.Close()
		return
	}
	p.accepted++
	p.pairs[pr] = struct{}{}
	if time.Now().Before(p.holeUntil) {
		pr.hole()
	}
	p.mu.Unlock()
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); p.forward(pr, c, s) }()
	go func() { defer wg.Done(); p.forward(pr, s, c) }()
	wg.Wait()
	p.mu.Lock()
	delete(p.pairs, pr)
	p.mu.Unlock()
}

// chunk is bytes read at a time, to be written after the latency.
type chunk struct {
	at   time.Time
	data []byte
}

// forward copies src to dst through a queue that applies the latency,
// until either side ends or the pair is black-holed (then it waits for
// the proxy to close, reading nothing).
func (p *Proxy) forward(pr *pair, src, dst net.Conn) {
	q := make(chan chunk, 64)
	done := make(chan struct{})
	go func() { // the writer
		defer close(done)
		for ch := range q {
			if d := time.Until(ch.at); d > 0 {
				select {
				case <-time.After(d):
				case <-pr.holed:
				case <-p.ctx.Done():
				}
			}
			select {
			case <-pr.holed:
				continue // dropped, as a dead network drops it
			default:
			}
			if _, err := dst.Write(ch.data); err != nil {
				src.Close()
				for range q {
				}
				return
			}
		}
		select {
		case <-pr.holed: // a dead network says nothing, not even a FIN
			return
		default:
		}
		if cw, ok := dst.(*net.TCPConn); ok {
			cw.CloseWrite()
		}
	}()
	for {
		select {
		case <-pr.holed:
			close(q)
			<-done
			<-p.ctx.Done() // dead for good: nothing is read, nothing is closed
			return
		default:
		}
		buf := make([]byte, 32<<10)
		n, err := src.Read(buf)
		if n > 0 {
			p.mu.Lock()
			lat := p.latency
			p.mu.Unlock()
			q <- chunk{at: time.Now().Add(lat), data: buf[:n]}
		}
		if err != nil {
			close(q)
			<-done
			if !errors.Is(err, io.EOF) {
				dst.Close()
			}
			return
		}
	}
}
