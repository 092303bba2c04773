package e2e

import (
	"bytes"
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/coder/websocket"
	"golang.org/x/crypto/ssh"

	"github.com/tubegate/tubegate/internal/resume"
)

// noAckTransport is a hostile client's end of a resumable tube: a
// WebSocket that speaks tubegate.resume.v1 but never acknowledges what
// the gateway sends (every ack it sends says 0 bytes).
type noAckTransport struct{ c *websocket.Conn }

func (t noAckTransport) ReadMessage(ctx context.Context) ([]byte, error) {
	_, p, err := t.c.Read(ctx)
	return p, err
}

func (t noAckTransport) WriteMessage(ctx context.Context, p []byte) error {
	q := bytes.Clone(p)
	switch {
	case len(q) > 17 && q[0] == 0x03: // DATA: offset, ack, payload
		clear(q[9:17])
	case len(q) == 9 && q[0] == 0x04: // ACK
		clear(q[1:9])
	}
	return t.c.Write(ctx, websocket.MessageBinary, q)
}

func (t noAckTransport) Close(code int, reason string) error {
	if code == 0 {
		return t.c.CloseNow()
	}
	return t.c.Close(websocket.StatusCode(code), reason)
}

// TestRedteamTinyUnackedPackets: a client that never acknowledges, and has
// the gateway answer many tiny packets (global requests), makes it keep
// each answer until acknowledged. The bound and the user's budget counted
// the bytes (a few dozen an answer) while each answer was kept in a
// buffer of 4 KiB, 64 KiB before: 20,000 answers held 80 MiB (1.3 GiB)
// against a 2 MiB budget. They now count the buffers: the gateway stops
// answering at the budget, and its heap grows by about that much.
func TestRedteamTinyUnackedPackets(t *testing.T) {
	const budgetMiB, requests = 2, 20000
	w := newWorld(t, gatewayOpts{args: []string{"--pprof", "127.0.0.1:0", "--max-unacked-per-user", fmt.Sprint(budgetMiB)}})
	w.addUser(t, "alice")
	pprofAddr := w.gw.proc.mustWaitLine(t, rePprofListening, startTimeout)[1]
	heap := func() int { return liveHeap(t, w.gw, pprofAddr) }

	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()
	nc, err := resume.Dial(ctx, func(ctx context.Context) (resume.Transport, error) {
		c, _, err := websocket.Dial(ctx, w.gw.wsURL(), &websocket.DialOptions{Subprotocols: []string{resume.Subprotocol}})
		if err != nil {
			return nil, err
		}
		c.SetReadLimit(4 << 20)
		return noAckTransport{c}, nil
	}, resume.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	config := &ssh.ClientConfig{
		User: "alice", Auth: []ssh.AuthMethod{ssh.PublicKeys(userSigner(t, w, "alice"))},
		HostKeyCallback: ssh.InsecureIgnoreHostKey(), Timeout: startTimeout,
	}
	sc, chans, reqs, err := ssh.NewClientConn(nc, w.gw.wsURL(), config)
	if err != nil {
		t.Fatal(err)
	}
	client := ssh.NewClient(sc, chans, reqs)
	defer client.Close()

	before := heap()
	answered := 0
	for range requests {
		done := make(chan error, 1)
		go func() {
			_, _, err := client.SendRequest("keepalive@openssh.com", true, nil)
			done <- err
		}()
		select {
		case err := <-done:
			if err != nil {
				t.Fatalf("request %d: %v", answered, err)
			}
			answered++
			continue
		case <-time.After(2 * time.Second):
		}
		break // the gateway stopped answering: its sender waits for acks
	}
	grew := heap() - before
	t.Logf("%d of %d requests answered with nothing acknowledged; the gateway's heap grew by %.1f MiB", answered, requests, float64(grew)/(1<<20))
	if answered == requests {
		t.Errorf("the gateway answered all %d requests of a client that acknowledged none: nothing capped what it kept", requests)
	}
	if limit := (budgetMiB + 3) << 20; grew > limit {
		t.Errorf("the gateway's heap grew by %.1f MiB for one client that acknowledges nothing; its budget is %d MiB", float64(grew)/(1<<20), budgetMiB)
	}
	w.gw.requireHealthy(t)
}
