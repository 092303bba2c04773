package connlimit

import (
	"bufio"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"testing"
	"time"
)

// The client of a request, in these tests: the X-Client header.
func testClient(r *http.Request) (netip.Addr, bool) {
	a, err := netip.ParseAddr(r.Header.Get("X-Client"))
	return a, err == nil
}

func TestRequestsCapPerClient(t *testing.T) {
	q := NewRequests(2, testClient, nil)
	release := make(chan struct{})
	srv := httptest.NewServer(q.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/hijack" {
			c, brw, err := http.NewResponseController(w).Hijack()
			if err != nil {
				t.Error(err)
				return
			}
			brw.WriteString("HTTP/1.1 101 Switching Protocols\r\n\r\n")
			brw.Flush()
			go func() { <-release; c.Close() }()
			return
		}
		fmt.Fprint(w, "ok")
	})))
	defer srv.Close()
	a, b := netip.MustParseAddr("192.0.2.1"), netip.MustParseAddr("192.0.2.2")
	hijack := func(client netip.Addr) (int, net.Conn) {
		c, err := net.Dial("tcp", srv.Listener.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(c, "GET /hijack HTTP/1.1\r\nHost: x\r\nX-Client: %s\r\n\r\n", client)
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			t.Fatal(err)
		}
		return resp.StatusCode, c
	}
	for i := 0; i < 2; i++ {
		if code, c := hijack(a); code != 101 {
			t.Fatalf("hijack %d from a: %d", i, code)
		} else {
			defer c.Close()
		}
	}
	if code, _ := hijack(a); code != http.StatusTooManyRequests {
		t.Fatalf("third hijacked request from a: %d, want 429", code)
	}
	if code, _ := hijack(b); code != 101 {
		t.Fatalf("b is held to its own count: %d", code)
	}
	// Plain requests without a client (not relayed by a proxy) are not counted.
	if resp, err := http.Get(srv.URL + "/"); err != nil || resp.StatusCode != 200 {
		t.Fatalf("uncounted request: %v %v", resp, err)
	}
	if got := q.Refused(); got != 1 {
		t.Errorf("Refused() = %d, want 1", got)
	}
	close(release) // the hijacked connections close: their slots come back
	deadline := time.Now().Add(3 * time.Second)
	for q.InFlight(a) != 0 || q.InFlight(b) != 0 {
		if time.Now().After(deadline) {
			t.Fatalf("slots not given back after the hijacked connections closed: a %d, b %d", q.InFlight(a), q.InFlight(b))
		}
		time.Sleep(10 * time.Millisecond)
	}
	req, _ := http.NewRequest("GET", srv.URL+"/", nil)
	req.Header.Set("X-Client", a.String())
	for i := 0; i < 5; i++ { // sequential plain requests give their slot back on return
		resp, err := http.DefaultClient.Do(req)
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("request %d from a: %v %v", i, resp, err)
		}
		resp.Body.Close()
	}
}
