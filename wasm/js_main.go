//go:build js

package main

import (
	"context"
	"errors"
	"sync"
	"time"

	"syscall/js"

	"github.com/tubegate/tubegate/internal/gwclient"
)

// connectTimeout bounds connecting the tube and logging in to a host
// (including the time the person takes to answer host key and
// keyboard-interactive questions).
const connectTimeout = 5 * time.Minute

// client is the state behind the page's globalThis.tubegate.
type client struct {
	dialMu sync.Mutex // serializes dialing the tube; held while dialing, so never in a callback

	mu   sync.Mutex // guards the fields below; never held while blocking
	gw   *Gateway
	host *Host // the console's host connection, which carries the forwards
}

func main() {
	c := &client{}
	api := js.Global().Get("Object").New()
	api.Set("connect", js.FuncOf(c.jsConnect))
	api.Set("openConsole", js.FuncOf(c.jsOpenConsole))
	api.Set("addForward", js.FuncOf(c.jsAddForward))
	api.Set("removeForward", js.FuncOf(c.jsRemoveForward))
	api.Set("forwards", js.FuncOf(c.jsForwards))
	api.Set("disconnect", js.FuncOf(c.jsDisconnect))
	api.Set("memStats", js.FuncOf(jsMemStats))
	js.Global().Set("tubegate", api)
	select {} // serve callbacks until the page goes away
}

// connect(url) -> Promise<{fingerprint}>: the tube to the gateway.
func (c *client) jsConnect(this js.Value, args []js.Value) any {
	url := arg(args, 0).String()
	return promise(func() (any, error) {
		gw, err := c.gateway(url)
		if err != nil {
			return nil, err
		}
		return toJS(map[string]string{"fingerprint": gw.Fingerprint}), nil
	})
}

// gateway returns the live tube, dialing it if there is none.
func (c *client) gateway(url string) (*Gateway, error) {
	c.dialMu.Lock()
	defer c.dialMu.Unlock()
	c.mu.Lock()
	gw := c.gw
	c.mu.Unlock()
	if gw != nil {
		select {
		case <-gw.Done():
		default:
			return gw, nil
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), connectTimeout)
	defer cancel()
	conn, err := dialTube(ctx, url)
	if err != nil {
		return nil, err
	}
	gw, err = NewGateway(ctx, conn)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	c.gw = gw
	c.mu.Unlock()
	return gw, nil
}

// openConsole(opts) -> Promise<console>. opts: url, target, user, password,
// key, passphrase, cols, rows, locale (LANG and LC_CTYPE; "" is C.UTF-8),
// and callbacks hostKey({host,type,
// fingerprint}) -> Promise<bool>, prompt({name,instruction,questions:
// [{prompt,echo}]}) -> Promise<string[]>, onData(Uint8Array) -> Promise
// (resolved when written: backpressure), onClose(reason).
func (c *client) jsOpenConsole(this js.Value, args []js.Value) any {
	opts := arg(args, 0)
	return promise(func() (any, error) {
		gw, err := c.gateway(str(opts, "url"))
		if err != nil {
			return nil, err
		}
		ctx, cancel := context.WithTimeout(context.Background(), connectTimeout)
		defer cancel()
		h, err := gw.DialHost(ctx, HostOptions{
			Target: str(opts, "target"), User: str(opts, "user"), Password: str(opts, "password"),
			Key: []byte(str(opts, "key")), Passphrase: str(opts, "passphrase"),
			HostKey: func(ctx context.Context, host, keyType, fp string) error {
				info := toJS(map[string]string{"host": host, "type": keyType, "fingerprint": fp})
				v, err := call(opts, "hostKey", info)
				if err != nil {
					return err
				}
				if !v.Truthy() {
					return errors.New("host key of " + host + " not accepted")
				}
				return nil
			},
			Prompt: func(ctx context.Context, name, instruction string, questions []string, echos []bool) ([]string, error) {
				qs := make([]map[string]any, len(questions))
				for i := range questions {
					qs[i] = map[string]any{"prompt": questions[i], "echo": echos[i]}
				}
				v, err := call(opts, "prompt", toJS(map[string]any{"name": name, "instruction": instruction, "questions": qs}))
				if err != nil {
					return nil, err
				}
				answers := make([]string, v.Get("length").Int())
				for i := range answers {
					answers[i] = v.Index(i).String()
				}
				return answers, nil
			},
		})
		if err != nil {
			return nil, err
		}
		con, err := h.OpenConsole(integer(opts, "cols", 80), integer(opts, "rows", 24), LocaleEnv(str(opts, "locale")), &jsWriter{opts: opts})
		if err != nil {
			h.Close()
			return nil, err
		}
		c.mu.Lock()
		old := c.host
		c.host = h
		c.mu.Unlock()
		if old != nil {
			old.Close()
		}
		go func() {
			reason := con.Wait()
			h.Close()
			call(opts, "onClose", reason)
		}()
		return consoleObject(con), nil
	})
}

