package e2e

import (
	"fmt"
	"io"
	"net"
	"testing"
	"time"

	"github.com/tubegate/tubegate/internal/faultproxy"
)

// TestRedteamUnackedResumeData: a resumable WebSocket tube keeps what the
// gateway sends until the client acknowledges it, up to 8 MiB, so that a
// dropped connection loses nothing. A client that stops acknowledging (here
// its network black-holed while -L streams pull data) made the gateway
// keep 8 MiB per tube, and a user may hold 2,048 tubes. A user's tubes now
// share --max-unacked-per-user: past it a tube's sender waits, except for
// one chunk (256 KiB) each tube may always send.
func TestRedteamUnackedResumeData(t *testing.T) {
	const budgetMiB, tubes, streams = 4, 6, 8
	src := startZeroSource(t)
	w := newWorld(t, gatewayOpts{args: []string{"--max-unacked-per-user", fmt.Sprint(budgetMiB)}})
	w.addUser(t, "alice", "--permit-open", src)
	proxy, err := faultproxy.New("127.0.0.1:0", w.gw.httpAddr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { proxy.Close() })
	proxyCmd := fmt.Sprintf("ProxyCommand=%s connect ws://%s/ssh", w.gw.bin, proxy.Addr())

	for i := range tubes {
		lport := freePort(t)
		w.sshStart(t, fmt.Sprintf("ssh -L (tube %d)", i), "-N", "-o", proxyCmd,
			"-L", fmt.Sprintf("127.0.0.1:%d:%s", lport, src), "alice.ws")
		laddr := fmt.Sprintf("127.0.0.1:%d", lport)
		waitDial(t, laddr, startTimeout)
		for range streams {
			c, err := net.Dial("tcp", laddr)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { c.Close() })
			go io.Copy(io.Discard, c)
		}
	}
	time.Sleep(time.Second) // every stream flowing
	if n := proxy.BlackHole(); n != tubes {
		t.Fatalf("black-holed %d connections, want %d", n, tubes)
	}
	// The gateway sends on until each tube's bound or the user's budget,
	// which count the buffers the bytes are kept in (a batch's 256 KiB
	// buffer, however full): tubegate_resume_kept_bytes.
	var kept, peak, bytesAtPeak int
	for end := time.Now().Add(3 * time.Second); time.Now().Before(end); time.Sleep(100 * time.Millisecond) {
		kept = metricValue(t, w.gw, "tubegate_resume_kept_bytes")
		if kept > peak {
			peak, bytesAtPeak = kept, metricValue(t, w.gw, "tubegate_resume_unacked_bytes")
		}
	}
	limit := budgetMiB<<20 + tubes*(256<<10+64)
	if peak > limit {
		t.Errorf("the gateway kept %.1f MiB for alice's %d tubes; her budget is %d MiB (%.1f with a chunk a tube)",
			float64(peak)/(1<<20), tubes, budgetMiB, float64(limit)/(1<<20))
	}
	// The senders stop short of the budget by less than a chunk each.
	if peak < budgetMiB<<20*3/4 {
		t.Errorf("only %.1f MiB kept at the peak: the attack did not reach the budget (nothing was tested)", float64(peak)/(1<<20))
	}
	if bytesAtPeak > peak {
		t.Errorf("%d bytes unacknowledged in %d bytes of buffers", bytesAtPeak, peak)
	}
	redteam(t, fmt.Sprintf("%d resumable tubes of one user, %d -L streams each pulling data, then the client's network black-holed (no acknowledgements); --max-unacked-per-user %d", tubes, streams, budgetMiB),
		fmt.Sprintf("the gateway keeps at most the budget plus 256 KiB a tube (%.1f MiB), not 8 MiB a tube", float64(limit)/(1<<20)),
		fmt.Sprintf("peak %.1f MiB kept (%.1f MiB unacknowledged in it)", float64(peak)/(1<<20), float64(bytesAtPeak)/(1<<20)))
}

// startZeroSource runs a loopback TCP service that writes zeros to every
// connection until it closes, and returns its address.
func startZeroSource(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		buf := make([]byte, 64<<10)
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				for {
					if _, err := c.Write(buf); err != nil {
						return
					}
				}
			}()
		}
	}()
	return l.Addr().String()
}
