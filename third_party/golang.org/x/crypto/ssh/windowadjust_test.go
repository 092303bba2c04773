// Copyright 2026 The Tubegate Authors. Patch to golang.org/x/crypto/ssh;
// see third_party/patches/x-crypto-0011-window-given-back-by-three-packets.patch.

package ssh

import "testing"

// TestWindowAdjustDue: the window goes back once three packets of it are
// consumed, or an eighth of it where that is more (patch 0018), or when
// half of it is used up, not at each packet read while three are
// outstanding.
func TestWindowAdjustDue(t *testing.T) {
	for _, c := range []struct {
		consumed, window, max uint32
		due                   bool
	}{
		{channelMaxPacket, channelWindowSize - 10*channelMaxPacket, channelWindowSize, false},
		{3*channelMaxPacket - 1, channelWindowSize - 3*channelMaxPacket, channelWindowSize, false},
		{3 * channelMaxPacket, channelWindowSize - 3*channelMaxPacket, channelWindowSize, false},
		{channelWindowSize/8 - 1, channelWindowSize - channelWindowSize/8, channelWindowSize, false},
		{channelWindowSize / 8, channelWindowSize - channelWindowSize/8, channelWindowSize, true},
		{3 * channelMaxPacket, 4 * channelMaxPacket, 8 * channelMaxPacket, true}, // an eighth is less than three packets
		{channelMaxPacket, channelWindowSize/2 - 1, channelWindowSize, true},
		{1, channelWindowSize / 2, channelWindowSize, false},
		{1, BudgetInitialWindow/2 - 1, BudgetInitialWindow, true},
		{1, BudgetInitialWindow / 2, BudgetInitialWindow, false},
	} {
		if got := windowAdjustDue(c.consumed, c.window, c.max); got != c.due {
			t.Errorf("consumed %d, window %d left: due %v, want %v", c.consumed, c.window, got, c.due)
		}
	}
}
