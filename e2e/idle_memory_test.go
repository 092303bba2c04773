package e2e

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/tubegate/tubegate/internal/bridge"
	"github.com/tubegate/tubegate/internal/resume"
)

var rePprofListening = regexp.MustCompile(`msg="pprof listening" addr=(\S+)`)

// idleTubes is how many idle tubes TestIdleTubeMemory opens, and
// idleDialers how many handshakes it runs at once. The gateway's own
// allocations around a reading (its HTTP answers) move the heap by up to
// about 2 MB, which idleTubes makes small beside a tube's.
const idleTubes, idleDialers = 1000, 8

// TestIdleTubeMemory: what an idle tube costs the built gateway, read
// from its /metrics after a forced collection (/debug/pprof/heap?gc=1):
// the Go heap, and the goroutine stacks. Each tube is the Go SSH client
// over --ssh-listen holding one -R of a virtual name (a port adds two
// listeners; docs/perf/idle-memory.md). Before the x/crypto patches 0004
// and 0005 an idle tube held x/crypto's 4 KiB read and write buffers, and
// the stack its key exchange had grown (which a collection only partly
// gives back: most of that gain is in the RSS before one).
func TestIdleTubeMemory(t *testing.T) {
	// 21-25 KiB of heap before the patches (8 of it x/crypto's buffers),
	// 13 after, 11.6 since 0019 and 0020. Stacks: 22-24 KiB before, 21
	// after, for 4 goroutines (the tube's, and x/crypto's mux, reader and
	// key exchange loops); 8 KiB for 2 (x/crypto's mux and reader) since
	// the key exchange loop and the tube's run only while they have work
	// (patches 0019 and 0020). A goroutine more is caught by the count.
	// Heap 10.2 KiB since patch 0021 (the connection's configuration
	// trimmed after its handshake; 11.2-11.3 before), 11.0-11.1 on
	// another day's machine.
	idleTubeMemory(t, "tcp", 23<<9, 14<<10, 2)
}

// TestIdleWebSocketTubeMemory: the same over the WebSocket (/ssh). Before
// internal/bridge gave coder/websocket a hijacked connection with lent
// buffers (hijack.go), an idle WebSocket tube also held the 4 KiB
// bufio.Reader and bufio.Writer of net/http's Hijack: 25-27 KiB of heap,
// 17-18 after. Stacks as over TCP: 8.2 KiB since patches 0019 and 0020.
// 13.6-13.9 KiB of heap once the gateway's end of the WebSocket was our
// own (internal/bridge/leanws*.go; 16.5 on coder/websocket), 12.8 since
// patch 0021. Since patch 0023 x/crypto's reader parks once the client
// has been idle one to two seconds (internal/bridge/leanws_park.go): one
// goroutine, the mux loop's. The stacks figure hardly moves (8.3-8.4
// KiB): the thousand tubes open within those seconds, so their readers
// were all alive at once, and the runtime keeps the stacks they gave
// back for the next ones (at 10,000 tubes, RSS is what shows it).
// Heap 12.9-14.6 KiB, the same live objects by a heap profile (the
// parked readers' g structs are kept for reuse too); 11.6 since the
// figure is read after two collections, not one (what sync.Pools hold
// survives the first).
func TestIdleWebSocketTubeMemory(t *testing.T) {
	idleTubeMemory(t, "websocket", 15<<10, 14<<10, 1)
}

// TestIdleResumableTubeMemory: the same over a resumable WebSocket tube
// (bridge.DialResume, as the page, gateway connect and gateway tunnel
// dial by default, with their default heartbeat). Both of the gateway's
// readers of an idle one park: the session's of the WebSocket (woken by
// each heartbeat, parked again at once) and x/crypto's of the session
// (one to two seconds after the last bytes): one goroutine, the mux
// loop's, where it kept three. Heap 13.8 KiB after two collections (23.6
// after one: the chunks its sends' pool keeps are in it), stacks 10.8.
func TestIdleResumableTubeMemory(t *testing.T) {
	idleTubeMemory(t, "websocket-resume", 16<<10, 14<<10, 1)
}

