// Package bridge carries an SSH byte stream over a WebSocket: each binary
// message holds a run of the stream, and nothing else. It turns a WebSocket
// into a net.Conn on the server (Accept), in native clients (Dial) and in
// the browser (DialResume, built for js/wasm over the browser's own
// WebSocket, so that the page's Wasm module links neither
// github.com/coder/websocket nor net/http), so that the SSH code above it
// is the same everywhere. The gateway's end and native clients use a
// WebSocket of the package's own (leanws*.go): the gateway's reads its
// clients' masked frames into the SSH stream and writes each batch as one
// frame in one writev; a client's writes each message as one whole masked
// frame and can splice payloads to a pipe. Only a client through a SOCKS
// proxy, where net/http dials, uses coder/websocket's client.
package bridge

// ReadLimit is the largest WebSocket message a resumable tube's end takes
// (a frame header over it, transportReadLimit), and a raw tube's through
// coder/websocket: SSH packets are at most 256 KiB, so a peer that sends
// more is not speaking this protocol. A lean end reads a raw tube's
// messages as a stream, holding none of them whole.
const ReadLimit = 1 << 20
