package sshserver

import (
	"net"
	"sort"
	"sync/atomic"
	"time"

	"github.com/tubegate/tubegate/internal/audit"
)

// TubeInfo is a live tube as the admin page lists it.
type TubeInfo struct {
	ID        string    `json:"id"`
	User      string    `json:"user"`
	Source    string    `json:"source"`
	Transport string    `json:"transport"`
	Since     time.Time `json:"since"`
	// Forwards are the endpoints the tube publishes (bind host:port).
	Forwards []string `json:"forwards"`
	BytesIn  int64    `json:"bytes_in"`  // from the client, SSH bytes on the carrier
	BytesOut int64    `json:"bytes_out"` // to the client
}

// List returns the live tubes, oldest first.
func (s *Server) List() []TubeInfo {
	tubes := s.liveTubes()
	out := make([]TubeInfo, 0, len(tubes))
	for _, t := range tubes {
		fw := []string{}
		for _, ep := range s.cfg.Registry.List(t) {
			fw = append(fw, ep.Key.String())
		}
		out = append(out, TubeInfo{ID: t.id, User: t.user, Source: t.RemoteAddr().String(), Transport: t.transport,
			Since: t.started.UTC(), Forwards: fw, BytesIn: t.bytes.in.Load(), BytesOut: t.bytes.out.Load()})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Since.Before(out[j].Since) })
	return out
}

// Disconnect closes the live tube id, telling its client an administrator
// did (see Tube.shutdown), and records who did in the audit log. It
// reports whether there was such a tube.
func (s *Server) Disconnect(id, by, source string) bool {
	for _, t := range s.liveTubes() {
		if t.id != id {
			continue
		}
		t.log.Warn("tube closed by an administrator", "by", by)
		s.cfg.Audit.Record(audit.Event{Event: audit.TubeDisconnect, User: t.user, Source: t.RemoteAddr().String(),
			Tube: t.id, Outcome: audit.Success, By: by, Transport: t.transport})
		go t.shutdown("an administrator closed this connection")
		return true
	}
	return false
}

// byteCount counts the bytes of a tube's carrier.
type byteCount struct {
	in, out atomic.Int64
}

// countingConn is a carrier that adds what passes to a byteCount.
type countingConn struct {
	net.Conn
	n *byteCount
}

// contiguousReader is a carrier that keeps what it received in buffers of
// its own (a resumable tube's messages), from which x/crypto opens a packet
// without copying it out first (patch 0017).
type contiguousReader interface {
	ReadContiguous(n int) ([]byte, error)
}

// newCountingConn counts c's bytes in n, and passes on ReadContiguous
// where c has it (only there: x/crypto reads a carrier that has it
// without a buffer of its own).
func newCountingConn(c net.Conn, n *byteCount) net.Conn {
	if _, ok := c.(contiguousReader); ok {
		return countingContiguousConn{countingConn{c, n}}
	}
	return countingConn{c, n}
}

// countingContiguousConn is a countingConn whose carrier has ReadContiguous.
type countingContiguousConn struct{ countingConn }

func (c countingContiguousConn) ReadContiguous(n int) ([]byte, error) {
	b, err := c.Conn.(contiguousReader).ReadContiguous(n)
	c.n.in.Add(int64(len(b)))
	return b, err
}

func (c countingConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	c.n.in.Add(int64(n))
	return n, err
}

func (c countingConn) Write(p []byte) (int, error) {
	n, err := c.Conn.Write(p)
	c.n.out.Add(int64(n))
	return n, err
}

// PacketBuffer passes on the connection's offer of room for the next
// packet (a WebSocket tube's send queue; nil otherwise), which x/crypto
// seals its packet in (patch 0014).
func (c countingConn) PacketBuffer(n int) []byte {
	if pw, ok := c.Conn.(interface{ PacketBuffer(int) []byte }); ok {
		return pw.PacketBuffer(n)
	}
	return nil
}

// ParkRead passes on the carrier's offer to park x/crypto's reader while
// the client is idle (a raw WebSocket tube's; patch 0023).
func (c countingConn) ParkRead(resume func()) bool {
	rp, ok := c.Conn.(interface{ ParkRead(func()) bool })
	return ok && rp.ParkRead(resume)
}

// event is an audit event of the tube, with its user, source and id.
func (t *Tube) event(name, outcome string) audit.Event {
	return audit.Event{Event: name, User: t.user, Source: t.RemoteAddr().String(), Tube: t.id, Outcome: outcome,
		Transport: t.transport}
}
