//go:build !js

package main

import (
	"fmt"
	"os"
)

// main exists so the package builds natively (for vet and tests); the
// client itself only runs in a browser.
func main() {
	fmt.Fprintln(os.Stderr, "this is Tubegate's browser SFTP module: build it with GOOS=js GOARCH=wasm (make web)")
	os.Exit(2)
}
