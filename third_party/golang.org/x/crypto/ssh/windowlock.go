// Copyright 2026 The Tubegate Authors. Patch to golang.org/x/crypto/ssh;
// see third_party/patches/x-crypto-0016-window-read-under-its-lock.patch.

package ssh

// initialWindow returns the window the channel offers its peer when it is
// opened or accepted. It is read under windowMu: with a window budget
// (patch 0012) the mux loop gives a channel's window back when the
// connection ends (leaveBudget), which may be while another goroutine is
// opening or accepting that channel.
func (ch *channel) initialWindow() uint32 {
	ch.windowMu.Lock()
	defer ch.windowMu.Unlock()
	return ch.myWindow
}
