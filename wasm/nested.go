package main

import (
	"net"
)

// nestedMax is the most bytes a page forward moves in one read or one
// write. The page's connection to a host is SSH inside a channel of the
// tube, and both SSH connections carry at most 32 KiB of data in a packet
// (x/crypto's and OpenSSH's channel default). A full 32 KiB packet of the
// host connection, framed and sealed, is some 50 bytes over that, so the
// tube carried it as two packets, the second a few dozen bytes: each a
// message on the WebSocket, a seal, and a frame for the gateway to read.
// 128 bytes under 32 KiB leaves room for the largest framing x/crypto
// sends (length, padding of up to 19 bytes, a MAC of up to 64).
const nestedMax = 32<<10 - 128

// nestedConn is one end of a page forward with its reads and writes cut
// to nestedMax, so that each write into the host connection's channel is
// one packet of it, and that packet one packet of the tube.
type nestedConn struct{ net.Conn }

func (c nestedConn) Read(p []byte) (int, error) {
	if len(p) > nestedMax {
		p = p[:nestedMax]
	}
	return c.Conn.Read(p)
}

func (c nestedConn) Write(p []byte) (int, error) {
	n := 0
	for len(p) > 0 {
		k := min(len(p), nestedMax)
		m, err := c.Conn.Write(p[:k])
		n += m
		if err != nil {
			return n, err
		}
		p = p[k:]
	}
	return n, nil
}

// CloseWrite half-closes the connection under c, or closes it whole when
// it cannot half-close.
func (c nestedConn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return c.Conn.Close()
}

// nestedListener hands out its connections as nestedConns.
type nestedListener struct{ net.Listener }

func (l nestedListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return nestedConn{c}, nil
}
