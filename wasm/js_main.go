//go:build js

package main

import (
	"context"
	"errors"
	"strconv"
	"sync"
	"sync/atomic"
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

	mu    sync.Mutex // guards the fields below; never held while blocking
	gw    *Gateway
	hosts map[string]*Host // each console's host connection, which carries its forwards
	order []string         // console ids, oldest first
	next  int              // the last console id given
	ids   atomic.Int64     // forward ids, unique across consoles
}

func main() {
	c := &client{hosts: make(map[string]*Host)}
	api := js.Global().Get("Object").New()
	api.Set("connect", js.FuncOf(c.jsConnect))
	api.Set("openConsole", js.FuncOf(c.jsOpenConsole))
	api.Set("addForward", js.FuncOf(c.jsAddForward))
	api.Set("removeForward", js.FuncOf(c.jsRemoveForward))
	api.Set("forwards", js.FuncOf(c.jsForwards))
	api.Set("disconnect", js.FuncOf(c.jsDisconnect))
	api.Set("memStats", js.FuncOf(jsMemStats))
	api.Set("closeConsole", js.FuncOf(c.jsCloseConsole))
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
// (resolved when written: backpressure), onClose(reason). Each console is
// its own host connection over the one tube: opening one leaves the others
// (and their forwards) alone. The console object's id names it to
// addForward, forwards and closeConsole.
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
		h.IDs = &c.ids
		c.mu.Lock()
		c.next++
		id := "c" + strconv.Itoa(c.next)
		c.hosts[id] = h
		c.order = append(c.order, id)
		c.mu.Unlock()
		go func() {
			reason := con.Wait()
			h.Close()
			call(opts, "onClose", reason)
		}()
		o := consoleObject(con)
		o.Set("id", id)
		return o, nil
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

// hostOf returns console id's host connection; id "" is the newest
// console's (the page's single console of before).
func (c *client) hostOf(id string) (*Host, error) {
	c.mu.Lock()
	if id == "" && len(c.order) > 0 {
		id = c.order[len(c.order)-1]
	}
	h := c.hosts[id]
	c.mu.Unlock()
	if h == nil {
		return nil, errors.New("open a console first: forwards run through its host connection")
	}
	select {
	case <-h.Done():
		return nil, errors.New("the console's host connection has ended: " + h.Reason())
	default:
		return h, nil
	}
}

// addForward(spec, consoleId?) -> Promise<info>.
func (c *client) jsAddForward(this js.Value, args []js.Value) any {
	spec := arg(args, 0).String()
	id := optString(arg(args, 1))
	return promise(func() (any, error) {
		h, err := c.hostOf(id)
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

// removeForward(id) -> Promise: the forward id of whichever console has it.
func (c *client) jsRemoveForward(this js.Value, args []js.Value) any {
	id := arg(args, 0).String()
	return promise(func() (any, error) {
		for _, h := range c.liveHosts() {
			for _, f := range h.host.Forwards() {
				if f.ID == id {
					return nil, h.host.RemoveForward(id)
				}
			}
		}
		return nil, errors.New("no forward " + id)
	})
}

type consoleHost struct {
	id   string
	host *Host
}

// liveHosts lists the consoles' host connections, oldest first.
func (c *client) liveHosts() []consoleHost {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]consoleHost, 0, len(c.order))
	for _, id := range c.order {
		out = append(out, consoleHost{id, c.hosts[id]})
	}
	return out
}

// forwardRow is a forward as forwards() lists it: with its console.
type forwardRow struct {
	ForwardInfo
	Console string `json:"console"`
}

// forwards(consoleId?) -> [info]: a snapshot with live counters, each
// with its console's id, of one console or of all (never blocks).
func (c *client) jsForwards(this js.Value, args []js.Value) any {
	want := optString(arg(args, 0))
	out := []forwardRow{}
	for _, h := range c.liveHosts() {
		if want != "" && h.id != want {
			continue
		}
		for _, f := range h.host.Forwards() {
			out = append(out, forwardRow{f, h.id})
		}
	}
	return toJS(out)
}

// closeConsole(id) ends one console's host connection and its forwards.
func (c *client) jsCloseConsole(this js.Value, args []js.Value) any {
	id := arg(args, 0).String()
	c.mu.Lock()
	h := c.hosts[id]
	delete(c.hosts, id)
	for i, o := range c.order {
		if o == id {
			c.order = append(c.order[:i:i], c.order[i+1:]...)
			break
		}
	}
	c.mu.Unlock()
	if h != nil {
		go h.Close()
	}
	return nil
}

// disconnect() closes every host connection and the tube.
func (c *client) jsDisconnect(this js.Value, args []js.Value) any {
	c.mu.Lock()
	hosts, gw := c.hosts, c.gw
	c.hosts, c.order, c.gw = make(map[string]*Host), nil, nil
	c.mu.Unlock()
	go func() {
		for _, h := range hosts {
			h.Close()
		}
		if gw != nil {
			gw.Close()
		}
	}()
	return nil
}

// optString is v as a string, or "" when it is undefined or null.
func optString(v js.Value) string {
	if v.IsUndefined() || v.IsNull() {
		return ""
	}
	return v.String()
}
