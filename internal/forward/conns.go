package forward

import (
	"io"
	"net"
	"sync"
)

// Conns is a set of live connections and their traffic: an endpoint's on
// the gateway, a share link's, a forward's in the page. Cut closes them all
// and refuses new ones. The zero value is ready to use.
type Conns struct {
	Stats Stats

	mu  sync.Mutex
	set map[*countedConn]struct{}
	cut bool
	// onEmpty, if set, is called (without mu) when the last connection
	// leaves the set.
	onEmpty func()
}

// Track adds c, counted in Stats until it is closed, and returns the conn
// to use instead, which counts its bytes. far says which side of the
// connection c is: the far side, towards the destination (what is written
// to it is BytesIn), or the connecting side (what is read from it is
// BytesIn). Once the set is cut it returns false and leaves c alone.
func (s *Conns) Track(c net.Conn, far bool) (net.Conn, bool) {
	return track(c, far, s)
}

// track wraps c once and adds it to every set of sets, or to none when
// one of them is cut.
func track(c net.Conn, far bool, sets ...*Conns) (net.Conn, bool) {
	cc := &countedConn{Conn: c, sets: sets, far: far}
	for i, s := range sets {
		if !s.add(cc) {
			for _, prev := range sets[:i] {
				prev.remove(cc, false)
			}
			return nil, false
		}
	}
	return cc, true
}

func (s *Conns) add(cc *countedConn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cut {
		return false
	}
	if s.set == nil {
		s.set = make(map[*countedConn]struct{})
	}
	s.set[cc] = struct{}{}
	s.Stats.Total.Add(1)
	s.Stats.Active.Add(1)
	return true
}

// remove takes cc out of the set; notify says whether to call onEmpty
// when it was the last one.
func (s *Conns) remove(cc *countedConn, notify bool) {
	s.mu.Lock()
	_, ok := s.set[cc]
	delete(s.set, cc)
	empty := ok && len(s.set) == 0
	s.mu.Unlock()
	if ok {
		s.Stats.Active.Add(-1)
	}
	if empty && notify && s.onEmpty != nil {
		s.onEmpty()
	}
}

// Len returns the number of live connections.
func (s *Conns) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.set)
}

// Cut closes every tracked connection and refuses new ones. It returns how
// many it closed.
func (s *Conns) Cut() int {
	s.mu.Lock()
	s.cut = true
	set := s.set
	s.set = nil
	s.mu.Unlock()
	for c := range set {
		s.Stats.Active.Add(-1)
		c.Close()
	}
	return len(set)
}

// countedConn counts bytes both ways in each of its sets and keeps their
// Stats.Active honest.
type countedConn struct {
	net.Conn
	sets []*Conns
	far  bool
	once sync.Once
}

func (c *countedConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	c.countRead(n)
	return n, err
}

// countRead counts n bytes read from the connection.
func (c *countedConn) countRead(n int) {
	for _, s := range c.sets {
		if c.far {
			s.Stats.BytesOut.Add(int64(n))
		} else {
			s.Stats.BytesIn.Add(int64(n))
		}
	}
}

// readCounter counts what is written to it as read from conn: the bytes
// of a counted channel's WriteTo.
type readCounter struct {
	w    io.Writer
	conn *countedConn
}

func (r readCounter) Write(p []byte) (int, error) {
	n, err := r.w.Write(p)
	r.conn.countRead(n)
	return n, err
}

func (c *countedConn) Write(p []byte) (int, error) {
	n, err := c.Conn.Write(p)
	c.countWrite(n)
	return n, err
}

// countWrite counts n bytes written to the connection.
func (c *countedConn) countWrite(n int) {
	for _, s := range c.sets {
		if c.far {
			s.Stats.BytesIn.Add(int64(n))
		} else {
			s.Stats.BytesOut.Add(int64(n))
		}
	}
}

// writeCounter counts what is read from it as written to conn: the bytes
// a counted channel's ReadFrom sends.
type writeCounter struct {
	r    io.Reader
	conn *countedConn
}

func (w writeCounter) Read(p []byte) (int, error) {
	n, err := w.r.Read(p)
	w.conn.countWrite(n)
	return n, err
}

func (c *countedConn) Close() error {
	c.once.Do(func() {
		for _, s := range c.sets {
			s.remove(c, true)
		}
	})
	return c.Conn.Close()
}

// CloseWrite half-closes the connection, or closes it whole when the
// underlying conn cannot half-close.
func (c *countedConn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return c.Close()
}

// ConnsByKey is a Conns for each key, such as a share link's ID, made when
// its first connection comes and dropped when its last one goes. Cutting a
// key closes its connections; a key's later connections make a new set.
// The zero value is ready to use.
type ConnsByKey struct {
	mu   sync.Mutex
	sets map[string]*Conns
}

// Track is Conns.Track for key's set and, with the same one wrapper, for
// each set of also (such as the endpoint's): closing either closes it.
func (k *ConnsByKey) Track(key string, c net.Conn, far bool, also ...*Conns) (net.Conn, bool) {
	k.mu.Lock()
	defer k.mu.Unlock()
	s := k.sets[key]
	if s == nil {
		s = &Conns{}
		s.onEmpty = func() { k.drop(key, s) }
		if k.sets == nil {
			k.sets = make(map[string]*Conns)
		}
		k.sets[key] = s
	}
	tc, ok := track(c, far, append([]*Conns{s}, also...)...)
	if !ok && s.Len() == 0 {
		delete(k.sets, key)
	}
	return tc, ok
}

// drop forgets key's set s once it is empty. Under k.mu no connection can
// join s meanwhile.
func (k *ConnsByKey) drop(key string, s *Conns) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.sets[key] == s && s.Len() == 0 {
		delete(k.sets, key)
	}
}

// Count returns the number of live connections of key.
func (k *ConnsByKey) Count(key string) int {
	k.mu.Lock()
	s := k.sets[key]
	k.mu.Unlock()
	if s == nil {
		return 0
	}
	return s.Len()
}

// Cut closes every connection of key and returns how many there were.
func (k *ConnsByKey) Cut(key string) int {
	k.mu.Lock()
	s := k.sets[key]
	delete(k.sets, key)
	k.mu.Unlock()
	if s == nil {
		return 0
	}
	return s.Cut()
}

// Keys returns the keys that have live connections.
func (k *ConnsByKey) Keys() []string {
	k.mu.Lock()
	defer k.mu.Unlock()
	keys := make([]string, 0, len(k.sets))
	for key := range k.sets {
		keys = append(keys, key)
	}
	return keys
}
