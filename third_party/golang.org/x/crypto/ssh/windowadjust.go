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
func windowAdjustDue(consumed, window, max uint32) bool {
	return consumed >= 3*channelMaxPacket || window < max/2
}
