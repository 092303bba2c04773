package forward

import (
	"net"
	"sync"
)

// Conns is a set of live connections and their traffic: an endpoint's on
// the gateway, a forward's in the page. Cut closes them all and refuses
// new ones. The zero value is ready to use.
type Conns struct {
	Stats Stats

	mu  sync.Mutex
	set map[*countedConn]struct{}
	cut bool
}

// Track adds c, counted in Stats until it is closed, and returns the conn
// to use instead, which counts its bytes. far says which side of the
// connection c is: the far side, towards the destination (what is written
// to it is BytesIn), or the connecting side (what is read from it is
// BytesIn). Once the set is cut it returns false and leaves c alone.
func (s *Conns) Track(c net.Conn, far bool) (net.Conn, bool) {
	cc := &countedConn{Conn: c, set: s, far: far}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cut {
		return nil, false
	}
	if s.set == nil {
		s.set = make(map[*countedConn]struct{})
	}
	s.set[cc] = struct{}{}
	s.Stats.Total.Add(1)
	s.Stats.Active.Add(1)
	return cc, true
}

// Cut closes every tracked connection and refuses new ones.
func (s *Conns) Cut() {
	s.mu.Lock()
	s.cut = true
	set := s.set
	s.set = nil
	s.mu.Unlock()
	for c := range set {
		c.Close()
	}
}

// countedConn counts bytes both ways and keeps Stats.Active honest.
type countedConn struct {
	net.Conn
	set  *Conns
	far  bool
	once sync.Once
}

func (c *countedConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	if c.far {
		c.set.Stats.BytesOut.Add(int64(n))
	} else {
		c.set.Stats.BytesIn.Add(int64(n))
	}
	return n, err
}

func (c *countedConn) Write(p []byte) (int, error) {
	n, err := c.Conn.Write(p)
	if c.far {
		c.set.Stats.BytesIn.Add(int64(n))
	} else {
		c.set.Stats.BytesOut.Add(int64(n))
	}
	return n, err
}

func (c *countedConn) Close() error {
	c.once.Do(func() {
		c.set.Stats.Active.Add(-1)
		c.set.mu.Lock()
		delete(c.set.set, c)
		c.set.mu.Unlock()
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
