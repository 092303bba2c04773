package gwclient

import (
	"context"
	"fmt"
	"io"
	"net"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/tubegate/tubegate/internal/forward"
)

// TestSOCKSDial: -D answers the client with the reply that matches what
// the open did, and a connection that opens carries bytes both ways.
func TestSOCKSDial(t *testing.T) {
	cases := []struct {
		name string
		err  error
		code byte
	}{
		{"opened", nil, 0},
		{"refused by policy", &OpenError{Target: "db:5432", Reason: ssh.Prohibited, Message: "not in permit-open"}, 2},
		{"dial failed", &OpenError{Target: "db:5432", Reason: ssh.ConnectionFailed, Message: "connection refused"}, 4},
		{"no tube", fmt.Errorf("%w: still reconnecting", ErrNoTube), 3},
	}
	for _, tc := range cases {
		var asked string
		open := func(_ context.Context, host string, port int) (net.Conn, error) {
			asked = forward.JoinHostPort(host, port)
			if tc.err != nil {
				return nil, tc.err
			}
			a, b := net.Pipe()
			go func() { io.Copy(b, b); b.Close() }() // an echo destination
			return a, nil
		}
		client, server := net.Pipe()
		ln := &oneConn{c: server, done: make(chan struct{})}
		go Serve(ln, SOCKSDial(open), &forward.Conns{}, nil)
		client.SetDeadline(time.Now().Add(10 * time.Second))
		req := append([]byte{5, 1, 0, 5, 1, 0, 3, 2}, "db"...)
		req = append(req, 5432>>8, 5432&0xff)
		go client.Write(req)
		reply := make([]byte, 12)
		if _, err := io.ReadFull(client, reply); err != nil {
			t.Fatalf("%s: read the replies: %v", tc.name, err)
		}
		if reply[0] != 5 || reply[1] != 0 || reply[3] != tc.code {
			t.Errorf("%s: replies %v, want method 0 then code %d", tc.name, reply, tc.code)
		}
		if asked != "db:5432" {
			t.Errorf("%s: opened %q", tc.name, asked)
		}
		if tc.err == nil {
			go client.Write([]byte("ping"))
			got := make([]byte, 4)
			if _, err := io.ReadFull(client, got); err != nil || string(got) != "ping" {
				t.Errorf("%s: echo %q %v", tc.name, got, err)
			}
		}
		client.Close()
		close(ln.done)
	}
}

// oneConn is a listener that accepts c once, then waits for done.
type oneConn struct {
	c    net.Conn
	done chan struct{}
	n    int
}

func (l *oneConn) Accept() (net.Conn, error) {
	if l.n++; l.n == 1 {
		return l.c, nil
	}
	<-l.done
	return nil, net.ErrClosed
}
func (l *oneConn) Close() error   { return nil }
func (l *oneConn) Addr() net.Addr { return forward.Addr{Net: "test", Address: "test"} }
