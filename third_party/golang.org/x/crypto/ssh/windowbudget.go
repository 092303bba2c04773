// Copyright 2026 The Tubegate Authors. Patch to golang.org/x/crypto/ssh;
// see third_party/patches/x-crypto-0012-channel-windows-from-a-budget.patch.

package ssh

import "errors"

// A WindowBudget lends a connection's channels their receive windows: the
// bytes a peer may send on a channel before the channel's reader consumes
// them, which the channel holds in memory until then. Without a budget each
// channel grants channelWindowSize (2 MiB) however many channels there are,
// so a peer that opens many channels and fills them while their readers
// wait makes the connection hold 2 MiB a channel. With one, a channel
// starts with BudgetInitialWindow taken from the budget, grows its window
// (doubling, up to 2 MiB) while its reader keeps up, if the budget has the
// bytes, and gives it all back once it is gone and its data is read. A
// channel that cannot get BudgetInitialWindow is refused (inbound: an open
// failure with ResourceShortage; outbound: OpenChannel fails). One budget
// may be shared by many connections (all of a user's, say).
type WindowBudget interface {
	// Take lends up to want bytes, and at least min, or nothing: it
	// returns what it lent (0 or between min and want).
	Take(want, min uint32) uint32
	// Give takes back n bytes lent by Take.
	Give(n uint32)
}

// BudgetInitialWindow is the window a channel starts with when its
// connection has a WindowBudget: two full packets.
const BudgetInitialWindow = 2 * channelMaxPacket

// errNoWindow is OpenChannel's error when the budget cannot lend a window.
var errNoWindow = errors.New("ssh: no receive window left in the connection's budget")

// takeInitialWindow gives a new channel its window: channelWindowSize
// without a budget, BudgetInitialWindow from one, or false if the budget
// has not that much left.
func (ch *channel) takeInitialWindow(b WindowBudget) bool {
	if b == nil {
		ch.myWindow = channelWindowSize
		ch.maxWindow = channelWindowSize
		return true
	}
	n := b.Take(BudgetInitialWindow, BudgetInitialWindow)
	if n == 0 {
		return false
	}
	ch.budget, ch.myWindow, ch.maxWindow = b, n, n
	return true
}

// growWindowLocked returns the window to add to an adjust that is due, from
// the budget, when the channel's reader has read everything received (its
// window may be what limits it) and the window is below channelWindowSize.
// ch.windowMu is held.
func (ch *channel) growWindowLocked() uint32 {
	if ch.budget == nil || ch.gone || ch.maxWindow >= channelWindowSize {
		return 0
	}
	if unread := ch.maxWindow - ch.myWindow - ch.myConsumed; unread > 0 {
		return 0
	}
	want := min(ch.maxWindow, channelWindowSize-ch.maxWindow)
	n := ch.budget.Take(want, 1)
	ch.maxWindow += n
	return n
}

// leaveBudget is called once the channel is gone from the mux: the peer
// sends no more, so the window not used is given back now. The bytes
// received and not yet read are given back as they are read (see
// consumedGoneLocked), or all at once when Close says they will not be.
func (ch *channel) leaveBudget() {
	ch.windowMu.Lock()
	defer ch.windowMu.Unlock()
	if ch.budget == nil || ch.gone {
		return
	}
	ch.gone = true
	if ch.closed {
		ch.settleLocked()
		return
	}
	back := ch.myWindow + ch.myConsumed
	ch.maxWindow -= back
	ch.myWindow, ch.myConsumed = 0, 0
	ch.budget.Give(back)
}

// closedBudget is called by Close: the channel's user reads no more, so
// a channel already gone gives back what it still holds, and one not yet
// gone gives back all of it when it goes.
func (ch *channel) closedBudget() {
	ch.windowMu.Lock()
	defer ch.windowMu.Unlock()
	ch.closed = true
	if ch.budget != nil && ch.gone {
		ch.settleLocked()
	}
}

// settleLocked gives back all the channel still holds of the budget, once;
// ch.windowMu is held.
func (ch *channel) settleLocked() {
	if ch.settled {
		return
	}
	ch.settled = true
	ch.budget.Give(ch.maxWindow)
	ch.maxWindow, ch.myWindow, ch.myConsumed = 0, 0, 0
}

// consumedGoneLocked gives back n bytes read from a channel that is gone.
// ch.windowMu is held.
func (ch *channel) consumedGoneLocked(n uint32) {
	if ch.settled {
		return
	}
	n = min(n, ch.maxWindow)
	ch.maxWindow -= n
	ch.budget.Give(n)
}
