package resume

import (
	"encoding/binary"
	"errors"
	"fmt"
	"time"
)

// Subprotocol is the WebSocket subprotocol that asks for a resumable tube.
const Subprotocol = "tubegate.resume.v1"

// Frame types: the first byte of every message.
const (
	frameHello   = 0x01 // client -> server, first message of every transport
	frameWelcome = 0x02 // server -> client, answer to HELLO
	frameData    = 0x03 // both ways: offset, ack, payload
	frameAck     = 0x04 // both ways: ack alone (also the heartbeat)
)

// TokenSize is the length of a resume token in bytes (256 random bits).
const TokenSize = 32

// Header sizes, byte by byte in docs/resume.md.
const (
	helloNewSize    = 1 + 1 + 4
	helloResumeSize = helloNewSize + TokenSize + 8
	welcomeSize     = 1 + TokenSize + 8 + 4 + 4
	dataHeader      = 1 + 8 + 8
	ackSize         = 1 + 8
)

// helloFlagResume marks a HELLO that resumes a tube.
const helloFlagResume = 0x01

// Close codes a side sends when it ends a transport on purpose. 1000
// (normal) ends the tube; the 44xx codes refuse or end it for a reason
// given with the code.
const (
	CloseNormal     = 1000 // the tube ended
	CloseGoingAway  = 1001 // the page went away: the tube ended
	CloseRestart    = 1012 // the gateway shuts down: the tube ended
	CloseTryLater   = 1013 // too many pending HELLOs from the address
	CloseBadFrame   = 4400 // a malformed or unexpected frame: the tube ended
	CloseRefused    = 4401 // resume refused: unknown, used or expired token
	CloseThrottled  = 4429 // too many failed resumes from the address
	CloseWindowOver = 4408 // the resume window passed; the tube ended
)

// CloseError is what a Transport's ReadMessage returns when the peer
// closed it with a close frame: a deliberate end, never a drop.
type CloseError struct {
	Code   int
	Reason string
}

func (e *CloseError) Error() string {
	if e.Reason == "" {
		return fmt.Sprintf("closed by the peer (%d)", e.Code)
	}
	return fmt.Sprintf("closed by the peer: %s (%d)", e.Reason, e.Code)
}

// errBadFrame marks a message that breaks the protocol.
var errBadFrame = errors.New("bad frame")

func badFrame(format string, args ...any) error {
	return fmt.Errorf("%w: %s", errBadFrame, fmt.Sprintf(format, args...))
}

// hello is a decoded HELLO.
type hello struct {
	resume    bool
	heartbeat time.Duration
	token     [TokenSize]byte
	recv      uint64 // bytes of the server's stream the client has received
}

func (h hello) encode() []byte {
	n := helloNewSize
	if h.resume {
		n = helloResumeSize
	}
	b := make([]byte, n)
	b[0] = frameHello
	binary.BigEndian.PutUint32(b[2:], durationMillis(h.heartbeat))
	if h.resume {
		b[1] = helloFlagResume
		copy(b[helloNewSize:], h.token[:])
		binary.BigEndian.PutUint64(b[helloNewSize+TokenSize:], h.recv)
	}
	return b
}

func decodeHello(b []byte) (hello, error) {
	var h hello
	if len(b) < helloNewSize || b[0] != frameHello {
		return h, badFrame("want HELLO, got %s", describe(b))
	}
	if b[1]&^helloFlagResume != 0 {
		return h, badFrame("HELLO with unknown flags %#x", b[1])
	}
	h.resume = b[1]&helloFlagResume != 0
	h.heartbeat = time.Duration(binary.BigEndian.Uint32(b[2:])) * time.Millisecond
	want := helloNewSize
	if h.resume {
		want = helloResumeSize
	}
	if len(b) != want {
		return h, badFrame("HELLO of %d bytes, want %d", len(b), want)
	}
	if h.resume {
		copy(h.token[:], b[helloNewSize:])
		h.recv = binary.BigEndian.Uint64(b[helloNewSize+TokenSize:])
	}
	return h, nil
}

