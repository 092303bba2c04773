// Package cluster joins gateways into one through Redis: the connection to
// Redis and its health, the key layout every shared store uses, the node's
// identity, and the cluster secret that authenticates node-to-node streams.
//
// The shared stores themselves live beside their single-node versions
// (users, share links, sessions, throttle, host keys); the endpoint
// directory and the node-to-node link build on this package. A gateway
// without --cluster never imports Redis state and runs as before.
package cluster
