package resume

import (
	"context"
	"errors"
	"sync"
)

// memTransport is one end of an in-memory message transport pair.
type memTransport struct {
	in         chan []byte
	peer       *memTransport
	link       *memLink
	closeFrame *CloseError // the close frame the peer sent; under link.mu
}

// memLink is what both ends of a pair share.
type memLink struct {
	mu        sync.Mutex
	closed    chan struct{}
	once      sync.Once
	blackHole bool
}

func memPair() (a, b *memTransport) {
	l := &memLink{closed: make(chan struct{})}
	a = &memTransport{in: make(chan []byte, 1<<12), link: l}
	b = &memTransport{in: make(chan []byte, 1<<12), link: l}
	a.peer, b.peer = b, a
	return a, b
}

var errMemClosed = errors.New("mem transport closed")

func (t *memTransport) ReadMessage(ctx context.Context) ([]byte, error) {
	select {
	case m := <-t.in:
		return m, nil
	default:
	}
	select {
	case m := <-t.in:
		return m, nil
	case <-t.link.closed:
		select { // what was sent before the close comes first
		case m := <-t.in:
			return m, nil
		default:
		}
		t.link.mu.Lock()
		defer t.link.mu.Unlock()
		if t.closeFrame != nil {
			return nil, t.closeFrame
		}
		return nil, errMemClosed
	case <-ctx.Done():
		t.Close(0, "")
		return nil, ctx.Err()
	}
}

func (t *memTransport) WriteMessage(ctx context.Context, p []byte) error {
	t.link.mu.Lock()
	bh := t.link.blackHole
	t.link.mu.Unlock()
	select {
	case <-t.link.closed:
		return errMemClosed
	default:
	}
	if bh {
		return nil
	}
	m := append([]byte(nil), p...)
	select {
	case t.peer.in <- m:
		return nil
	case <-t.link.closed:
		return errMemClosed
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (t *memTransport) Close(code int, reason string) error {
	t.link.mu.Lock()
	select {
	case <-t.link.closed:
	default:
		if code != 0 {
			t.peer.closeFrame = &CloseError{Code: code, Reason: reason}
		}
	}
	t.link.mu.Unlock()
	t.link.once.Do(func() { close(t.link.closed) })
	return nil
}

// setBlackHole makes the link swallow everything from now on, closing
// nothing, as a dead NAT does.
func (t *memTransport) setBlackHole() {
	t.link.mu.Lock()
	t.link.blackHole = true
	t.link.mu.Unlock()
}
