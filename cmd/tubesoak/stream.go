package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"time"
)

// The stream protocol. The originator sends a header (streamMagic, then
// the payload's size as 8 bytes big endian), the payload, and the payload's
// sha256. The target echoes the payload as it reads it, then sends the
// sha256 of what it received. The originator checks both hashes against
// its own, so a byte lost, added, changed or reordered in either direction
// shows.
const (
	streamMagic = "TSK1"
	headerLen   = len(streamMagic) + 8
	chunkSize   = 16 << 10
)

// outcome is how one stream ended, seen from one end.
type outcome int

const (
	outcomeOK        outcome = iota // every byte arrived, in order
	outcomeFailed                   // ended with an error before it was complete
	outcomeCorrupted                // complete, but the bytes differ
	outcomeStalled                  // no byte moved for the stall timeout
)

func (o outcome) String() string {
	return [...]string{"ok", "failed", "corrupted", "stalled"}[o]
}

// result is one end's view of a stream.
type result struct {
	outcome outcome
	err     error
	size    int64 // payload bytes
	echoed  int64 // payload bytes that came back
}

// streamSpec is what the originator sends.
type streamSpec struct {
	size int64
	seed uint64
	// pace, when set, is a pause after each chunk: a stream that stays
	// busy for a while (the ones through clients about to be killed).
	pace time.Duration
}

// payloadSource is the payload of a stream: ChaCha8 output keyed by seed.
func payloadSource(seed uint64) io.Reader {
	var key [32]byte
	binary.LittleEndian.PutUint64(key[:], seed)
	return rand.NewChaCha8(key)
}

// originate runs the originator's side of one stream over c, which must be
// closed by the caller. It writes and reads at once (the payload can be far
// larger than any window) and classifies the stream.
func originate(c io.ReadWriter, s streamSpec) result {
	res := result{size: s.size}
	sent := make(chan error, 1)
	var sentSum [sha256.Size]byte
	go func() {
		sent <- func() error {
			hdr := make([]byte, headerLen)
			copy(hdr, streamMagic)
			binary.BigEndian.PutUint64(hdr[len(streamMagic):], uint64(s.size))
			if _, err := c.Write(hdr); err != nil {
				return fmt.Errorf("write header: %w", err)
			}
			h := sha256.New()
			src := payloadSource(s.seed)
			buf := make([]byte, chunkSize)
			for left := s.size; left > 0; {
				n := int64(len(buf))
				if n > left {
					n = left
				}
				src.Read(buf[:n])
				h.Write(buf[:n])
				if _, err := c.Write(buf[:n]); err != nil {
					return fmt.Errorf("write payload at %d of %d: %w", s.size-left, s.size, err)
				}
				left -= n
				if s.pace > 0 && left > 0 {
					time.Sleep(s.pace)
				}
			}
			h.Sum(sentSum[:0])
			if _, err := c.Write(sentSum[:]); err != nil {
				return fmt.Errorf("write trailer: %w", err)
			}
			return nil
		}()
	}()

	h := sha256.New()
	n, rerr := io.CopyN(h, c, s.size)
	res.echoed = n
	var theirs [sha256.Size]byte
	if rerr == nil {
		_, rerr = io.ReadFull(c, theirs[:])
	}
	if rerr != nil {
		if errors.Is(rerr, io.EOF) {
			rerr = io.ErrUnexpectedEOF
		}
		res.outcome, res.err = outcomeFailed, fmt.Errorf("read echo at %d of %d: %w", n, s.size, rerr)
		return res
	}
	// Everything came back, so the writer is done (or failed at its end).
	if werr := <-sent; werr != nil {
		res.outcome, res.err = outcomeFailed, werr
		return res
	}
	var echoSum [sha256.Size]byte
	h.Sum(echoSum[:0])
	switch {
	case !bytes.Equal(theirs[:], sentSum[:]):
		res.outcome, res.err = outcomeCorrupted, fmt.Errorf("target's sha256 %x, sent %x", theirs[:8], sentSum[:8])
	case !bytes.Equal(echoSum[:], sentSum[:]):
		res.outcome, res.err = outcomeCorrupted, fmt.Errorf("echo's sha256 %x, sent %x", echoSum[:8], sentSum[:8])
	}
	return res
}

// answer runs the target's side of one stream over c: it echoes the
// payload, checks the originator's sha256, sends its own, and waits for
// the originator to close.
func answer(c io.ReadWriter) result {
	hdr := make([]byte, headerLen)
	if _, err := io.ReadFull(c, hdr); err != nil {
		return result{outcome: outcomeFailed, err: fmt.Errorf("read header: %w", err)}
	}
	if string(hdr[:len(streamMagic)]) != streamMagic {
		return result{outcome: outcomeCorrupted, err: fmt.Errorf("bad magic %q", hdr[:len(streamMagic)])}
	}
	res := result{size: int64(binary.BigEndian.Uint64(hdr[len(streamMagic):]))}
	h := sha256.New()
	buf := make([]byte, chunkSize)
	for res.echoed < res.size {
		want := res.size - res.echoed
		if want > int64(len(buf)) {
			want = int64(len(buf))
		}
		n, err := c.Read(buf[:want])
		if n > 0 {
			h.Write(buf[:n])
			if _, werr := c.Write(buf[:n]); werr != nil {
				return result{outcome: outcomeFailed, size: res.size, echoed: res.echoed, err: fmt.Errorf("echo: %w", werr)}
			}
			res.echoed += int64(n)
		}
		if err != nil && res.echoed < res.size {
			if errors.Is(err, io.EOF) {
				err = io.ErrUnexpectedEOF
			}
			return result{outcome: outcomeFailed, size: res.size, echoed: res.echoed, err: fmt.Errorf("read payload at %d of %d: %w", res.echoed, res.size, err)}
		}
	}
	var theirs, ours [sha256.Size]byte
	h.Sum(ours[:0])
	if _, err := io.ReadFull(c, theirs[:]); err != nil {
		res.outcome, res.err = outcomeFailed, fmt.Errorf("read trailer: %w", err)
		return res
	}
	if _, err := c.Write(ours[:]); err != nil {
		res.outcome, res.err = outcomeFailed, fmt.Errorf("write sha256: %w", err)
		return res
	}
	if !bytes.Equal(theirs[:], ours[:]) {
		res.outcome, res.err = outcomeCorrupted, fmt.Errorf("received sha256 %x, originator's %x", ours[:8], theirs[:8])
		return res
	}
	io.Copy(io.Discard, c) // until the originator closes
	return res
}