// liveHeap collects the gateway's garbage (through its pprof listener at
// pprofAddr) and reads its live heap. Two collections: what sync.Pools
// hold survives the first (the pooled buffers of the tubes' handshakes and
// of the resumable tubes' sends), and is no tube's.
func liveHeap(t *testing.T, g *gateway, pprofAddr string) int {
	t.Helper()
	for range 2 {
		resp, err := http.Get("http://" + pprofAddr + "/debug/pprof/heap?gc=1")
		if err != nil {
			t.Fatalf("forced GC: %v", err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	return metricValue(t, g, "go_memstats_heap_alloc_bytes")
}

// idleTubeMemory opens idleTubes idle tubes over transport (tcp,
// websocket or websocket-resume) and checks the heap, stacks and goroutines each holds in the gateway
// against wantHeap and wantStack bytes and wantGoroutines. Then it asks a
// sample of the tubes for an answer: each must still give one.
func idleTubeMemory(t *testing.T, transport string, wantHeap, wantStack int, wantGoroutines float64) {
	w := newWorld(t, gatewayOpts{sshListen: true, args: []string{"--pprof", "127.0.0.1:0",
		"--max-conns-per-source", "0",
		"--max-tubes-per-user", fmt.Sprint(idleTubes + 8), "--max-forwards-per-user", fmt.Sprint(idleTubes + 8)}})
	w.addUser(t, "alice")
	signer := userSigner(t, w, "alice")
	pprofAddr := w.gw.proc.mustWaitLine(t, rePprofListening, startTimeout)[1]
	// settled collects the garbage and reads the live heap and the stacks.
	settled := func() (heap, stack int) {
		return liveHeap(t, w.gw, pprofAddr), metricValue(t, w.gw, "go_memstats_stack_inuse_bytes")
	}
	config := &ssh.ClientConfig{
		User: "alice", Auth: []ssh.AuthMethod{ssh.PublicKeys(signer)},
		HostKeyCallback: ssh.InsecureIgnoreHostKey(), Timeout: 20 * time.Second,
	}
	dial := func() (*ssh.Client, error) {
		if transport == "tcp" {
			return ssh.Dial("tcp", w.gw.sshAddr, config)
		}
		ctx, cancel := context.WithTimeout(context.Background(), config.Timeout)
		defer cancel()
		var nc net.Conn
		var err error
		if transport == "websocket" {
			nc, err = bridge.Dial(ctx, w.gw.wsURL(), bridge.DialOptions{})
		} else {
			nc, err = bridge.DialResume(ctx, w.gw.wsURL(), bridge.DialOptions{}, resume.Options{})
		}
		if err != nil {
			return nil, err
		}
		c, chans, reqs, err := ssh.NewClientConn(nc, w.gw.wsURL(), config)
		if err != nil {
			nc.Close()
			return nil, err
		}
		return ssh.NewClient(c, chans, reqs), nil
	}
	heap0, stack0 := settled()
	goroutines0 := metricValue(t, w.gw, "go_goroutines")
	var wg sync.WaitGroup
	clients := make([]*ssh.Client, idleTubes)
	errs := make(chan error, idleTubes)
	sem := make(chan struct{}, idleDialers)
	for i := range idleTubes {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			c, err := dial()
			if err != nil {
				errs <- fmt.Errorf("tube %d: %w", i, err)
				return
			}
			t.Cleanup(func() { c.Close() })
			clients[i] = c
			name := fmt.Sprintf("idle%d.alice", i)
			ok, _, err := c.SendRequest("tcpip-forward", true, ssh.Marshal(struct {
				Addr string
				Port uint32
			}{name, 1}))
			if err != nil || !ok {
				errs <- fmt.Errorf("tube %d: -R %s:1: %v %v", i, name, ok, err)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	// Readers park a second after their tube's last packet.
	perTube := func() float64 { return float64(metricValue(t, w.gw, "go_goroutines")-goroutines0) / idleTubes }
	for deadline := time.Now().Add(15 * time.Second); perTube() > wantGoroutines+0.05 && time.Now().Before(deadline); {
		time.Sleep(200 * time.Millisecond)
	}
	heap1, stack1 := settled()
	goroutines := perTube()
	heapPer, stackPer := (heap1-heap0)/idleTubes, (stack1-stack0)/idleTubes
	t.Logf("an idle tube: %d bytes of heap, %d bytes of stacks, %.1f goroutines", heapPer, stackPer, goroutines)
	if heapPer > wantHeap {
		t.Errorf("an idle tube holds %d bytes of the gateway's heap; want at most %d", heapPer, wantHeap)
	}
	// x/crypto's mux loop, and its reader where it cannot park: nothing
	// else of an idle tube waits.
	if goroutines > wantGoroutines+0.05 {
		t.Errorf("an idle tube holds %.2f of the gateway's goroutines; want %.0f", goroutines, wantGoroutines)
	}
	// A -race build (make e2e-race) grows every goroutine's stack: the
	// stack bound holds for the plain build, which make test runs too.
	raceBuild := slices.Contains(strings.Fields(os.Getenv("TUBEGATE_E2E_BUILDFLAGS")), "-race")
	if stackPer > wantStack && !raceBuild {
		t.Errorf("an idle tube holds %d bytes of the gateway's goroutine stacks; want at most %d", stackPer, wantStack)
	}
	// Every tube still answers: a parked reader wakes for the request.
	for i := 0; i < len(clients); i += idleTubes / 25 {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		answered := make(chan error, 1)
		go func() {
			_, _, err := clients[i].SendRequest("keepalive@openssh.com", true, nil)
			answered <- err
		}()
		select {
		case err := <-answered:
			if err != nil {
				t.Errorf("idle tube %d: a request after idling: %v", i, err)
			}
		case <-ctx.Done():
			t.Errorf("idle tube %d: no answer to a request after idling", i)
		}
		cancel()
	}
}
