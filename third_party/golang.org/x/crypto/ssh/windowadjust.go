// Copyright 2026 The Tubegate Authors. Patch to golang.org/x/crypto/ssh;
// see third_party/patches/x-crypto-0011-window-given-back-by-three-packets.patch.

package ssh

// windowAdjustDue reports whether a channel gives its peer the window
// back now, having consumed consumed bytes of it since it last did, with
// window left of the max it granted. Once three packets' worth is consumed,
// or sooner when less than half the window is left: at most 96 KiB of the
// 2 MiB is kept from the peer. Upstream gives it back at every read once
// three packets are outstanding, which under load is an adjust message
// (a packet, a write) per packet read: three times as many.
//
// Patch 0018: once an eighth of the window is consumed where that is more
// than three packets (256 KiB of 2 MiB: the peer always has 1.75 MiB to
// send into), for about a third as many adjust messages again, each a message
// the sender's side reads and a write the receiver's makes.
func windowAdjustDue(consumed, window, max uint32) bool {
	batch := uint32(3 * channelMaxPacket)
	if max/8 > batch {
		batch = max / 8
	}
	return consumed >= batch || window < max/2
}
