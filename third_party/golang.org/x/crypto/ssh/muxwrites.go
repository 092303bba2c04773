// Copyright 2026 The Tubegate Authors. Patch to golang.org/x/crypto/ssh;
// see third_party/patches/x-crypto-0003-mux-loop-never-waits-to-write.patch.

package ssh

import "sync"

// maxQueuedMuxWrites bounds the answers the mux loop may owe the peer at
// once. An honest peer makes a few (one CLOSE answer per channel closing
// at the same moment); a peer that floods requests needing answers while
// it does not read ours is held back by the loop waiting again, as before.
const maxQueuedMuxWrites = 1024

// muxWrites sends the packets the mux loop itself owes the peer (CLOSE
// answers, failures for unknown channels, pongs) in order, on a goroutine
// that runs only while some are queued. The loop must never wait for the
// network: while it waits, nothing is read, and a peer that waits for us
// to read before it reads (another x/crypto end, whose loop waits too)
// freezes the connection for good.
type muxWrites struct {
	mu      sync.Mutex
	cond    *sync.Cond
	queue   []func()
	running bool
}

// do queues f after the writes queued before it.
func (w *muxWrites) do(f func()) {
	w.mu.Lock()
	if w.cond == nil {
		w.cond = sync.NewCond(&w.mu)
	}
	for len(w.queue) >= maxQueuedMuxWrites {
		w.cond.Wait()
	}
	w.queue = append(w.queue, f)
	if !w.running {
		w.running = true
		go w.run()
	}
	w.mu.Unlock()
}

func (w *muxWrites) run() {
	for {
		w.mu.Lock()
		if len(w.queue) == 0 {
			w.running = false
			w.queue = nil
			w.mu.Unlock()
			return
		}
		f := w.queue[0]
		w.queue[0] = nil
		w.queue = w.queue[1:]
		w.cond.Broadcast()
		w.mu.Unlock()
		f()
	}
}

// sendAsync queues msg to be sent by the mux's own writer.
func (m *mux) sendAsync(msg interface{}) {
	m.writes.do(func() { m.sendMessage(msg) })
}
