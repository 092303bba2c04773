package writev

import (
	"crypto/tls"
	"io"
	"net"
	"testing"
)

type passThrough struct{ net.Conn }

func (c passThrough) WriteThrough() net.Conn { return c.Conn }

type notYet struct{ net.Conn }

func (c notYet) WriteThrough() net.Conn { return nil }

func tcpPair(t *testing.T) (*net.TCPConn, net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	s, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close(); s.Close() })
	return c.(*net.TCPConn), s
}

func TestSocketThroughWrappers(t *testing.T) {
	c, peer := tcpPair(t)
	if got := Socket(passThrough{passThrough{c}}); got != c {
		t.Fatalf("Socket through two wrappers = %v, want the TCP connection", got)
	}
	// A write of buffers to what Socket returns arrives whole and in order.
	v := net.Buffers{[]byte("head"), []byte("er and body")}
	if _, err := v.WriteTo(Socket(passThrough{c})); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, len("header and body"))
	if _, err := io.ReadFull(peer, buf); err != nil || string(buf) != "header and body" {
		t.Fatalf("read %q, %v", buf, err)
	}
}

func TestSocketStopsWhereBytesChange(t *testing.T) {
	c, _ := tcpPair(t)
	for name, w := range map[string]io.Writer{
		"TLS":                    tls.Client(c, &tls.Config{InsecureSkipVerify: true}),
		"a wrapper over TLS":     passThrough{tls.Client(c, &tls.Config{InsecureSkipVerify: true})},
		"a wrapper not yet open": notYet{c},
		"a plain writer":         io.Discard,
	} {
		if got := Socket(w); got != nil {
			t.Errorf("%s: Socket = %T, want nil", name, got)
		}
	}
}
