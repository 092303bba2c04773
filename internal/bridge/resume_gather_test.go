//go:build !js

package bridge

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tubegate/tubegate/internal/resume"
)

// frameSizes follows a client's side of a WebSocket connection, its
// upgrade request and then its frames, and records each frame's payload
// length.
type frameSizes struct {
	mu       sync.Mutex
	upgraded bool
	tail     []byte // the request's last bytes, then a frame header being read
	skip     uint64 // payload bytes of the current frame still to pass
	sizes    []uint64
}

func (f *frameSizes) Write(p []byte) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := len(p)
	for len(p) > 0 {
		switch {
		case !f.upgraded:
			f.tail = append(f.tail, p[0])
			p = p[1:]
			if bytes.HasSuffix(f.tail, []byte("\r\n\r\n")) {
				f.upgraded, f.tail = true, nil
			}
		case f.skip > 0:
			k := min(uint64(len(p)), f.skip)
			f.skip -= k
			p = p[k:]
		default:
			f.tail = append(f.tail, p[0])
			p = p[1:]
			if len(f.tail) >= 2 && len(f.tail) == headerLen(f.tail[1]) {
				f.skip = payloadLen(f.tail)
				f.sizes = append(f.sizes, f.skip)
				f.tail = f.tail[:0]
			}
		}
	}
	return n, nil
}

func (f *frameSizes) since(i int) []uint64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]uint64(nil), f.sizes[min(i, len(f.sizes)):]...)
}

// pausingProxy relays one connection to target; while paused it does not
// read from the client, whose frames it records in sizes.
type pausingProxy struct {
	ln     net.Listener
	target string
	sizes  frameSizes
	mu     sync.Mutex
	resume chan struct{} // nil: not paused
}

func (p *pausingProxy) pause() {
	p.mu.Lock()
	p.resume = make(chan struct{})
	p.mu.Unlock()
}

func (p *pausingProxy) unpause() {
	p.mu.Lock()
	close(p.resume)
	p.resume = nil
	p.mu.Unlock()
}

func (p *pausingProxy) wait() {
	p.mu.Lock()
	ch := p.resume
	p.mu.Unlock()
	if ch != nil {
		<-ch
	}
}

func (p *pausingProxy) serve() {
	c, err := p.ln.Accept()
	if err != nil {
		return
	}
	defer c.Close()
	s, err := net.Dial("tcp", p.target)
	if err != nil {
		return
	}
	defer s.Close()
	go io.Copy(c, s)
	buf := make([]byte, 64<<10)
	for {
		p.wait()
		n, err := c.Read(buf)
		if n > 0 {
			p.sizes.Write(buf[:n])
			if _, werr := s.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

// TestResumableClientGathersPackets: a native client's resumable tube
// sends the packets written while a DATA frame is on its way in the next
// frame (the send queue), not one frame each: the gateway then reads and
// wakes for a frame of up to 256 KiB instead of for every packet.
func TestResumableClientGathersPackets(t *testing.T) {
	rs := resume.NewServer(resume.ServerConfig{Window: time.Minute})
	var got atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := AcceptTube(context.Background(), w, r, TubeOptions{Resume: rs, Source: "127.0.0.1"})
		if err != nil || c == nil {
			return
		}
		defer c.Close()
		buf := make([]byte, 64<<10)
		for {
			n, err := c.Read(buf)
			got.Add(int64(n))
			if err != nil {
				return
			}
		}
	}))
	t.Cleanup(srv.Close)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	px := &pausingProxy{ln: ln, target: strings.TrimPrefix(srv.URL, "http://")}
	go px.serve()

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	c, err := DialResume(ctx, "ws://"+ln.Addr().String()+"/ssh", DialOptions{}, resume.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()

	// While the proxy reads nothing, the client's sends stall (the
	// socket's buffers fill, then the stream's bound of unacknowledged
	// bytes), and what is written meanwhile queues.
	px.pause()
	seen := len(px.sizes.since(0))
	const packet, packets = 32 << 10, 512 // 16 MiB, past the socket's buffers and the 8 MiB bound
	wrote := make(chan error, 1)
	go func() {
		p := bytes.Repeat([]byte{'x'}, packet)
		for i := 0; i < packets; i++ {
			if _, err := c.Write(p); err != nil {
				wrote <- err
				return
			}
		}
		wrote <- nil
	}()
	time.Sleep(300 * time.Millisecond)
	px.unpause()
	if err := <-wrote; err != nil {
		t.Fatal(err)
	}
	for got.Load() < packet*packets {
		if ctx.Err() != nil {
			t.Fatalf("the gateway received %d of %d bytes", got.Load(), packet*packets)
		}
		time.Sleep(10 * time.Millisecond)
	}

	var frames, gathered int
	for _, n := range px.sizes.since(seen) {
		if n < packet {
			continue // acknowledgements, heartbeats
		}
		frames++
		if n > 2*packet {
			gathered++
		}
	}
	if gathered == 0 || frames >= packets {
		t.Errorf("%d packets of %d bytes went in %d data frames, %d of them with more than two packets: want them gathered", packets, packet, frames, gathered)
	}
	t.Logf("%d packets of %d bytes in %d data frames, %d with more than two packets", packets, packet, frames, gathered)
}
