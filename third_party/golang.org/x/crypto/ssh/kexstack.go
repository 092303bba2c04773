// Copyright 2026 The Tubegate Authors. Patch to golang.org/x/crypto/ssh;
// see third_party/patches/x-crypto-0005-key-exchange-on-its-own-stack.patch.

package ssh

// enterKeyExchangeOnOwnStack runs a key exchange on a goroutine of its
// own and waits for it. The exchange (key agreement, host key signature,
// hashing) grows a stack to several KiB, which kexLoop, waiting for the
// next exchange for the rest of the connection's life, would otherwise
// keep.
func (t *handshakeTransport) enterKeyExchangeOnOwnStack(otherInit []byte) error {
	done := make(chan error, 1)
	go func() { done <- t.enterKeyExchange(otherInit) }()
	return <-done
}
