package main

import (
	"bytes"
	"net"
	"testing"
)

// recordConn records the size of each write and serves reads from src.
type recordConn struct {
	net.Conn
	writes    []int
	got       bytes.Buffer
	src       *bytes.Reader
	closedW   bool
	readAsked []int
}

func (c *recordConn) Write(p []byte) (int, error) {
	c.writes = append(c.writes, len(p))
	return c.got.Write(p)
}

func (c *recordConn) Read(p []byte) (int, error) {
	c.readAsked = append(c.readAsked, len(p))
	return c.src.Read(p)
}

func (c *recordConn) CloseWrite() error { c.closedW = true; return nil }

// TestNestedConnPacketSized: a page forward's end writes and reads at
// most nestedMax bytes at once, every byte in order, and half-closes
// through to the connection under it.
func TestNestedConnPacketSized(t *testing.T) {
	data := make([]byte, 3*nestedMax+100)
	for i := range data {
		data[i] = byte(i * 7)
	}
	rc := &recordConn{src: bytes.NewReader(data)}
	c := nestedConn{rc}
	n, err := c.Write(data)
	if err != nil || n != len(data) {
		t.Fatalf("Write = %d, %v; want %d, nil", n, err, len(data))
	}
	if want := []int{nestedMax, nestedMax, nestedMax, 100}; !equalInts(rc.writes, want) {
		t.Errorf("writes %v, want %v", rc.writes, want)
	}
	if !bytes.Equal(rc.got.Bytes(), data) {
		t.Error("the bytes written differ from the bytes given")
	}
	buf := make([]byte, 64<<10)
	if n, _ := c.Read(buf); n != nestedMax || rc.readAsked[0] != nestedMax {
		t.Errorf("Read of %d bytes read %d, asked %d; want at most %d", len(buf), n, rc.readAsked[0], nestedMax)
	}
	if err := c.CloseWrite(); err != nil || !rc.closedW {
		t.Errorf("CloseWrite = %v, half-closed %v", err, rc.closedW)
	}
	// The largest packet x/crypto frames around nestedMax bytes of channel
	// data (length 4, padding length 1, channel data header 9, padding up
	// to 19, MAC up to 64) fits in one packet of the tube's channel.
	if frame := 4 + 1 + 9 + nestedMax + 19 + 64; frame > 32<<10 {
		t.Errorf("a packet of nestedMax bytes is %d bytes framed, over 32 KiB", frame)
	}
}

func equalInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
