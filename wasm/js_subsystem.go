//go:build js

package main

import (
	"errors"
	"io"
	"runtime"

	"syscall/js"
)

// subsystemReadSize is the most one read() hands to the page: several of
// SFTP's packets (32 KiB of data each), as many as have arrived, so that a
// transfer crosses between the Wasm modules in few, large steps.
const subsystemReadSize = 512 << 10

// jsOpenSubsystem is a console's openSubsystem(name) -> Promise<channel>:
// a subsystem ("sftp") on the console's host connection. The channel has
// read() -> Promise<Uint8Array|null> (null at the end), write(Uint8Array)
// -> Promise (resolved once sent: backpressure) and close().
func jsOpenSubsystem(h *Host) js.Func {
	return js.FuncOf(func(this js.Value, args []js.Value) any {
		name := arg(args, 0)
		return promise(func() (any, error) {
			if name.Type() != js.TypeString || name.String() == "" {
				return nil, errors.New("openSubsystem: name a subsystem")
			}
			select {
			case <-h.Done():
				return nil, errors.New("the console's host connection has ended: " + h.Reason())
			default:
			}
			s, err := h.OpenSubsystem(name.String())
			if err != nil {
				return nil, err
			}
			return subsystemObject(s), nil
		})
	})
}

func subsystemObject(s *Subsystem) js.Value {
	o := js.Global().Get("Object").New()
	o.Set("read", js.FuncOf(func(this js.Value, args []js.Value) any {
		return promise(func() (any, error) {
			buf := make([]byte, subsystemReadSize)
			n, err := s.Read(buf)
			if n > 0 {
				arr := js.Global().Get("Uint8Array").New(n)
				js.CopyBytesToJS(arr, buf[:n])
				return arr, nil
			}
			if err == io.EOF {
				return js.Null(), nil
			}
			if err == nil {
				return js.Global().Get("Uint8Array").New(0), nil
			}
			return nil, err
		})
	}))
	o.Set("write", js.FuncOf(func(this js.Value, args []js.Value) any {
		p := bytesOf(arg(args, 0))
		return promise(func() (any, error) {
			_, err := s.Write(p)
			return nil, err
		})
	}))
	o.Set("close", js.FuncOf(func(this js.Value, args []js.Value) any {
		go s.Close()
		return nil
	}))
	return o
}

// jsMemStats is memStats() -> {sys, heapSys, heapAlloc}: the Go runtime's
// memory in bytes (sys is what it took from the Wasm linear memory).
func jsMemStats(this js.Value, args []js.Value) any {
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	o := js.Global().Get("Object").New()
	o.Set("sys", float64(m.Sys))
	o.Set("heapSys", float64(m.HeapSys))
	o.Set("heapAlloc", float64(m.HeapAlloc))
	return o
}
