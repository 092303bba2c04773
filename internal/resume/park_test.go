package resume

import (
	"context"
	"errors"
	"io"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// parkOwnerReader calls s.ParkRead in a goroutine, as x/crypto's reader
// does between packets, and returns its answer (waiting up to within) and
// a channel that gets a value when the parked reader is resumed.
func parkOwnerReader(t *testing.T, s *Session, within time.Duration) (parked bool, resumed <-chan struct{}) {
	t.Helper()
	res := make(chan struct{}, 2)
	ans := make(chan bool, 1)
	go func() { ans <- s.ParkRead(func() { res <- struct{}{} }) }()
	select {
	case p := <-ans:
		return p, res
	case <-time.After(within):
		t.Fatalf("ParkRead did not answer in %v", within)
	}
	return false, nil
}

// waitResumed waits for a parked reader to be resumed.
func waitResumed(t *testing.T, resumed <-chan struct{}, why string) {
	t.Helper()
	select {
	case <-resumed:
	case <-time.After(10 * time.Second):
		t.Fatalf("the parked reader was not resumed by %s", why)
	}
}

// TestSessionReaderParks: the owner's reader parks once the client has
// sent no bytes for readLinger (heartbeats do not count), is resumed by
// the next bytes and reads them, time and again.
func TestSessionReaderParks(t *testing.T) {
	f := newFixture(t, ServerConfig{Window: time.Minute})
	c, s := f.connect(f.opts()) // a heartbeat a second
	buf := make([]byte, 16)
	for round := range 3 {
		msg := []byte{'a' + byte(round)}
		if _, err := c.Write(msg); err != nil {
			t.Fatal(err)
		}
		if n, err := io.ReadFull(s, buf[:1]); err != nil || buf[0] != msg[0] {
			t.Fatalf("round %d: read %q, %v; want %q", round, buf[:n], err, msg)
		}
		parked, resumed := parkOwnerReader(t, s, 10*time.Second)
		if !parked {
			t.Fatalf("round %d: the reader of an idle session did not park", round)
		}
		select {
		case <-resumed:
			t.Fatalf("round %d: resumed with no bytes received", round)
		case <-time.After(2500 * time.Millisecond): // heartbeats come and go
		}
		if _, err := c.Write([]byte("more")); err != nil {
			t.Fatal(err)
		}
		waitResumed(t, resumed, "the client's bytes")
		if n, err := io.ReadFull(s, buf[:4]); err != nil || string(buf[:n]) != "more" {
			t.Fatalf("round %d: read after resume %q, %v", round, buf[:n], err)
		}
	}
}

// TestParkReadReadsOnWhenBytesCome: bytes arriving within readLinger of
// the last make a waiting ParkRead answer false, and the reader reads
// them.
func TestParkReadReadsOnWhenBytesCome(t *testing.T) {
	f := newFixture(t, ServerConfig{Window: time.Minute})
	c, s := f.connect(f.opts())
	buf := make([]byte, 4)
	for round := range 3 {
		if _, err := c.Write([]byte("last")); err != nil {
			t.Fatal(err)
		}
		if _, err := io.ReadFull(s, buf); err != nil {
			t.Fatal(err)
		}
		go func() {
			time.Sleep(readLinger / 10)
			c.Write([]byte("soon"))
		}()
		if parked, _ := parkOwnerReader(t, s, 10*time.Second); parked {
			t.Fatalf("round %d: ParkRead parked with bytes arriving %v after the last", round, readLinger/10)
		}
		if n, err := io.ReadFull(s, buf); err != nil || string(buf[:n]) != "soon" {
			t.Fatalf("round %d: read %q, %v", round, buf[:n], err)
		}
	}
}

// TestParkedReaderWokenByEnds: a parked reader is resumed, and its next
// read fails, when the session is closed, when the client ends the
// stream, or when a read deadline is set.
func TestParkedReaderWokenByEnds(t *testing.T) {
	for _, tc := range []struct {
		name string
		end  func(c *Conn, s *Session)
		want error
	}{
		{"session closed", func(_ *Conn, s *Session) { s.Close() }, net.ErrClosed},
		{"client closed", func(c *Conn, _ *Session) { c.Close() }, io.EOF},
		{"read deadline", func(_ *Conn, s *Session) { s.SetReadDeadline(time.Now().Add(50 * time.Millisecond)) }, os.ErrDeadlineExceeded},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, ServerConfig{Window: time.Minute})
			c, s := f.connect(f.opts())
			c.Write([]byte("x"))
			io.ReadFull(s, make([]byte, 1))
			parked, resumed := parkOwnerReader(t, s, 10*time.Second)
			if !parked {
				t.Fatal("the reader of an idle session did not park")
			}
			tc.end(c, s)
			waitResumed(t, resumed, tc.name)
			if _, err := s.Read(make([]byte, 1)); !errors.Is(err, tc.want) {
				t.Fatalf("read after %s: %v, want %v", tc.name, err, tc.want)
			}
		})
	}
}

