package sshserver

import (
	"net"
	"strconv"
	"testing"

	"github.com/tubegate/tubegate/internal/audit"
)

// TestListDisconnectAndAudit: the admin list shows a tube with its
// forward and bytes; Disconnect closes it; the audit log has the tube's
// open, forward, direct-tcpip (opened and refused), disconnect and close.
func TestListDisconnectAndAudit(t *testing.T) {
	g := startGateway(t, Limits{})
	log, err := audit.Open("", audit.Options{})
	if err != nil {
		t.Fatal(err)
	}
	g.srv.cfg.Audit = log
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go echo(ln)
	g.addUser(t, "alice", ln.Addr().String())
	c := g.dial(t, "alice")
	if _, err := c.Listen("tcp", "127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	conn, err := c.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	echoOnce(t, conn)
	if _, err := c.Dial("tcp", "127.0.0.1:1"); err == nil {
		t.Fatal("a dial outside permit-open went through")
	}
	list := g.srv.List()
	if len(list) != 1 || list[0].User != "alice" || len(list[0].Forwards) != 1 || list[0].BytesIn == 0 ||
		list[0].BytesOut == 0 || list[0].Transport != "tcp" {
		t.Fatalf("list %+v", list)
	}
	if g.srv.Disconnect("t999", "root", "") {
		t.Fatal("an unknown tube was disconnected")
	}
	if !g.srv.Disconnect(list[0].ID, "root", "") {
		t.Fatal("the tube was not found")
	}
	c.Wait()
	waitFor(t, "the tube gone", func() bool { return g.srv.Tubes() == 0 })
	waitFor(t, "tube.close recorded", func() bool { return len(log.Recent(0)) >= 6 })
	seen := map[string]string{}
	for _, e := range log.Recent(0) {
		if e.Tube != list[0].ID || e.User != "alice" || e.Source == "" {
			t.Errorf("event without its tube, user or source: %+v", e)
		}
		seen[e.Event+" "+e.Outcome] = e.Target
		if e.Event == audit.TubeClose && (e.BytesIn == 0 || e.BytesOut == 0) {
			t.Errorf("tube.close without bytes: %+v", e)
		}
		if e.Event == audit.TubeDisconnect && e.By != "root" {
			t.Errorf("disconnect by %q", e.By)
		}
	}
	for _, want := range []string{"tube.open success", "forward.publish success", "direct_tcpip.open success",
		"direct_tcpip.open refused", "tube.disconnect success", "tube.close success"} {
		if _, ok := seen[want]; !ok {
			t.Errorf("no %s in %v", want, seen)
		}
	}
	if seen["direct_tcpip.open refused"] != "127.0.0.1:"+strconv.Itoa(1) {
		t.Errorf("refused target %q", seen["direct_tcpip.open refused"])
	}
}
