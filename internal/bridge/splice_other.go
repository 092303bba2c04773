//go:build !linux && !js

package bridge

import (
	"io"
	"sync/atomic"
)

// spliceOut has nothing to do where there is no splice(2).
type spliceOut struct {
	spliced atomic.Uint64 // always 0
}

func (*spliceOut) close() {}

// moveTo copies n payload bytes from the connection to w (copyTo).
func (c *leanWS) moveTo(w io.Writer, n uint64, out func(), done func(int, error)) (uint64, error) {
	return c.copyTo(w, n, out, done)
}