// parkingMem is a memTransport whose reader parks (a Parker) whenever no
// message is waiting: a goroutine of the test's stands for the poller,
// and resumes it when one comes or the link closes.
type parkingMem struct {
	*memTransport
	mu      sync.Mutex
	pending []byte // taken off in by the watcher; read first
	parks   atomic.Int32
}

func (p *parkingMem) ParkRead(resume func(), _ bool) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	select {
	case <-p.link.closed:
		return false // read on, to meet the close
	default:
	}
	if p.pending != nil || len(p.in) > 0 {
		return false
	}
	p.parks.Add(1)
	go func() {
		select {
		case m := <-p.in:
			p.mu.Lock()
			p.pending = m
			p.mu.Unlock()
		case <-p.link.closed:
		}
		resume()
	}()
	return true
}

func (p *parkingMem) ReadMessage(ctx context.Context) ([]byte, error) {
	p.mu.Lock()
	m := p.pending
	p.pending = nil
	p.mu.Unlock()
	if m != nil {
		return m, nil
	}
	return p.memTransport.ReadMessage(ctx)
}

// TestTransportReaderParks: the session's reader of a Parker transport
// parks between messages, and the tube carries on through it both ways,
// through a drop and a resume (the parked reader of the dropped transport
// meets its close), to the end.
func TestTransportReaderParks(t *testing.T) {
	f := newFixture(t, ServerConfig{Window: time.Minute})
	var mu sync.Mutex
	var ends []*parkingMem
	f.wrapServer = func(tr *memTransport) Transport {
		p := &parkingMem{memTransport: tr}
		mu.Lock()
		ends = append(ends, p)
		mu.Unlock()
		return p
	}
	parks := func() (n int32) {
		mu.Lock()
		defer mu.Unlock()
		for _, p := range ends {
			n += p.parks.Load()
		}
		return n
	}
	c, s := f.connect(f.opts())
	echo := func(msg string) {
		t.Helper()
		before := parks()
		if _, err := c.Write([]byte(msg)); err != nil {
			t.Fatal(err)
		}
		buf := make([]byte, len(msg))
		if _, err := io.ReadFull(s, buf); err != nil || string(buf) != msg {
			t.Fatalf("gateway read %q, %v; want %q", buf, err, msg)
		}
		if _, err := s.Write(buf); err != nil {
			t.Fatal(err)
		}
		if _, err := io.ReadFull(c, buf); err != nil || string(buf) != msg {
			t.Fatalf("client read %q, %v; want %q", buf, err, msg)
		}
		waitFor(t, "the transport's reader to park again", func() bool { return parks() > before })
	}
	echo("first")
	echo("second")
	c.Drop()
	waitFor(t, "the client to resume", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(ends) == 2 && !s.Detached()
	})
	echo("after the resume")
	c.Close()
	if _, err := io.ReadAll(s); err != nil {
		t.Fatalf("the session's end: %v, want EOF", err)
	}
	select {
	case <-s.e.done:
	case <-time.After(10 * time.Second):
		t.Fatal("the session did not end")
	}
}
