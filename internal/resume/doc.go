// Package resume carries one SSH byte stream over a sequence of message
// transports (WebSockets), so that the stream survives a transport that
// drops: each side numbers the bytes it sends, acknowledges what it has
// received, keeps what the peer has not acknowledged (up to a bound) and,
// when a new transport joins the stream with a single-use token, resends
// from the offset the peer reports. docs/resume.md is the protocol.
//
// The package knows nothing of WebSockets or of the operating system, so
// that the same client compiles for GOOS=js GOARCH=wasm: it works over a
// Transport, which package bridge makes from a WebSocket. The bytes it
// carries are SSH's ciphertext; it never sees plaintext.
//
// Dial returns the client's resuming net.Conn; Server accepts new streams
// and resumes of existing ones on the gateway.
package resume
