package bridge

import (
	"context"
	"crypto/sha256"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/tubegate/tubegate/internal/faultproxy"
	"github.com/tubegate/tubegate/internal/resume"
)

// sendingServer serves /ssh with AcceptTube; each tube gets n
// pseudo-random bytes (seed 1), in writes of random sizes, and is then
// closed; their hash goes to sums.
func sendingServer(t *testing.T, rs *resume.Server, n int, sums chan<- [32]byte) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := AcceptTube(context.Background(), w, r, TubeOptions{Resume: rs, Source: "127.0.0.1"})
		if err != nil || c == nil {
			return
		}
		go func() {
			defer c.Close()
			sums <- sendRandom(c, n, 1)
		}()
	}))
	t.Cleanup(srv.Close)
	return srv
}

// sendingBehindProxy starts a sendingServer of n bytes a tube behind a
// faultproxy, and returns the proxy and the hashes of what was sent.
func sendingBehindProxy(t *testing.T, n int) (*faultproxy.Proxy, <-chan [32]byte) {
	t.Helper()
	rs := resume.NewServer(resume.ServerConfig{Window: time.Minute})
	sums := make(chan [32]byte, 1)
	srv := sendingServer(t, rs, n, sums)
	fp, err := faultproxy.New("127.0.0.1:0", srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { fp.Close() })
	return fp, sums
}

// sendRandom writes n pseudo-random bytes to w and returns their hash.
func sendRandom(w io.Writer, n int, seed uint64) [32]byte {
	r := rand.New(rand.NewPCG(seed, seed))
	h := sha256.New()
	buf := make([]byte, 300<<10)
	for n > 0 {
		k := min(n, 1+r.IntN(len(buf)))
		for i := range buf[:k] {
			buf[i] = byte(r.Uint32())
		}
		h.Write(buf[:k])
		if _, err := w.Write(buf[:k]); err != nil {
			return [32]byte{}
		}
		n -= k
	}
	return [32]byte(h.Sum(nil))
}

