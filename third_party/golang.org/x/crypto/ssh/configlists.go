// Copyright 2026 The Tubegate Authors. Patch to golang.org/x/crypto/ssh;
// see third_party/patches/x-crypto-0021-per-connection-configuration-trimmed.patch.

package ssh

import (
	"slices"
	"sync"
)

// Upstream's SetDefaults built new algorithm lists for every connection
// (NewServerConn and NewClientConn call it on their copy of the
// configuration), and a connection's handshake kept its whole copy of the
// ServerConfig or ClientConfig, authentication callbacks and methods and
// all, for the connection's life: about 0.8 KiB a connection on a gateway
// that holds thousands of idle ones. SetDefaults now shares the default
// lists, computed once, and a list of the caller's it leaves unchanged (so
// a caller must not change its lists in place while connections use them);
// a handshake keeps only the Config, and takes what else it needs (host
// keys, host key callbacks) into fields of its own, as it did.

// algorithmLists are the lists SetDefaults sets.
type algorithmLists struct {
	ciphers, kexs, macs []string
}

// defaultLists are SetDefaults' lists for a Config that names none,
// computed once (kex.go's init may drop defaults first) and clipped, so
// an append to one copies it.
var defaultLists = sync.OnceValue(func() algorithmLists {
	return algorithmLists{
		ciphers: slices.Clip(implementedCiphers(defaultCiphers)),
		kexs:    slices.Clip(implementedKexs(defaultKexAlgos)),
		macs:    slices.Clip(implementedMACs(defaultMACs)),
	}
})

// supportedOnly returns list without the names ok rejects: list itself,
// clipped, where it rejects none, else a new list (nil if none is left).
func supportedOnly(list []string, ok func(string) bool) []string {
	for i, s := range list {
		if !ok(s) {
			var out []string
			out = append(out, list[:i]...)
			for _, s := range list[i+1:] {
				if ok(s) {
					out = append(out, s)
				}
			}
			return out
		}
	}
	return slices.Clip(list)
}

func implementedCiphers(list []string) []string {
	return supportedOnly(list, func(c string) bool { return cipherModes[c] != nil })
}

func implementedMACs(list []string) []string {
	return supportedOnly(list, func(m string) bool { return macModes[m] != nil })
}

// implementedKexs returns the key exchanges of list that are implemented,
// with curve25519-sha256@libssh.org after curve25519-sha256 where list
// names the one and not the other.
func implementedKexs(list []string) []string {
	if !slices.Contains(list, KeyExchangeCurve25519) || slices.Contains(list, keyExchangeCurve25519LibSSH) {
		return supportedOnly(list, func(k string) bool { return kexAlgoMap[k] != nil })
	}
	var kexs []string
	for _, k := range list {
		if kexAlgoMap[k] != nil {
			// Ignore the KEX if we have no kexAlgoMap definition.
			kexs = append(kexs, k)
			if k == KeyExchangeCurve25519 {
				kexs = append(kexs, keyExchangeCurve25519LibSSH)
			}
		}
	}
	return kexs
}
