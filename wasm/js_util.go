//go:build js

package main

import (
	"errors"
	"fmt"
	"reflect"
	"strings"

	"syscall/js"
)

// promise returns a JS Promise settled by fn, which runs in its own
// goroutine: a js.FuncOf callback must never block.
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
	p := js.Global().Get("Promise").New(executor) // the executor runs synchronously
	executor.Release()
	return p
}

// await waits for v, if it is a thenable, from a goroutine (never from a
// callback). A rejection becomes an error with the JS error's message.
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

func arg(args []js.Value, i int) js.Value {
	if i < len(args) {
		return args[i]
	}
	return js.Undefined()
}

// jsError turns a thrown or rejected JS value into an error.
func jsError(v js.Value) error {
	if v.Type() == js.TypeObject && v.Get("message").Type() == js.TypeString {
		return errors.New(v.Get("message").String())
	}
	if v.Type() == js.TypeString {
		return errors.New(v.String())
	}
	return errors.New("refused")
}

// call invokes an optional JS function property of obj from a goroutine
// and awaits its result.
func call(obj js.Value, name string, args ...any) (js.Value, error) {
	fn := obj.Get(name)
	if fn.Type() != js.TypeFunction {
		return js.Undefined(), fmt.Errorf("%s is not a function", name)
	}
	var v js.Value
	var err error
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

// str reads an optional string property.
func str(obj js.Value, name string) string {
	v := obj.Get(name)
	if v.Type() != js.TypeString {
		return ""
	}
	return v.String()
}

// integer reads an optional number property.
func integer(obj js.Value, name string, def int) int {
	v := obj.Get(name)
	if v.Type() != js.TypeNumber {
		return def
	}
	return v.Int()
}

// bytesOf reads a Uint8Array or a string as bytes.
func bytesOf(v js.Value) []byte {
	if v.Type() == js.TypeString {
		return []byte(v.String())
	}
	if v.Type() != js.TypeObject {
		return nil
	}
	b := make([]byte, v.Get("length").Int())
	js.CopyBytesToGo(b, v)
	return b
}

// toJS converts a value for the page as encoding/json would: strings,
// numbers, bools, maps with string keys, slices, and structs by their json
// tags (embedded structs flattened). The common shapes are written out by
// hand and the rest with reflect (which fmt links in anyway), rather than
// through encoding/json, which would add about 45 KB to the brotli'd Wasm
// (README, "On the wire").
func toJS(v any) js.Value {
	switch v := v.(type) {
	case nil:
		return js.Null()
	case string, bool, int, int64, float64:
		return js.ValueOf(v)
	case map[string]string:
		o := js.Global().Get("Object").New()
		for k, x := range v {
			o.Set(k, x)
		}
		return o
	case map[string]any:
		o := js.Global().Get("Object").New()
		for k, x := range v {
			o.Set(k, toJS(x))
		}
		return o
	case []map[string]any:
		a := js.Global().Get("Array").New(len(v))
		for i, x := range v {
			a.SetIndex(i, toJS(x))
		}
		return a
	case []ForwardInfo:
		a := js.Global().Get("Array").New(len(v))
		for i, x := range v {
			a.SetIndex(i, toJS(x))
		}
		return a
	case ForwardInfo:
		return toJS(map[string]any{"id": v.ID, "kind": v.Kind, "spec": v.Spec, "listen": v.Listen,
			"endpoint": v.Endpoint, "target": v.Target, "active": v.Active, "total": v.Total,
			"bytesIn": v.BytesIn, "bytesOut": v.BytesOut, "lastError": v.LastErr, "again": v.Again})
	}
	return toJSValue(reflect.ValueOf(v))
}

// toJSValue converts what toJS does not know by hand.
func toJSValue(v reflect.Value) js.Value {
	switch v.Kind() {
	case reflect.Invalid:
		return js.Null()
	case reflect.Pointer, reflect.Interface:
		if v.IsNil() {
			return js.Null()
		}
		return toJSValue(v.Elem())
	case reflect.String:
		return js.ValueOf(v.String())
	case reflect.Bool:
		return js.ValueOf(v.Bool())
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return js.ValueOf(float64(v.Int()))
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return js.ValueOf(float64(v.Uint()))
	case reflect.Float32, reflect.Float64:
		return js.ValueOf(v.Float())
	case reflect.Slice, reflect.Array:
		a := js.Global().Get("Array").New(v.Len())
		for i := 0; i < v.Len(); i++ {
			a.SetIndex(i, toJSValue(v.Index(i)))
		}
		return a
	case reflect.Map:
		o := js.Global().Get("Object").New()
		for it := v.MapRange(); it.Next(); {
			o.Set(it.Key().String(), toJSValue(it.Value()))
		}
		return o
	case reflect.Struct:
		o := js.Global().Get("Object").New()
		structFields(o, v)
		return o
	}
	panic(fmt.Sprintf("toJS: cannot convert a %s", v.Type()))
}

// structFields sets o's properties from v's fields, as encoding/json names them.
func structFields(o js.Value, v reflect.Value) {
	t := v.Type()
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if f.Anonymous && f.Type.Kind() == reflect.Struct {
			structFields(o, v.Field(i))
			continue
		}
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if !f.IsExported() || name == "-" {
			continue
		}
		if name == "" {
			name = f.Name
		}
		o.Set(name, toJSValue(v.Field(i)))
	}
}
