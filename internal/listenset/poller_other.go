//go:build !linux

package listenset

import "errors"

// poller is Linux's epoll; elsewhere a Set has none and each listener
// keeps its own goroutine.
type poller struct{}

func newPoller() (*poller, error) {
	return nil, errors.New("no epoll on this platform")
}

func (p *poller) wait() ([]uint64, error)                     { return nil, errors.ErrUnsupported }
func (p *poller) arm(fd uintptr, id uint64, first bool) error { return errors.ErrUnsupported }
func (p *poller) remove(fd uintptr)                           {}
func (p *poller) close() error                                { return nil }