// welcome is a decoded WELCOME.
type welcome struct {
	token     [TokenSize]byte
	recv      uint64 // bytes of the client's stream the server has received
	window    time.Duration
	heartbeat time.Duration
}

func (w welcome) encode() []byte {
	b := make([]byte, welcomeSize)
	b[0] = frameWelcome
	copy(b[1:], w.token[:])
	binary.BigEndian.PutUint64(b[1+TokenSize:], w.recv)
	binary.BigEndian.PutUint32(b[1+TokenSize+8:], durationMillis(w.window))
	binary.BigEndian.PutUint32(b[1+TokenSize+12:], durationMillis(w.heartbeat))
	return b
}

func decodeWelcome(b []byte) (welcome, error) {
	var w welcome
	if len(b) != welcomeSize || b[0] != frameWelcome {
		return w, badFrame("want WELCOME, got %s", describe(b))
	}
	copy(w.token[:], b[1:])
	w.recv = binary.BigEndian.Uint64(b[1+TokenSize:])
	w.window = time.Duration(binary.BigEndian.Uint32(b[1+TokenSize+8:])) * time.Millisecond
	w.heartbeat = time.Duration(binary.BigEndian.Uint32(b[1+TokenSize+12:])) * time.Millisecond
	return w, nil
}

// putDataHeader writes a DATA header into b[:dataHeader].
func putDataHeader(b []byte, offset, ack uint64) {
	b[0] = frameData
	binary.BigEndian.PutUint64(b[1:], offset)
	binary.BigEndian.PutUint64(b[9:], ack)
}

func encodeAck(ack uint64) []byte {
	b := make([]byte, ackSize)
	b[0] = frameAck
	binary.BigEndian.PutUint64(b[1:], ack)
	return b
}

// streamFrame is a decoded DATA or ACK.
type streamFrame struct {
	data    bool
	offset  uint64
	ack     uint64
	payload []byte
}

func decodeStream(b []byte) (streamFrame, error) {
	var f streamFrame
	if len(b) == 0 {
		return f, badFrame("empty message")
	}
	switch b[0] {
	case frameData:
		if len(b) <= dataHeader {
			return f, badFrame("DATA of %d bytes, want more than %d", len(b), dataHeader)
		}
		f.data = true
		f.offset = binary.BigEndian.Uint64(b[1:])
		f.ack = binary.BigEndian.Uint64(b[9:])
		f.payload = b[dataHeader:]
		if f.offset+uint64(len(f.payload)) < f.offset {
			return f, badFrame("DATA offset overflows")
		}
	case frameAck:
		if len(b) != ackSize {
			return f, badFrame("ACK of %d bytes, want %d", len(b), ackSize)
		}
		f.ack = binary.BigEndian.Uint64(b[1:])
	default:
		return f, badFrame("unexpected %s", describe(b))
	}
	return f, nil
}

// describe names a message's type for errors.
func describe(b []byte) string {
	if len(b) == 0 {
		return "an empty message"
	}
	switch b[0] {
	case frameHello:
		return fmt.Sprintf("HELLO (%d bytes)", len(b))
	case frameWelcome:
		return fmt.Sprintf("WELCOME (%d bytes)", len(b))
	case frameData:
		return fmt.Sprintf("DATA (%d bytes)", len(b))
	case frameAck:
		return fmt.Sprintf("ACK (%d bytes)", len(b))
	}
	return fmt.Sprintf("a message of unknown type %#x (%d bytes)", b[0], len(b))
}

func durationMillis(d time.Duration) uint32 {
	ms := d.Milliseconds()
	if ms < 0 {
		return 0
	}
	if ms > 1<<32-1 {
		return 1<<32 - 1
	}
	return uint32(ms)
}
