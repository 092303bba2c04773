package e2e

import (
	"regexp"
	"strings"
	"testing"
)

// TestResumeCleanExitEndsTube: when ssh exits normally it ends its
// ProxyCommand (OpenSSH closes its pipes and sends SIGHUP); `gateway
// connect` then ends its resumable tube with a close frame, so the gateway
// closes the tube at once instead of holding it for --resume-window.
func TestResumeCleanExitEndsTube(t *testing.T) {
	w, _ := faultWorld(t, gatewayOpts{}, "alice")
	for i := 0; i < 5; i++ {
		res := w.sshRun(t, "-T", "alice.rs")
		if res.code != 0 {
			t.Fatalf("ssh alice.rs: %s", res)
		}
	}
	closed := regexp.MustCompile(`msg="tube closed".*user=alice`)
	for n := 0; n < 5; n++ {
		w.gw.proc.mustWaitLine(t, closed, startTimeout)
		if got := len(w.gw.proc.out.linesMatching(`msg="tube closed"`)); got >= 5 {
			break
		}
	}
	if d := w.gw.proc.out.linesMatching("tube detached"); len(d) > 0 {
		t.Fatalf("%d of 5 tubes of clean ssh exits were held for a resume:\n%s", len(d), strings.Join(d, "\n"))
	}
}
