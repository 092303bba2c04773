package main

import (
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"sync"
)

// blockSize is the unit of the bulk protocol: the sender writes blocks of
// this size, the first byte of each saying whether more follow (blockLast)
// or asking the sink to send instead (blockSendBack).
const blockSize = 64 << 10

// The first byte of a bulk block: 0 while more blocks follow, or one of
// these.
const (
	blockLast = 1 // the last block: the sink answers with its count
	// blockSendBack asks the sink to send blocks back until the
	// connection breaks (the reversed bulk figure).
	blockSendBack = 2
)

// targets are the loopback servers every path ends at: an echo server (for
// latency and connection rate) and a sink (for bulk).
type targets struct {
	echo, sink net.Listener
	wg         sync.WaitGroup
	mu         sync.Mutex
	conns      map[net.Conn]struct{}
}

// startTargets starts both servers on 127.0.0.1; they stop when ctx ends
// or close is called.
func startTargets(ctx context.Context) (*targets, error) {
	echo, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("echo listener: %w", err)
	}
	sink, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		echo.Close()
		return nil, fmt.Errorf("sink listener: %w", err)
	}
	t := &targets{echo: echo, sink: sink, conns: make(map[net.Conn]struct{})}
	t.wg.Add(2)
	go t.serve(echo, serveEcho)
	go t.serve(sink, serveSink)
	context.AfterFunc(ctx, t.close)
	return t, nil
}

// EchoAddr is the echo server's address.
func (t *targets) EchoAddr() string { return t.echo.Addr().String() }

// SinkAddr is the sink's address.
func (t *targets) SinkAddr() string { return t.sink.Addr().String() }

func (t *targets) close() {
	t.echo.Close()
	t.sink.Close()
	t.mu.Lock()
	for c := range t.conns {
		c.Close()
	}
	t.mu.Unlock()
	t.wg.Wait()
}

func (t *targets) serve(ln net.Listener, handle func(net.Conn)) {
	defer t.wg.Done()
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		t.mu.Lock()
		t.conns[c] = struct{}{}
		t.mu.Unlock()
		go func() {
			handle(c)
			c.Close()
			t.mu.Lock()
			delete(t.conns, c)
			t.mu.Unlock()
		}()
	}
}

// serveEcho writes back whatever it reads until EOF.
func serveEcho(c net.Conn) {
	buf := make([]byte, 16<<10)
	for {
		n, err := c.Read(buf)
		if n > 0 {
			if _, werr := c.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

// serveSink reads blocks; after a block whose first byte is blockLast it
// answers with the number of bytes received since the last answer (8
// bytes, big endian), so the sender knows every byte arrived. After a
// block whose first byte is blockSendBack it sends blocks until the
// connection breaks: the reader counts what arrives.
func serveSink(c net.Conn) {
	buf := make([]byte, blockSize)
	var total uint64
	for {
		if _, err := io.ReadFull(c, buf); err != nil {
			return // EOF or a broken sender: the sender sees no ack
		}
		total += blockSize
		if buf[0] == blockSendBack {
			for {
				if _, err := c.Write(buf); err != nil {
					return
				}
			}
		}
		if buf[0] == blockLast {
			var ack [8]byte
			binary.BigEndian.PutUint64(ack[:], total)
			if _, err := c.Write(ack[:]); err != nil {
				return
			}
			total = 0
		}
	}
}
