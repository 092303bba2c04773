// Package gwclient is the client side of a tube: an SSH connection to the
// gateway, as the page's Wasm client and `gateway tunnel` both hold it. It
// opens direct-tcpip channels (to virtual names, published ports and
// permitted destinations), asks the gateway to listen (tcpip-forward, with
// virtual names), hears forward-lost@tubegate, sends keepalives, parses
// OpenSSH's -L/-R/-D/-W specs, and carries connections between a listener
// and a dialer with forward's byte counting.
//
// It builds for GOOS=js GOARCH=wasm as well as natively: only the files
// that listen on this machine's own sockets (local*.go) are native-only.
package gwclient
