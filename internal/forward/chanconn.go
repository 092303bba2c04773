package forward

import (
	"io"
	"net"
	"sync"
	"time"

	"golang.org/x/crypto/ssh"
)

// ChannelConn adapts an SSH channel to net.Conn so it can be piped, proxied
// or handed to an SSH client. Deadlines are not supported by SSH channels;
// the setters succeed and do nothing, and lifetimes are bounded by closing.
func ChannelConn(ch ssh.Channel, local, remote net.Addr) net.Conn {
	return &channelConn{Channel: ch, local: local, remote: remote}
}

// ChannelConnReleasing is ChannelConn with release called once, when the
// conn is first closed: to give back the slot it was counted in.
func ChannelConnReleasing(ch ssh.Channel, local, remote net.Addr, release func()) net.Conn {
	return &channelConn{Channel: ch, local: local, remote: remote, release: release}
}

type channelConn struct {
	ssh.Channel
	local, remote net.Addr
	release       func() // nil: nothing to give back
	once          sync.Once
}

// Close closes the channel and gives back its slot, once.
func (c *channelConn) Close() error {
	err := c.Channel.Close()
	if c.release != nil {
		c.once.Do(c.release)
	}
	return err
}

func (c *channelConn) LocalAddr() net.Addr                { return c.local }
func (c *channelConn) RemoteAddr() net.Addr               { return c.remote }
func (c *channelConn) SetDeadline(t time.Time) error      { return nil }
func (c *channelConn) SetReadDeadline(t time.Time) error  { return nil }
func (c *channelConn) SetWriteDeadline(t time.Time) error { return nil }

// Addr is a net.Addr made of a network name and an address string, for the
// ends of connections that have no socket of their own.
type Addr struct{ Net, Address string }

// Network returns the network name.
func (a Addr) Network() string { return a.Net }

// String returns the address.
func (a Addr) String() string { return a.Address }

// WriteTo writes the channel's data to w straight from its packets when the
// channel can (see packetWriter), through a pooled buffer otherwise.
func (c *channelConn) WriteTo(w io.Writer) (int64, error) {
	if wt, ok := c.Channel.(io.WriterTo); ok {
		return wt.WriteTo(w)
	}
	bp := bufPool.Get().(*[]byte)
	defer bufPool.Put(bp)
	return io.CopyBuffer(writerOnly{w}, readerOnly{c.Channel}, *bp)
}

// ReadFrom sends what it reads from r as the channel's data, read straight
// into its packets when the channel can (see packetReader), through a
// pooled buffer otherwise.
func (c *channelConn) ReadFrom(r io.Reader) (int64, error) {
	if rf, ok := c.Channel.(io.ReaderFrom); ok {
		return rf.ReadFrom(r)
	}
	bp := bufPool.Get().(*[]byte)
	defer bufPool.Put(bp)
	return io.CopyBuffer(writerOnly{c.Channel}, readerOnly{r}, *bp)
}