// consoleObject is the JS face of a console: write(bytes|string),
// resize(cols, rows), close(), none of which blocks, and
// openSubsystem(name) for the file panel (js_subsystem.go).
func consoleObject(con *Console) js.Value {
	o := js.Global().Get("Object").New()
	o.Set("openSubsystem", jsOpenSubsystem(con.host))
	o.Set("write", js.FuncOf(func(this js.Value, args []js.Value) any {
		con.Write(bytesOf(arg(args, 0)))
		return nil
	}))
	o.Set("resize", js.FuncOf(func(this js.Value, args []js.Value) any {
		con.Resize(arg(args, 0).Int(), arg(args, 1).Int())
		return nil
	}))
	o.Set("close", js.FuncOf(func(this js.Value, args []js.Value) any {
		go con.Close()
		return nil
	}))
	return o
}

// jsWriter hands the host's output to the page as Uint8Array (never a
// string, so a multi-byte character split across reads stays intact) and
// waits until the terminal has written it.
type jsWriter struct{ opts js.Value }

func (w *jsWriter) Write(p []byte) (int, error) {
	arr := js.Global().Get("Uint8Array").New(len(p))
	js.CopyBytesToJS(arr, p)
	if _, err := call(w.opts, "onData", arr); err != nil {
		return 0, err
	}
	return len(p), nil
}

func (c *client) currentHost() (*Host, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.host == nil {
		return nil, errors.New("open a console first: forwards run through its host connection")
	}
	select {
	case <-c.host.Done():
		return nil, errors.New("the console's host connection has ended: " + c.host.Reason())
	default:
		return c.host, nil
	}
}

// addForward(spec) -> Promise<info>.
func (c *client) jsAddForward(this js.Value, args []js.Value) any {
	spec := arg(args, 0).String()
	return promise(func() (any, error) {
		h, err := c.currentHost()
		if err != nil {
			return nil, err
		}
		ctx, cancel := context.WithTimeout(context.Background(), gwclient.OpenTimeout)
		defer cancel()
		info, err := h.AddForward(ctx, spec)
		if err != nil {
			return nil, err
		}
		return toJS(info), nil
	})
}

// removeForward(id) -> Promise.
func (c *client) jsRemoveForward(this js.Value, args []js.Value) any {
	id := arg(args, 0).String()
	return promise(func() (any, error) {
		h, err := c.currentHost()
		if err != nil {
			return nil, err
		}
		return nil, h.RemoveForward(id)
	})
}

// forwards() -> [info]: a snapshot with live counters (never blocks).
func (c *client) jsForwards(this js.Value, args []js.Value) any {
	c.mu.Lock()
	h := c.host
	c.mu.Unlock()
	if h == nil {
		return toJS([]ForwardInfo{})
	}
	return toJS(h.Forwards())
}

// disconnect() closes the host connection and the tube.
func (c *client) jsDisconnect(this js.Value, args []js.Value) any {
	c.mu.Lock()
	h, gw := c.host, c.gw
	c.host, c.gw = nil, nil
	c.mu.Unlock()
	go func() {
		if h != nil {
			h.Close()
		}
		if gw != nil {
			gw.Close()
		}
	}()
	return nil
}