// dialSpliceTube opens a resumable tube to rawURL with the lean client and
// returns it with every transport it dialed.
func dialSpliceTube(t *testing.T, rawURL string, ropts resume.Options) (*resume.Conn, func() []*leanWS) {
	t.Helper()
	u, err := url.Parse(rawURL)
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var dialed []*leanWS
	dial := func(ctx context.Context) (resume.Transport, error) {
		tr, err := dialResumable(ctx, u, DialOptions{Proxy: noProxy})
		if err == nil {
			mu.Lock()
			dialed = append(dialed, tr.(*leanWS))
			mu.Unlock()
		}
		return tr, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := resume.Dial(ctx, dial, ropts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c, func() []*leanWS {
		mu.Lock()
		defer mu.Unlock()
		return append([]*leanWS(nil), dialed...)
	}
}

// hashPipe returns the write end of a pipe whose reader hashes what comes
// out, and the hash once the write end is closed. The write end blocks
// (as a ProxyCommand's stdout does) or, if nonblocking, is the runtime
// poller's (as os.Pipe's).
func hashPipe(t *testing.T, nonblocking bool) (*os.File, <-chan [32]byte) {
	t.Helper()
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	if !nonblocking {
		pw = blocking(t, pw)
	}
	sum := make(chan [32]byte, 1)
	go func() {
		h := sha256.New()
		io.Copy(h, pr)
		pr.Close()
		sum <- [32]byte(h.Sum(nil))
	}()
	return pw, sum
}

// blocking returns the pipe end f as a file that blocks (and is not the
// runtime poller's), as a ProxyCommand's stdout is; f is closed.
func blocking(t *testing.T, f *os.File) *os.File {
	t.Helper()
	fd, err := syscall.Dup(int(f.Fd()))
	if err != nil {
		t.Fatal(err)
	}
	f.Close()
	syscall.SetNonblock(fd, false)
	return os.NewFile(uintptr(fd), "blocking pipe")
}

// TestSpliceTubeDeliversToPipe: the gateway's bytes reach a pipe whole
// and in order through the lean client, spliced, across drops of the
// transport mid-transfer (a reset and a resume-level drop), and WriteTo
// ends with no error when the gateway closes.
func TestSpliceTubeDeliversToPipe(t *testing.T) {
	for _, nb := range []bool{false, true} {
		t.Run(map[bool]string{false: "blocking", true: "nonblocking"}[nb], func(t *testing.T) {
			testSpliceTubeDeliversToPipe(t, nb)
		})
	}
}

func testSpliceTubeDeliversToPipe(t *testing.T, nonblocking bool) {
	const n = 48 << 20
	fp, sums := sendingBehindProxy(t, n)
	c, dialed := dialSpliceTube(t, "ws://"+fp.Addr()+"/ssh", resume.Options{Heartbeat: time.Second})
	pw, got := hashPipe(t, nonblocking)
	dropped := make(chan int, 1)
	go func() {
		k := 0
		for i, drop := range []func(){func() { fp.Reset() }, c.Drop} {
			waitFor(t, "a quarter more received", func() bool {
				_, r := c.Offsets()
				return r > uint64(i+1)*n/4
			})
			if _, r := c.Offsets(); r < n {
				drop()
				k++
			}
		}
		dropped <- k
	}()
	k, err := c.WriteTo(pw)
	pw.Close()
	if err != nil || k != n {
		t.Fatalf("WriteTo = %d, %v; want %d, nil", k, err, n)
	}
	if <-got != <-sums {
		t.Fatal("the bytes out of the pipe differ from the bytes sent")
	}
	if k := <-dropped; k != 2 {
		t.Fatalf("%d drops mid-transfer, want 2", k)
	}
	var spliced uint64
	for _, lc := range dialed() {
		spliced += lc.out.spliced.Load()
	}
	if len(dialed()) < 2 || spliced < n/2 {
		t.Fatalf("%d transports, %d bytes spliced of %d: want 2 or more, and most spliced", len(dialed()), spliced, n)
	}
}

// TestSpliceTubeBlackHoleResumes: a transport that goes silent while a
// payload is being spliced (the reader waits on the socket mid-message)
// is taken for dead and resumed; nothing is lost.
func TestSpliceTubeBlackHoleResumes(t *testing.T) {
	const n = 24 << 20
	fp, sums := sendingBehindProxy(t, n)
	states := make(chan resume.State, 16)
	c, _ := dialSpliceTube(t, "ws://"+fp.Addr()+"/ssh", resume.Options{Heartbeat: time.Second, OnState: func(s resume.State) { states <- s }})
	pw, got := hashPipe(t, false)
	go func() {
		waitFor(t, "some received", func() bool { _, r := c.Offsets(); return r > n/3 })
		fp.BlackHole()
	}()
	k, err := c.WriteTo(pw)
	pw.Close()
	if err != nil || k != n {
		t.Fatalf("WriteTo = %d, %v; want %d, nil", k, err, n)
	}
	if <-got != <-sums {
		t.Fatal("the bytes out of the pipe differ from the bytes sent")
	}
	resumed := false
	for len(states) > 0 {
		if (<-states).Kind == resume.Resumed {
			resumed = true
		}
	}
	if !resumed {
		t.Fatal("the black hole was never resumed from")
	}
}

// TestSpliceTubeSlowPipeIsNoDeadPeer: a pipe whose reader stops for
// longer than the dead-transport timeout holds the splice in the kernel;
// that wait is the writer's, and the transport is not dropped for it.
func TestSpliceTubeSlowPipeIsNoDeadPeer(t *testing.T) {
	const n = 8 << 20
	rs := resume.NewServer(resume.ServerConfig{Window: time.Minute})
	sums := make(chan [32]byte, 1)
	srv := sendingServer(t, rs, n, sums)
	states := make(chan resume.State, 16)
	c, _ := dialSpliceTube(t, wsURL(srv), resume.Options{Heartbeat: time.Second, OnState: func(s resume.State) { states <- s }})
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	pw = blocking(t, pw)
	got := make(chan [32]byte, 1)
	go func() {
		time.Sleep(4 * time.Second) // dead after 3 s of silence
		h := sha256.New()
		io.Copy(h, pr)
		got <- [32]byte(h.Sum(nil))
	}()
	k, err := c.WriteTo(pw)
	pw.Close()
	if err != nil || k != n {
		t.Fatalf("WriteTo = %d, %v; want %d, nil", k, err, n)
	}
	if <-got != <-sums {
		t.Fatal("the bytes out of the pipe differ from the bytes sent")
	}
	for len(states) > 0 {
		if s := <-states; s.Kind == resume.Reconnecting {
			t.Fatalf("%v: the stopped reader was taken for a dead gateway", s)
		}
	}
}
