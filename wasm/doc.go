// Command wasm is Tubegate's browser client, built with GOOS=js
// GOARCH=wasm. It is an SSH client to the gateway over the page's /ssh
// WebSocket (the session cookie authorizes it), and, through that tube, an
// SSH client to the hosts behind it: the console is a direct-tcpip channel
// to the target with a second SSH handshake inside, end to end with the
// host's sshd. Forwards from the page work as OpenSSH's -L and -R with the
// gateway listening, and dialing, on the browser's behalf.
//
// The SSH logic lives in files without build tags so that it compiles,
// is vetted and is tested natively; only the JavaScript glue (js_*.go)
// needs js/wasm.
package main
