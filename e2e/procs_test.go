package e2e

import (
	"io"
	"runtime"
	"strings"
	"testing"
	"time"
)

// gomaxprocs reads go_sched_gomaxprocs_threads from the gateway's /metrics.
func (g *gateway) gomaxprocs(t *testing.T) string {
	t.Helper()
	resp, err := g.httpClient(t).Get(g.scheme() + "://" + g.httpAddr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, l := range strings.Split(string(body), "\n") {
		if v, ok := strings.CutPrefix(l, "go_sched_gomaxprocs_threads "); ok {
			return v
		}
	}
	t.Fatalf("no go_sched_gomaxprocs_threads in /metrics:\n%s", body)
	return ""
}

// TestGatewaySizesItsPs: an idle gateway runs its Go code on one P (the
// load-following sizing of internal/procs, whose own tests load it; on a
// single CPU one P is also the runtime's default), and GOMAXPROCS in the
// environment is left to rule.
func TestGatewaySizesItsPs(t *testing.T) {
	idle := startGateway(t, t.TempDir(), gatewayOpts{env: []string{"GOMAXPROCS="}})
	deadline := time.Now().Add(10 * time.Second)
	for idle.gomaxprocs(t) != "1" {
		if time.Now().After(deadline) {
			t.Fatalf("an idle gateway on %d CPUs runs %s Ps after 10 s, want 1", runtime.NumCPU(), idle.gomaxprocs(t))
		}
		time.Sleep(100 * time.Millisecond)
	}

	set := startGateway(t, t.TempDir(), gatewayOpts{env: []string{"GOMAXPROCS=2"}})
	time.Sleep(1500 * time.Millisecond) // three of the sizing's intervals
	if got := set.gomaxprocs(t); got != "2" {
		t.Fatalf("a gateway run with GOMAXPROCS=2 runs %s Ps, want 2 (the environment rules)", got)
	}
}
