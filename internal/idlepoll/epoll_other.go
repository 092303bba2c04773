//go:build !linux

package idlepoll

import "errors"

// epoll is Linux's; elsewhere there is no Poller.
type epoll struct{}

func newEpoll() (*epoll, error) {
	return nil, errors.New("idlepoll: no epoll on this platform")
}

func (p *epoll) wait() ([]uint64, error)                     { return nil, errors.ErrUnsupported }
func (p *epoll) arm(fd uintptr, id uint64, first bool) error { return errors.ErrUnsupported }
func (p *epoll) remove(fd uintptr)                           {}
func (p *epoll) close() error                                { return nil }
