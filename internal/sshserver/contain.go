package sshserver

import (
	"io"
	"log/slog"
	"runtime/debug"
)

// contain, deferred at the root of a goroutine that serves one tube, turns
// a panic there into the end of that tube alone: logged with its stack,
// the tube closed, the gateway and every other tube unharmed.
func contain(log *slog.Logger, tube io.Closer) {
	if v := recover(); v != nil {
		log.Error("tube closed: internal error", "panic", v, "stack", string(debug.Stack()))
		tube.Close()
	}
}
