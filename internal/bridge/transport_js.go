//go:build js

package bridge

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"syscall/js"

	"github.com/tubegate/tubegate/internal/resume"
)

// jsTransport is a browser WebSocket as a resume.Transport, driven
// directly rather than through coder/websocket, for what resumption needs
// of it: a dial that times out must really give its socket up (the
// browser lets one WebSocket per host be connecting at a time, so a
// socket left connecting to a dead network would hold back every redial),
// and a drop must send no close frame (the gateway takes one as the end
// of the tube), so it only lets go of the socket.
type jsTransport struct {
	ws    js.Value
	u8    js.Value // the Uint8Array constructor
	funcs []js.Func

	sendMu  sync.Mutex
	sendBuf js.Value // a Uint8Array reused for every message sent
	sendCap int

	mu      sync.Mutex
	queue   [][]byte
	ready   chan struct{} // signalled (cap 1) when queue grows
	closed  chan struct{} // closed by the close event, or by a drop
	gone    bool
	closeEv error // why it closed: a *resume.CloseError for a close frame
}

// dialJS opens a WebSocket asking for subprotocol, within ctx.
func dialJS(ctx context.Context, rawURL, subprotocol string) (*jsTransport, error) {
	ctor := js.Global().Get("WebSocket")
	var ws js.Value
	var err error
	func() {
		defer func() {
			if r := recover(); r != nil {
				err = fmt.Errorf("%v", r)
			}
		}()
		ws = ctor.New(rawURL, subprotocol)
	}()
	if err != nil {
		return nil, fmt.Errorf("dial %s: %w", rawURL, err)
	}
	ws.Set("binaryType", "arraybuffer")
	t := &jsTransport{ws: ws, u8: js.Global().Get("Uint8Array"), ready: make(chan struct{}, 1), closed: make(chan struct{})}
	opened := make(chan struct{})
	t.on("open", func(js.Value) { close(opened) })
	t.on("message", func(ev js.Value) {
		data := ev.Get("data")
		var msg []byte
		if data.Type() == js.TypeString {
			msg = nil // a text message: reported as a bad frame
		} else {
			arr := t.u8.New(data)
			msg = newMessage(arr.Length())
			js.CopyBytesToGo(msg, arr)
		}
		t.mu.Lock()
		t.queue = append(t.queue, msg)
		t.mu.Unlock()
		select {
		case t.ready <- struct{}{}:
		default:
		}
	})
	t.on("close", func(ev js.Value) {
		code, reason := ev.Get("code").Int(), ev.Get("reason").String()
		var why error = &resume.CloseError{Code: code, Reason: reason}
		if code == 1005 || code == 1006 || !ev.Get("wasClean").Bool() {
			why = fmt.Errorf("the WebSocket to %s closed without a close frame (%d)", rawURL, code)
		}
		t.finish(why)
	})
	select {
	case <-opened:
	case <-t.closed:
		return nil, fmt.Errorf("dial %s: %w", rawURL, t.closeEv)
	case <-ctx.Done():
		// Closing a connecting socket fails it without a close frame.
		t.release()
		ws.Call("close", 1000)
		return nil, fmt.Errorf("dial %s: %w", rawURL, ctx.Err())
	}
	if p := ws.Get("protocol").String(); p != subprotocol {
		t.Close(resume.CloseNormal, "")
		return nil, fmt.Errorf("dial %s: the gateway does not offer resumable tubes (subprotocol %q)", rawURL, p)
	}
	return t, nil
}

// on sets the socket's handler of event to fn.
func (t *jsTransport) on(event string, fn func(js.Value)) {
	f := js.FuncOf(func(this js.Value, args []js.Value) any {
		fn(args[0])
		return nil
	})
	t.funcs = append(t.funcs, f)
	t.ws.Set("on"+event, f)
}

// release unhooks the handlers, so that the socket calls into Go no more.
func (t *jsTransport) release() {
	for _, ev := range []string{"open", "message", "close"} {
		t.ws.Set("on"+ev, js.Null())
	}
	for _, f := range t.funcs {
		f.Release()
	}
	t.funcs = nil
	t.finish(errors.New("the WebSocket was dropped"))
}

// finish marks the transport closed for why, once.
func (t *jsTransport) finish(why error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.gone {
		return
	}
	t.gone, t.closeEv = true, why
	close(t.closed)
}

func (t *jsTransport) ReadMessage(ctx context.Context) ([]byte, error) {
	for {
		t.mu.Lock()
		if len(t.queue) > 0 {
			msg := t.queue[0]
			t.queue[0] = nil
			t.queue = t.queue[1:]
			t.mu.Unlock()
			if msg == nil {
				return nil, fmt.Errorf("%w: a text message", resume.ErrBadFrame)
			}
			return msg, nil
		}
		gone, why := t.gone, t.closeEv
		t.mu.Unlock()
		if gone {
			return nil, why
		}
		select {
		case <-t.ready:
		case <-t.closed:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

func (t *jsTransport) WriteMessage(ctx context.Context, p []byte) error {
	t.mu.Lock()
	gone, why := t.gone, t.closeEv
	t.mu.Unlock()
	if gone {
		return why
	}
	t.sendMu.Lock()
	defer t.sendMu.Unlock()
	if len(p) > t.sendCap {
		t.sendCap = max(len(p), pooledCap)
		t.sendBuf = t.u8.New(t.sendCap)
	}
	// send copies the bytes of the view it is given (every browser queues
	// a copy), so one buffer serves every message, and no ArrayBuffer is
	// made and zeroed per message.
	arr := t.sendBuf
	if len(p) < t.sendCap {
		arr = t.sendBuf.Call("subarray", 0, len(p))
	}
	js.CopyBytesToJS(arr, p)
	var err error
	func() {
		defer func() {
			if r := recover(); r != nil {
				err = fmt.Errorf("send on the WebSocket: %v", r)
			}
		}()
		t.ws.Call("send", arr)
	}()
	return err
}

// jsMsgs pools the buffers of received messages of pooledMin to
// pooledCap bytes (the bulk of a transfer), as the native transport does;
// the stream gives each back once it is read (Release).
var jsMsgs = sync.Pool{New: func() any {
	b := make([]byte, 0, pooledCap)
	return &b
}}

// newMessage returns a buffer for a received message of n bytes.
func newMessage(n int) []byte {
	if n > pooledMin && n <= pooledCap {
		return (*jsMsgs.Get().(*[]byte))[:n]
	}
	return make([]byte, n)
}

// Release takes back a message ReadMessage returned (resume.Releaser).
func (t *jsTransport) Release(msg []byte) {
	if cap(msg) != pooledCap {
		return
	}
	msg = msg[:0]
	jsMsgs.Put(&msg)
}

// Close sends a close frame of code and reason; code 0 lets go of the
// socket without one (a browser cannot close a WebSocket without a close
// frame, and the gateway takes a close frame as the end of the tube).
func (t *jsTransport) Close(code int, reason string) error {
	t.release()
	if code == 0 {
		return nil
	}
	if code != 1000 && (code < 3000 || code > 4999) {
		code = 1000 // the only codes a page may send
	}
	defer func() { recover() }()
	t.ws.Call("close", code, reason)
	return nil
}
