// Package bridge carries an SSH byte stream over a WebSocket: each binary
// message holds a run of the stream, and nothing else. It turns a WebSocket
// into a net.Conn on the server (Accept), in native clients (Dial) and in
// the browser (DialResume, built for js/wasm over the browser's own
// WebSocket, so that the page's Wasm module links neither
// github.com/coder/websocket nor net/http), so that the SSH code above it
// is the same everywhere. The gateway's side uses github.com/coder/websocket;
// native clients use a client of the package's own (leanclient.go), which
// writes each message as one whole masked frame and can splice payloads
// to a pipe, except through a SOCKS proxy, where net/http dials and
// coder/websocket's client is used.
package bridge

// ReadLimit is the largest WebSocket message accepted. SSH packets are at
// most 256 KiB; a peer that sends more is not speaking this protocol.
const ReadLimit = 1 << 20
