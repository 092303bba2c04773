// Copyright 2026 The Tubegate Authors. Patch to golang.org/x/crypto/ssh;
// see third_party/patches/x-crypto-0019-key-exchange-loop-only-while-needed.patch.

package ssh

// Upstream's kexLoop goroutine lives as long as the connection and spends
// nearly all of it waiting for the next key exchange, which on an idle
// connection may be hours away: a goroutine and its stack per connection.
// Here the loop (runKexLoop) returns whenever it would wait with nothing
// asked of it, and whoever next asks for a key exchange starts it again.
// A key exchange is asked for in three ways, each followed by
// ensureKexLoop: a send on requestKex (buffered, never blocks), a send on
// startKex (buffered for the one kexInit the reader may have outstanding;
// the reader then waits for its answer), and the close of startKex when
// the reader ends. The loop stops only under loopMu when none of them is
// pending, so an ask either comes before that check and keeps it running,
// or after it and starts it again.

// ensureKexLoop starts the key exchange loop unless it is running. Call it after each
// send on requestKex or startKex, and after startKex is closed.
func (t *handshakeTransport) ensureKexLoop() {
	t.loopMu.Lock()
	defer t.loopMu.Unlock()
	if !t.loopRunning {
		t.loopRunning = true
		go t.runKexLoop()
	}
}

// kexLoopMayStop reports whether the loop, between key exchanges, has
// nothing to do and stopped: it then returns, to be started again by the
// next ask.
func (t *handshakeTransport) kexLoopMayStop() bool {
	t.loopMu.Lock()
	defer t.loopMu.Unlock()
	if t.readDone || len(t.requestKex) > 0 || len(t.startKex) > 0 {
		return false
	}
	t.loopRunning = false
	return true
}

// closeStartKex closes startKex when the reader ends, and makes sure
// the loop runs to drain it and close kexLoopDone.
func (t *handshakeTransport) closeStartKex() {
	t.loopMu.Lock()
	t.readDone = true
	t.loopMu.Unlock()
	close(t.startKex)
	t.ensureKexLoop()
}

// kexLoop makes sure the key exchange loop runs. Upstream starts it with
// go t.kexLoop(), as its tests still do.
func (t *handshakeTransport) kexLoop() {
	t.ensureKexLoop()
}
