// Command sftp is the page's SFTP client, a second Wasm module (GOOS=js
// GOARCH=wasm) that the file panel loads on first use, so that the main
// module, which every page load fetches, stays small. It runs
// github.com/pkg/sftp over the two byte streams of an "sftp" subsystem
// channel that the main module opens on the console's host connection
// (end to end with the host's sshd: the gateway relays ciphertext) and
// hands over through JavaScript.
//
// The file operations live in files.go, without build tags, so that they
// are vetted and tested natively; only the JavaScript glue (js_*.go)
// needs js/wasm.
package main
