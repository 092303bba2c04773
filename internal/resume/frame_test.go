package resume

import (
	"bytes"
	"errors"
	"os"
	"testing"
	"time"
)

var errDeadline = os.ErrDeadlineExceeded

func TestFramesRoundTrip(t *testing.T) {
	h := hello{resume: true, heartbeat: 5 * time.Second, recv: 1 << 40}
	h.token[3] = 9
	b := h.encode()
	if len(b) != helloResumeSize || b[0] != frameHello || b[1] != helloFlagResume {
		t.Fatalf("HELLO bytes % x", b)
	}
	if got, err := decodeHello(b); err != nil || got != h {
		t.Fatalf("HELLO: %+v %v", got, err)
	}
	if b := (hello{heartbeat: time.Second}).encode(); !bytes.Equal(b, []byte{1, 0, 0, 0, 3, 0xe8}) {
		t.Fatalf("new HELLO bytes % x", b)
	}
	w := welcome{recv: 77, window: 2 * time.Minute, heartbeat: 10 * time.Second}
	w.token[31] = 1
	if got, err := decodeWelcome(w.encode()); err != nil || got != w {
		t.Fatalf("WELCOME: %+v %v", got, err)
	}
	d := make([]byte, dataHeader+3)
	copy(d[dataHeader:], "abc")
	putDataHeader(d, 10, 20)
	f, err := decodeStream(d)
	if err != nil || !f.data || f.offset != 10 || f.ack != 20 || string(f.payload) != "abc" {
		t.Fatalf("DATA: %+v %v", f, err)
	}
	f, err = decodeStream(encodeAck(5))
	if err != nil || f.data || f.ack != 5 {
		t.Fatalf("ACK: %+v %v", f, err)
	}
}

func TestBadFramesRefused(t *testing.T) {
	for _, b := range [][]byte{nil, {frameHello}, {frameHello, 2, 0, 0, 0, 0}, {frameHello, 1, 0, 0, 0, 0}} {
		if _, err := decodeHello(b); !errors.Is(err, ErrBadFrame) {
			t.Errorf("HELLO % x: %v", b, err)
		}
	}
	for _, b := range [][]byte{nil, {frameData}, make([]byte, dataHeader), {frameAck, 0}, {frameWelcome}, {0x42}} {
		if len(b) == dataHeader {
			b[0] = frameData
		}
		if _, err := decodeStream(b); !errors.Is(err, ErrBadFrame) {
			t.Errorf("stream frame % x: %v", b, err)
		}
	}
	if _, err := decodeWelcome([]byte{frameWelcome, 1}); !errors.Is(err, ErrBadFrame) {
		t.Error("short WELCOME accepted")
	}
}
