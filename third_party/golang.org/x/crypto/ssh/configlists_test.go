// Copyright 2026 The Tubegate Authors. Patch to golang.org/x/crypto/ssh;
// see third_party/patches/x-crypto-0021-per-connection-configuration-trimmed.patch.

package ssh

import (
	"runtime"
	"slices"
	"testing"
	"time"
	"weak"
)

// upstreamLists are upstream's SetDefaults lists for lists: the reference
// the shared and unchanged lists must equal.
func upstreamLists(ciphers, kexs, macs []string) algorithmLists {
	var out algorithmLists
	if len(ciphers) == 0 {
		ciphers = defaultCiphers
	}
	for _, c := range ciphers {
		if cipherModes[c] != nil {
			out.ciphers = append(out.ciphers, c)
		}
	}
	if len(kexs) == 0 {
		kexs = defaultKexAlgos
	}
	for _, k := range kexs {
		if kexAlgoMap[k] != nil {
			out.kexs = append(out.kexs, k)
			if k == KeyExchangeCurve25519 && !slices.Contains(kexs, keyExchangeCurve25519LibSSH) {
				out.kexs = append(out.kexs, keyExchangeCurve25519LibSSH)
			}
		}
	}
	if len(macs) == 0 {
		macs = defaultMACs
	}
	for _, m := range macs {
		if macModes[m] != nil {
			out.macs = append(out.macs, m)
		}
	}
	return out
}

// TestSetDefaultsLists: SetDefaults sets the lists upstream's did, shares
// the defaults and a list it leaves as it is (clipped, so an append
// copies), and allocates nothing for a Config that names no algorithms.
func TestSetDefaultsLists(t *testing.T) {
	supported := []string{CipherAES128GCM, CipherChaCha20Poly1305}
	cases := []struct {
		name                string
		ciphers, kexs, macs []string
		shared              bool // the caller's lists are kept
	}{
		{"defaults", nil, nil, nil, false},
		{"all supported", supported, []string{KeyExchangeCurve25519, keyExchangeCurve25519LibSSH}, []string{HMACSHA256ETM}, true},
		{"one unknown", []string{"no-such-cipher", CipherAES128GCM}, []string{"no-such-kex", KeyExchangeECDHP256}, []string{HMACSHA256, "no-such-mac"}, false},
		{"curve25519 without its alias", supported, []string{KeyExchangeECDHP256, KeyExchangeCurve25519, KeyExchangeDH14SHA256}, nil, false},
		{"none known", []string{"x"}, []string{"y"}, []string{"z"}, false},
	}
	for _, tc := range cases {
		c := Config{Ciphers: tc.ciphers, KeyExchanges: tc.kexs, MACs: tc.macs}
		c.SetDefaults()
		want := upstreamLists(tc.ciphers, tc.kexs, tc.macs)
		if !slices.Equal(c.Ciphers, want.ciphers) || !slices.Equal(c.KeyExchanges, want.kexs) || !slices.Equal(c.MACs, want.macs) {
			t.Errorf("%s: %v %v %v, want %v %v %v", tc.name, c.Ciphers, c.KeyExchanges, c.MACs, want.ciphers, want.kexs, want.macs)
		}
		if tc.shared {
			if &c.Ciphers[0] != &tc.ciphers[0] || &c.KeyExchanges[0] != &tc.kexs[0] || &c.MACs[0] != &tc.macs[0] {
				t.Errorf("%s: lists copied that SetDefaults left unchanged", tc.name)
			}
		}
		for _, l := range [][]string{c.Ciphers, c.KeyExchanges, c.MACs} {
			if cap(l) != len(l) {
				t.Errorf("%s: a list of capacity %d over %d: an append would write into a shared array", tc.name, cap(l), len(l))
			}
		}
	}
	if n := testing.AllocsPerRun(100, func() {
		var c Config
		c.SetDefaults()
	}); n != 0 {
		t.Errorf("SetDefaults on a Config naming no algorithms: %v allocations, want 0", n)
	}
}

// TestServerKeepsNoAuthCallbacks: once a server connection's handshake is
// done, nothing of its ServerConfig but the Config is kept: what the
// authentication callbacks hold can be collected while the connection
// lives.
func TestServerKeepsNoAuthCallbacks(t *testing.T) {
	type held struct{ _ [64]byte }
	var w weak.Pointer[held]
	conf := func() *ServerConfig {
		h := &held{}
		w = weak.Make(h)
		return &ServerConfig{
			PasswordCallback: func(ConnMetadata, []byte) (*Permissions, error) {
				runtime.KeepAlive(h)
				return nil, nil
			},
		}
	}()
	sc, _, _, client := testServerPair(t, conf, &ClientConfig{User: "u", Auth: []AuthMethod{Password("p")}})
	conf = nil
	defer client.Close()
	defer sc.Close()
	if _, _, err := client.SendRequest("ping", false, nil); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for w.Value() != nil {
		if time.Now().After(deadline) {
			t.Fatal("the password callback's closure is still held by the connection")
		}
		runtime.GC()
		time.Sleep(10 * time.Millisecond)
	}
	runtime.KeepAlive(sc)
}
