package bridge

import (
	"errors"
	"io"
	"net"
	"os"
	"sync/atomic"
	"syscall"

	"golang.org/x/sys/unix"
)

// spliceOut is a leanWS's way from its socket to the writer's pipe
// with no copy in user space: splice(2) moves the socket's pages into the
// pipe. Resume must tell waiting for the peer from waiting for the writer
// (only the first may count as a silent peer), and splice may wait for
// either:
//
//   - where the writer's pipe blocks (a ProxyCommand's stdout), one splice
//     from the socket to it waits in the kernel for room in the pipe, and
//     fails with EAGAIN, at once, only when the socket has nothing: the
//     wait for the peer is then the runtime poller's;
//   - where it does not block, the payload goes through a pipe of our own:
//     from the socket (EAGAIN: nothing from the peer), then on to the
//     writer's pipe (EAGAIN: no room in it).
type spliceOut struct {
	// the writer last seen, and its pipe if it is one
	w      io.Writer
	dst    syscall.RawConn
	direct bool // dst blocks: splice straight from the socket to it

	pr, pw int  // the pipe between, while ok
	ok     bool // there is a pipe between
	size   int  // its capacity

	// spliced counts the bytes spliced (for tests).
	spliced atomic.Uint64
}

// spliceMax is the most one splice moves: the capacity asked for the pipe
// between.
const spliceMax = 1 << 20

// moveTo moves n payload bytes from the connection to w: spliced where the
// connection is a TCP socket and w a pipe, else copied (copyTo). out and
// done bracket each step that may wait for w.
func (c *leanWS) moveTo(w io.Writer, n uint64, out func(), done func(int, error)) (uint64, error) {
	tc, ok := c.conn.(*net.TCPConn)
	if !ok || !c.out.target(w) {
		return c.copyTo(w, n, out, done)
	}
	src, err := tc.SyscallConn()
	if err != nil {
		return c.copyTo(w, n, out, done)
	}
	if !c.out.direct {
		if err := c.out.open(); err != nil {
			return c.copyTo(w, n, out, done)
		}
	}
	var moved uint64
	for moved < n {
		want := int(min(n-moved, spliceMax))
		var m int
		var err error
		if c.out.direct {
			m, err = c.out.straight(src, want, out, done)
		} else {
			m, err = c.out.through(src, want, out, done)
		}
		moved += uint64(m)
		if err != nil {
			return moved, err
		}
	}
	return moved, nil
}

// straight splices up to n bytes from the socket to the writer's pipe,
// which blocks, waiting in the kernel for room in it and on the poller for
// bytes from the socket. A failure of the pipe is the writer's (done's
// error); any other, the connection's.
func (s *spliceOut) straight(src syscall.RawConn, n int, out func(), done func(int, error)) (int, error) {
	var k int64
	var serr error
	err := src.Read(func(sfd uintptr) bool {
		werr := s.dst.Write(func(dfd uintptr) bool {
			out()
			for {
				k, serr = unix.Splice(int(sfd), nil, int(dfd), nil, n, unix.SPLICE_F_MOVE)
				if serr != unix.EINTR {
					return true
				}
			}
		})
		if serr == nil {
			serr = werr
		}
		switch {
		case serr == unix.EAGAIN:
			done(0, nil)
			return false
		case errors.Is(serr, unix.EPIPE) || werr != nil:
			done(0, os.NewSyscallError("splice", serr))
		default:
			s.spliced.Add(uint64(max(k, 0)))
			done(int(max(k, 0)), nil)
		}
		return true
	})
	return spliced(k, serr, err)
}

// through moves up to n bytes through the pipe between: spliced from the
// socket into it (waiting for the socket to have some), then on into the
// writer's pipe (waiting for room there).
func (s *spliceOut) through(src syscall.RawConn, n int, out func(), done func(int, error)) (int, error) {
	k, err := s.fill(src, min(n, s.size))
	if err != nil {
		return 0, err
	}
	out()
	m, err := s.drain(k)
	s.spliced.Add(uint64(m))
	done(m, err)
	if err != nil {
		s.close() // what is left in it is not the next payload's
	}
	return m, err
}

// target reports whether w is a pipe to splice into, and whether it
// blocks.
func (s *spliceOut) target(w io.Writer) bool {
	if w == s.w {
		return s.dst != nil
	}
	s.w, s.dst = w, nil
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	if fi, err := f.Stat(); err != nil || fi.Mode()&os.ModeNamedPipe == 0 {
		return false
	}
	rc, err := f.SyscallConn()
	if err != nil {
		return false
	}
	var flags int
	var ferr error
	rc.Control(func(fd uintptr) { flags, ferr = unix.FcntlInt(fd, unix.F_GETFL, 0) })
	s.dst, s.direct = rc, ferr == nil && flags&unix.O_NONBLOCK == 0
	return true
}

// open makes the pipe between, if there is none.
func (s *spliceOut) open() error {
	if s.ok {
		return nil
	}
	var p [2]int
	if err := unix.Pipe2(p[:], unix.O_CLOEXEC); err != nil {
		return err
	}
	s.pr, s.pw, s.ok = p[0], p[1], true
	s.size = 64 << 10
	if n, err := unix.FcntlInt(uintptr(s.pw), unix.F_SETPIPE_SZ, spliceMax); err == nil {
		s.size = n
	}
	return nil
}

// fill splices up to n bytes from the socket into the empty pipe between,
// waiting for the socket to have some.
func (s *spliceOut) fill(src syscall.RawConn, n int) (int, error) {
	var k int64
	var serr error
	err := src.Read(func(fd uintptr) bool {
		k, serr = unix.Splice(int(fd), nil, s.pw, nil, n, unix.SPLICE_F_MOVE|unix.SPLICE_F_NONBLOCK)
		return serr != unix.EAGAIN
	})
	return spliced(k, serr, err)
}

// drain splices the n bytes in the pipe between into the writer's pipe,
// waiting for room there.
func (s *spliceOut) drain(n int) (int, error) {
	moved := 0
	var serr error
	err := s.dst.Write(func(fd uintptr) bool {
		for moved < n {
			k, err := unix.Splice(s.pr, nil, int(fd), nil, n-moved, unix.SPLICE_F_MOVE)
			switch err {
			case nil:
				moved += int(k)
			case unix.EINTR:
			case unix.EAGAIN:
				return false
			default:
				serr = os.NewSyscallError("splice", err)
				return true
			}
		}
		return true
	})
	if err == nil {
		err = serr
	}
	return moved, err
}

// spliced is the outcome of a splice from the socket that moved k bytes
// with serr, waited for by a RawConn call that returned err: a count, or
// the error, where 0 bytes is the peer's end.
func spliced(k int64, serr, err error) (int, error) {
	switch {
	case err != nil:
		return 0, err
	case serr != nil:
		return 0, os.NewSyscallError("splice", serr)
	case k == 0:
		return 0, io.ErrUnexpectedEOF
	}
	return int(k), nil
}

// close closes the pipe between, if any.
func (s *spliceOut) close() {
	if s.ok {
		unix.Close(s.pr)
		unix.Close(s.pw)
		s.ok = false
	}
}
