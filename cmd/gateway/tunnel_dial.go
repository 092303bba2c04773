package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"time"

	"github.com/tubegate/tubegate/internal/bridge"
	"github.com/tubegate/tubegate/internal/gwclient"
	"github.com/tubegate/tubegate/internal/resume"
)

// dialGateway opens the byte stream a tube runs on: TCP for
// ssh://HOST:PORT (the gateway's --ssh-listen), or a WebSocket to /ssh for
// ws:// and wss://, through HTTPS_PROXY and trusting --ca. The WebSocket is
// resumable (bridge.DialResume) unless --no-resume: a drop is then healed
// under the SSH connection, and only a tube the gateway could not resume
// ends it. The second result is the resumable transport (nil for a raw
// one), for the keepalives. It is the one place `gateway tunnel` dials the
// gateway.
func (tn *tunnel) dialGateway(ctx context.Context) (net.Conn, gwclient.Resumable, error) {
	u := tn.cfg.gateway
	if u.Scheme == "ssh" {
		var d net.Dialer
		c, err := d.DialContext(ctx, "tcp", tn.cfg.hostPort)
		if err != nil {
			return nil, nil, fmt.Errorf("dial %s: %w", u.Redacted(), err)
		}
		return c, nil, nil
	}
	opts := bridge.DialOptions{TLSConfig: tn.tls}
	if tn.cfg.noResume {
		c, err := bridge.Dial(ctx, u.String(), opts)
		return c, nil, err
	}
	c, err := bridge.DialResume(ctx, u.String(), opts, resume.Options{OnState: logResumeState(tn.log)})
	if err != nil {
		return nil, nil, err
	}
	rc, ok := c.(interface{ Resume() *resume.Conn })
	if !ok {
		return c, nil, nil
	}
	return c, &keepaliveDrop{Conn: rc.Resume(), log: tn.log}, nil
}

// keepaliveDrop is what the keepalives do to a resumable tube whose
// answers stopped: drop its WebSocket, so that it resumes on a new one,
// rather than end the tube.
type keepaliveDrop struct {
	*resume.Conn
	log *slog.Logger
}

func (k *keepaliveDrop) Drop() {
	k.log.Warn("keepalives unanswered: dropping the WebSocket to resume the tube on a new one")
	k.Conn.Drop()
}

// logResumeState logs each state change of a resumable tube as one line.
func logResumeState(log *slog.Logger) func(resume.State) {
	return func(s resume.State) {
		switch s.Kind {
		case resume.Connected:
			log.Debug("tube resumable", "protocol", resume.Subprotocol)
		case resume.Reconnecting:
			log.Warn("tube reconnecting", "attempt", s.Attempt, "left", max(time.Until(s.Deadline), 0).Round(time.Second), "err", s.Err)
		case resume.Resumed:
			log.Info("tube resumed")
		case resume.Failed:
			if errors.Is(s.Err, net.ErrClosed) || errors.Is(s.Err, io.EOF) {
				log.Debug("tube closed")
				return
			}
			log.Warn("tube not resumed", "err", s.Err)
		}
	}
}
