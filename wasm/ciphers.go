package main

// ciphers is the browser client's cipher preference, for its tube to the
// gateway and for its connections to hosts alike (in SSH the client's
// order decides). ChaCha20-Poly1305 comes first: WebAssembly has no AES
// instructions, so AES-GCM runs in software there, several times slower
// than ChaCha20. (Natively the order is the other way round, and the
// gateway's own preference puts AES-GCM first.)
func ciphers() []string {
	return []string{
		"chacha20-poly1305@openssh.com",
		"aes128-gcm@openssh.com", "aes256-gcm@openssh.com",
		"aes128-ctr", "aes192-ctr", "aes256-ctr",
	}
}
