package socks5

import (
	"bytes"
	"errors"
	"io"
	"net"
	"testing"
)

// conn is a client's bytes to read and what the server wrote.
type conn struct {
	io.Reader
	out bytes.Buffer
}

func (c *conn) Write(p []byte) (int, error) { return c.out.Write(p) }

func request(atyp byte, addr []byte, port uint16, cmd byte) []byte {
	b := []byte{5, 2, 0x02, 0x00, 5, cmd, 0, atyp}
	b = append(b, addr...)
	return append(b, byte(port>>8), byte(port))
}

func TestReadRequest(t *testing.T) {
	cases := []struct {
		name string
		in   []byte
		host string
		port int
	}{
		{"ipv4", request(1, []byte{10, 0, 0, 5}, 443, 1), "10.0.0.5", 443},
		{"ipv6", request(4, net.ParseIP("2001:db8::1"), 22, 1), "2001:db8::1", 22},
		{"domain", request(3, append([]byte{9}, "myhost.al"...), 8080, 1), "myhost.al", 8080},
	}
	for _, tc := range cases {
		c := &conn{Reader: bytes.NewReader(tc.in)}
		host, port, err := ReadRequest(c)
		if err != nil || host != tc.host || port != tc.port {
			t.Errorf("%s: got %q %d %v, want %q %d", tc.name, host, port, err, tc.host, tc.port)
		}
		if !bytes.Equal(c.out.Bytes(), []byte{5, 0}) {
			t.Errorf("%s: server wrote %v, want the method choice 5 0", tc.name, c.out.Bytes())
		}
		c.out.Reset()
		Reply(c, Succeeded)
		if want := []byte{5, 0, 0, 1, 0, 0, 0, 0, 0, 0}; !bytes.Equal(c.out.Bytes(), want) {
			t.Errorf("reply %v, want %v", c.out.Bytes(), want)
		}
	}
}

func TestReadRequestRefusals(t *testing.T) {
	cases := []struct {
		name  string
		in    []byte
		reply []byte // what the server ends with
	}{
		{"bind command", request(1, []byte{1, 2, 3, 4}, 80, 2), []byte{5, 7, 0, 1, 0, 0, 0, 0, 0, 0}},
		{"udp associate", request(1, []byte{1, 2, 3, 4}, 80, 3), []byte{5, 7, 0, 1, 0, 0, 0, 0, 0, 0}},
		{"address type 9", []byte{5, 1, 0, 5, 1, 0, 9}, []byte{5, 8, 0, 1, 0, 0, 0, 0, 0, 0}},
		{"port 0", request(1, []byte{1, 2, 3, 4}, 0, 1), []byte{5, 8, 0, 1, 0, 0, 0, 0, 0, 0}},
		{"password only", []byte{5, 1, 2}, []byte{5, 0xff}},
	}
	for _, tc := range cases {
		c := &conn{Reader: bytes.NewReader(tc.in)}
		_, _, err := ReadRequest(c)
		if !errors.Is(err, ErrRefused) {
			t.Errorf("%s: err %v, want ErrRefused", tc.name, err)
		}
		if !bytes.HasSuffix(c.out.Bytes(), tc.reply) {
			t.Errorf("%s: server wrote %v, want it to end with %v", tc.name, c.out.Bytes(), tc.reply)
		}
	}
	for name, in := range map[string][]byte{"socks4": {4, 1, 0, 80}, "short": {5, 1}, "truncated domain": {5, 1, 0, 5, 1, 0, 3, 10, 'a'}} {
		if _, _, err := ReadRequest(&conn{Reader: bytes.NewReader(in)}); err == nil || errors.Is(err, ErrRefused) {
			t.Errorf("%s: err %v, want a protocol error", name, err)
		}
	}
}
