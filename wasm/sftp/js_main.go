//go:build js

package main

import (
	"bufio"
	"context"
	"errors"
	"io"
	"runtime"

	"syscall/js"
)

// main publishes globalThis.tubegateSFTP: open(channel) -> Promise<client>
// and memStats(). channel is what the main module's console.openSubsystem
// ("sftp") gives: read() -> Promise<Uint8Array|null>, write(Uint8Array) ->
// Promise, close().
func main() {
	api := js.Global().Get("Object").New()
	api.Set("open", js.FuncOf(func(this js.Value, args []js.Value) any {
		ch := arg(args, 0)
		return promise(func() (any, error) {
			f, err := NewFiles(&chanReader{ch: ch}, &chanWriter{ch: ch})
			if err != nil {
				ch.Call("close")
				return nil, err
			}
			return clientObject(f, ch), nil
		})
	}))
	api.Set("memStats", js.FuncOf(func(this js.Value, args []js.Value) any {
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		o := js.Global().Get("Object").New()
		o.Set("sys", float64(m.Sys))
		o.Set("heapSys", float64(m.HeapSys))
		o.Set("heapAlloc", float64(m.HeapAlloc))
		return o
	}))
	js.Global().Set("tubegateSFTP", api)
	select {}
}

// clientObject is the page's face of a Files session: home(), list(dir),
// mkdir(path), rename(from, to), remove(path, isDir), download(path,
// {onData, signal}), upload(path, {read, signal}) (each a Promise), and
// close(). Transfers stream: download hands the file to onData(Uint8Array)
// -> Promise chunk by chunk, awaiting each (backpressure); upload pulls
// chunks from read() -> Promise<Uint8Array|null>. An AbortSignal cancels.
func clientObject(f *Files, ch js.Value) js.Value {
	o := js.Global().Get("Object").New()
	fn := func(name string, body func(args []js.Value) (any, error)) {
		o.Set(name, js.FuncOf(func(this js.Value, args []js.Value) any {
			return promise(func() (any, error) { return body(args) })
		}))
	}
	fn("home", func(args []js.Value) (any, error) { return f.Home() })
	fn("list", func(args []js.Value) (any, error) {
		entries, err := f.List(str(arg(args, 0)))
		if err != nil {
			return nil, err
		}
		a := js.Global().Get("Array").New(len(entries))
		for i, e := range entries {
			a.SetIndex(i, map[string]any{"name": e.Name, "path": e.Path, "size": float64(e.Size),
				"mode": e.Mode, "mtime": float64(e.MTime), "dir": e.Dir, "link": e.Link})
		}
		return a, nil
	})
	fn("mkdir", func(args []js.Value) (any, error) { return nil, f.Mkdir(str(arg(args, 0))) })
	fn("rename", func(args []js.Value) (any, error) {
		return nil, f.Rename(str(arg(args, 0)), str(arg(args, 1)))
	})
	fn("remove", func(args []js.Value) (any, error) {
		return nil, f.Remove(str(arg(args, 0)), arg(args, 1).Truthy())
	})
	fn("download", func(args []js.Value) (any, error) {
		opts := arg(args, 1)
		ctx, done := withSignal(opts)
		defer done()
		// Batched into 1 MiB chunks: each call into the page is a round trip
		// through the event loop.
		w := bufio.NewWriterSize(&sinkWriter{opts: opts}, sinkChunk)
		n, err := f.Download(ctx, str(arg(args, 0)), w)
		if err == nil {
			err = w.Flush()
		}
		return float64(n), err
	})
	fn("upload", func(args []js.Value) (any, error) {
		opts := arg(args, 1)
		ctx, done := withSignal(opts)
		defer done()
		n, err := f.Upload(ctx, str(arg(args, 0)), &chanReader{ch: opts})
		return float64(n), err
	})
	o.Set("close", js.FuncOf(func(this js.Value, args []js.Value) any {
		go func() {
			ch.Call("close")
			f.Close()
		}()
		return nil
	}))
	return o
}

// sinkChunk is the size of the chunks a download hands to the page.
const sinkChunk = 1 << 20

// withSignal is a context cancelled when opts.signal (an AbortSignal)
// aborts; done releases the listener.
func withSignal(opts js.Value) (context.Context, func()) {
	ctx, cancel := context.WithCancel(context.Background())
	if opts.Type() != js.TypeObject || opts.Get("signal").Type() != js.TypeObject {
		return ctx, cancel
	}
	sig := opts.Get("signal")
	if sig.Get("aborted").Truthy() {
		cancel()
		return ctx, cancel
	}
	onAbort := js.FuncOf(func(this js.Value, args []js.Value) any {
		cancel()
		return nil
	})
	sig.Call("addEventListener", "abort", onAbort)
	return ctx, func() {
		sig.Call("removeEventListener", "abort", onAbort)
		onAbort.Release()
		cancel()
	}
}

// chanReader reads what obj.read() yields: Uint8Array chunks, then null.
type chanReader struct {
	ch   js.Value
	rest []byte
	eof  bool
}

func (r *chanReader) Read(p []byte) (int, error) {
	for len(r.rest) == 0 {
		if r.eof {
			return 0, io.EOF
		}
		v, err := call(r.ch, "read")
		if err != nil {
			return 0, err
		}
		if v.IsNull() || v.IsUndefined() {
			r.eof = true
			continue
		}
		if v.Type() != js.TypeObject || v.Get("length").Type() != js.TypeNumber {
			return 0, errors.New("read() gave something other than a Uint8Array")
		}
		b := make([]byte, v.Get("length").Int())
		js.CopyBytesToGo(b, v)
		r.rest = b
	}
	n := copy(p, r.rest)
	r.rest = r.rest[n:]
	return n, nil
}

// chanWriter sends to the subsystem channel, awaiting each write.
type chanWriter struct{ ch js.Value }

func (w *chanWriter) Write(p []byte) (int, error) {
	arr := js.Global().Get("Uint8Array").New(len(p))
	js.CopyBytesToJS(arr, p)
	if _, err := call(w.ch, "write", arr); err != nil {
		return 0, err
	}
	return len(p), nil
}

func (w *chanWriter) Close() error {
	w.ch.Call("close")
	return nil
}

// sinkWriter hands a download to opts.onData chunk by chunk.
type sinkWriter struct{ opts js.Value }

func (w *sinkWriter) Write(p []byte) (int, error) {
	arr := js.Global().Get("Uint8Array").New(len(p))
	js.CopyBytesToJS(arr, p)
	if _, err := call(w.opts, "onData", arr); err != nil {
		return 0, err
	}
	return len(p), nil
}
