package forward

import (
	"net/netip"
	"testing"
)

// FuzzRules: any string either fails to parse or yields a rule whose
// printed form parses back to the same rule, and matching never panics.
func FuzzRules(f *testing.F) {
	for _, s := range []string{"db:5432", "*:*", "[::1]:22", "10.0.0.0/8:443", "8080", ":22", "a:b:c", "[", "]:1", "*"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if r, err := ParseOpenRule(s); err == nil {
			back, err := ParseOpenRule(r.String())
			if err != nil || back != r {
				t.Fatalf("open rule %q -> %+v -> %q -> %+v, %v", s, r, r.String(), back, err)
			}
			p := Policy{Open: []Rule{r}}
			p.AllowsOpen(s, netip.MustParseAddr("10.1.2.3"), 22)
		}
		if r, err := ParseListenRule(s); err == nil {
			p := Policy{Listen: []Rule{r}}
			for _, bind := range []string{"", "localhost", "127.0.0.1", "::1", "0.0.0.0", s} {
				p.AllowsListen(bind, 80)
				p.AllowsListen(bind, 0)
			}
		}
		if ValidName(s) && !IsVirtualName(s) && s != "localhost" {
			if _, err := netip.ParseAddr(s); err != nil {
				t.Fatalf("%q is a valid name but not a virtual one", s)
			}
		}
	})
}
