package forward

import (
	"net"
	"testing"
)

// TestConnsByKeyWrapsOnce: a share link's connection is one wrapper in
// the endpoint's set and the link's, counted in both; cutting either
// closes it, and a key whose connections are gone is forgotten.
func TestConnsByKeyWrapsOnce(t *testing.T) {
	var ep Conns
	var links ConnsByKey
	a, b := net.Pipe()
	defer b.Close()
	c, ok := links.Track("l1", a, true, &ep)
	if !ok {
		t.Fatal("Track refused a live set")
	}
	if _, twice := c.(*countedConn).Conn.(*countedConn); twice {
		t.Error("the connection is wrapped twice")
	}
	if links.Count("l1") != 1 || ep.Len() != 1 {
		t.Fatalf("counts: link %d, endpoint %d; want 1 and 1", links.Count("l1"), ep.Len())
	}
	go b.Write([]byte("hi"))
	buf := make([]byte, 2)
	if _, err := c.Read(buf); err != nil {
		t.Fatal(err)
	}
	if ep.Stats.BytesOut.Load() != 2 {
		t.Errorf("endpoint BytesOut = %d, want 2", ep.Stats.BytesOut.Load())
	}
	if n := links.Cut("l1"); n != 1 {
		t.Errorf("Cut = %d, want 1", n)
	}
	if ep.Len() != 0 || ep.Stats.Active.Load() != 0 {
		t.Errorf("after the link's cut the endpoint holds %d (active %d), want 0", ep.Len(), ep.Stats.Active.Load())
	}
	if _, err := c.Write([]byte("x")); err == nil {
		t.Error("the cut connection still writes")
	}

	// The endpoint's cut closes it too, and the link forgets the key.
	a2, b2 := net.Pipe()
	defer b2.Close()
	c2, ok := links.Track("l2", a2, true, &ep)
	if !ok {
		t.Fatal("Track refused a live set")
	}
	ep.Cut()
	if _, err := c2.Write([]byte("x")); err == nil {
		t.Error("the endpoint's cut left the link's connection open")
	}
	if links.Count("l2") != 0 || len(links.Keys()) != 0 {
		t.Errorf("keys %v after all connections closed, want none", links.Keys())
	}
	// A cut endpoint takes no more connections, and leaves no key behind.
	a3, b3 := net.Pipe()
	defer a3.Close()
	defer b3.Close()
	if _, ok := links.Track("l3", a3, true, &ep); ok {
		t.Error("Track accepted a connection for a cut endpoint")
	}
	if len(links.Keys()) != 0 {
		t.Errorf("keys %v after a refused Track, want none", links.Keys())
	}
}
