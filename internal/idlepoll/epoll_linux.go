package idlepoll

import (
	"fmt"
	"os"
	"syscall"

	"golang.org/x/sys/unix"
)

// epoll is an epoll instance holding idle sockets, each armed for one
// wake-up (EPOLLONESHOT) and named by its id. The instance is itself in
// Go's network poller, so waiting on it parks a goroutine, not a thread.
type epoll struct {
	f      *os.File
	rc     syscall.RawConn
	events []unix.EpollEvent
	ids    []uint64
}

func newEpoll() (*epoll, error) {
	fd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("epoll_create1: %w", err)
	}
	if err := unix.SetNonblock(fd, true); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("epoll instance: %w", err)
	}
	// Non-blocking, the file goes into Go's network poller.
	f := os.NewFile(uintptr(fd), "idlepoll")
	rc, err := f.SyscallConn()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("epoll instance: %w", err)
	}
	return &epoll{f: f, rc: rc, events: make([]unix.EpollEvent, 128)}, nil
}

// wait returns the ids of sockets readable, hung up or failed, parking
// until there is one. Each is disarmed until armed again.
func (p *epoll) wait() ([]uint64, error) {
	var n int
	var werr error
	err := p.rc.Read(func(fd uintptr) bool {
		n, werr = unix.EpollWait(int(fd), p.events, 0)
		if werr == unix.EINTR {
			n, werr = 0, nil
		}
		return n > 0 || werr != nil
	})
	if err != nil {
		return nil, err
	}
	if werr != nil {
		return nil, fmt.Errorf("epoll_wait: %w", werr)
	}
	p.ids = p.ids[:0]
	for _, ev := range p.events[:n] {
		p.ids = append(p.ids, uint64(uint32(ev.Fd))|uint64(uint32(ev.Pad))<<32)
	}
	return p.ids, nil
}

// arm asks for one wake-up when socket fd, named id, is readable: first
// adds it, otherwise it is armed again (a socket readable now wakes at
// once).
func (p *epoll) arm(fd uintptr, id uint64, first bool) error {
	ev := unix.EpollEvent{Events: unix.EPOLLIN | unix.EPOLLONESHOT, Fd: int32(uint32(id)), Pad: int32(uint32(id >> 32))}
	op := unix.EPOLL_CTL_MOD
	if first {
		op = unix.EPOLL_CTL_ADD
	}
	var err error
	if cerr := p.rc.Control(func(epfd uintptr) { err = unix.EpollCtl(int(epfd), op, int(fd), &ev) }); cerr != nil {
		return cerr
	}
	if err != nil {
		return fmt.Errorf("epoll_ctl: %w", err)
	}
	return nil
}

// remove takes socket fd out (an fd not in it is no error).
func (p *epoll) remove(fd uintptr) {
	p.rc.Control(func(epfd uintptr) { unix.EpollCtl(int(epfd), unix.EPOLL_CTL_DEL, int(fd), nil) })
}

func (p *epoll) close() error { return p.f.Close() }
