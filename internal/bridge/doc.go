// Package bridge carries an SSH byte stream over a WebSocket: each binary
// message holds a run of the stream, and nothing else. It turns a WebSocket
// into a net.Conn on the server (Accept), in native clients (Dial) and in
// the browser (DialResume, built for js/wasm over the browser's own
// WebSocket, so that the page's Wasm module links neither
// github.com/coder/websocket nor net/http), so that the SSH code above it
// is the same everywhere.
package bridge

// ReadLimit is the largest WebSocket message accepted. SSH packets are at
// most 256 KiB; a peer that sends more is not speaking this protocol.
const ReadLimit = 1 << 20
