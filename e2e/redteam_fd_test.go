package e2e

import (
	"fmt"
	"io"
	"net"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestRedteamFDExhaustion: an anonymous client holds idle TCP connections
// to the HTTP listener, the SSH listener and a published -R port until the
// gateway, run under a low open-files limit, gets EMFILE from accept. The
// gateway must ride it out: stay up, log it once per burst, count it, and
// serve all three again once the connections go; the -R port stays
// published.
func TestRedteamFDExhaustion(t *testing.T) {
	const limit, attack = 128, 240
	w := newWorld(t, gatewayOpts{sshListen: true, fdLimit: limit})
	w.addUser(t, "alice")
	w.gw.proc.mustWaitLine(t, regexp.MustCompile(`msg="open files limit" soft=`+fmt.Sprint(limit)), startTimeout)
	echo := startEcho(t)
	port := freePort(t)
	w.remoteForward(t, fmt.Sprintf("%d:127.0.0.1:%d", port, echo), "alice.ws")
	published := fmt.Sprintf("127.0.0.1:%d", port)

	targets := []string{w.gw.httpAddr, w.gw.sshAddr, published}
	var conns []net.Conn
	for i := range attack {
		c, err := net.DialTimeout("tcp", targets[i%len(targets)], time.Second)
		if err != nil {
			continue // the backlog is full: the listener is saturated
		}
		conns = append(conns, c)
	}
	// Let the gateway try to accept them all, and fail.
	deadline := time.Now().Add(10 * time.Second)
	for len(w.gw.proc.out.linesMatching("accept failing")) == 0 && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	failing := len(w.gw.proc.out.linesMatching("accept failing"))
	exitedUnder := w.gw.proc.exited()
	for _, c := range conns {
		c.Close()
	}
	if exitedUnder {
		t.Fatalf("the gateway exited when accept failed:\n%s", w.gw.proc.out)
	}
	if failing == 0 {
		t.Fatalf("%d connections under a limit of %d never made accept fail; the attack did not bite", len(conns), limit)
	}

	// Everything serves again once the attacker is gone.
	recovered := time.Now()
	w.gw.requireHealthy(t)
	if res := w.sshRun(t, "alice.tcp", "status"); res.code != 0 {
		t.Fatalf("a new SSH tube after the attack: %s", res)
	}
	requireEcho(t, published)
	if w.gw.proc.exited() {
		t.Fatal("the gateway exited")
	}
	resp, err := w.gw.httpClient(t).Get("http://" + w.gw.httpAddr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	var counted []string
	for _, l := range strings.Split(string(body), "\n") {
		if strings.HasPrefix(l, "tubegate_accept_errors_total{") {
			counted = append(counted, strings.TrimPrefix(l, "tubegate_accept_errors_total"))
		}
	}
	if len(counted) == 0 {
		t.Errorf("no tubegate_accept_errors_total in /metrics")
	}
	redteam(t, fmt.Sprintf("%d idle connections to HTTP, SSH and a -R port under ulimit -n %d", len(conns), limit),
		"accept backs off; gateway, listeners and the -R port survive",
		fmt.Sprintf("%d 'accept failing' lines; counted %s; all served again %v after release",
			failing, strings.Join(counted, " "), time.Since(recovered).Round(time.Millisecond)))
}
