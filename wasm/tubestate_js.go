//go:build js

package main

import (
	"context"
	"errors"
	"io"
	"net"
	"time"

	"syscall/js"

	"github.com/tubegate/tubegate/internal/bridge"
	"github.com/tubegate/tubegate/internal/resume"
)

// pageHeartbeat is the idle heartbeat of the page's tube (2 s, about
// mosh's 3 s), so that a silent network is noticed within 6 s (three
// heartbeats) and the page says "reconnecting…" while the person is still
// looking at it; it costs one small message each way per 2 s idle.
const pageHeartbeat = 2 * time.Second

// dialTube opens the page's tube to the gateway: resumable, so that the
// console and its forwards outlive a dropped WebSocket, with each state
// change told to the page (reportTubeState).
func dialTube(ctx context.Context, url string) (net.Conn, error) {
	return bridge.DialResume(ctx, url, bridge.DialOptions{},
		resume.Options{Heartbeat: pageHeartbeat, OnState: reportTubeState})
}

// reportTubeState calls globalThis.tubegateTubeState({state, deadline,
// attempt, error}) if the page set it: state is connected, reconnecting
// (deadline: when the gateway gives the tube up, in ms since the epoch),
// resumed, failed (error: why), or closed (the page ended it).
func reportTubeState(s resume.State) {
	fn := js.Global().Get("tubegateTubeState")
	if fn.Type() != js.TypeFunction {
		return
	}
	o := map[string]any{"state": s.Kind.String(), "attempt": s.Attempt}
	if !s.Deadline.IsZero() {
		o["deadline"] = s.Deadline.UnixMilli()
	}
	if s.Err != nil {
		o["error"] = s.Err.Error()
	}
	if s.Kind == resume.Failed && (errors.Is(s.Err, net.ErrClosed) || errors.Is(s.Err, io.EOF)) {
		o["state"] = "closed"
	}
	fn.Invoke(toJS(o))
}
