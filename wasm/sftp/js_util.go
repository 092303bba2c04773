//go:build js

package main

import (
	"errors"
	"fmt"

	"syscall/js"
)

// The few helpers of the main module's js_util.go this module needs (a
// second Wasm module is its own program: it cannot import package main).

// promise returns a JS Promise settled by fn in its own goroutine: a
// js.FuncOf callback must never block.
func promise(fn func() (any, error)) js.Value {
	executor := js.FuncOf(func(this js.Value, args []js.Value) any {
		resolve, reject := args[0], args[1]
		go func() {
			var v any
			var err error
			func() {
				defer func() {
					if r := recover(); r != nil {
						err = fmt.Errorf("internal error: %v", r)
					}
				}()
				v, err = fn()
			}()
			if err != nil {
				reject.Invoke(js.Global().Get("Error").New(err.Error()))
				return
			}
			resolve.Invoke(v)
		}()
		return nil
	})
	p := js.Global().Get("Promise").New(executor)
	executor.Release()
	return p
}

// await waits for v, if it is a thenable, from a goroutine.
func await(v js.Value) (js.Value, error) {
	if v.Type() != js.TypeObject || v.Get("then").Type() != js.TypeFunction {
		return v, nil
	}
	type result struct {
		v   js.Value
		err error
	}
	ch := make(chan result, 1)
	onOK := js.FuncOf(func(this js.Value, args []js.Value) any {
		ch <- result{v: arg(args, 0)}
		return nil
	})
	onErr := js.FuncOf(func(this js.Value, args []js.Value) any {
		ch <- result{err: jsError(arg(args, 0))}
		return nil
	})
	v.Call("then", onOK, onErr)
	r := <-ch
	onOK.Release()
	onErr.Release()
	return r.v, r.err
}

// call invokes the function property name of obj and awaits its result.
func call(obj js.Value, name string, args ...any) (v js.Value, err error) {
	if obj.Type() != js.TypeObject || obj.Get(name).Type() != js.TypeFunction {
		return js.Undefined(), fmt.Errorf("%s is not a function", name)
	}
	func() {
		defer func() {
			if r := recover(); r != nil {
				err = fmt.Errorf("%s threw: %v", name, r)
			}
		}()
		v = obj.Call(name, args...)
	}()
	if err != nil {
		return js.Undefined(), err
	}
	return await(v)
}

func arg(args []js.Value, i int) js.Value {
	if i < len(args) {
		return args[i]
	}
	return js.Undefined()
}

func jsError(v js.Value) error {
	if v.Type() == js.TypeObject && v.Get("message").Type() == js.TypeString {
		return errors.New(v.Get("message").String())
	}
	if v.Type() == js.TypeString {
		return errors.New(v.String())
	}
	return errors.New("refused")
}

// str reads a string argument ("" if it is not one).
func str(v js.Value) string {
	if v.Type() != js.TypeString {
		return ""
	}
	return v.String()
}
