package forward

import "testing"

// TestAddressOf: the key of each way to write a tcpip-forward's bind
// address, as the registry, share links and the page name the endpoint.
func TestAddressOf(t *testing.T) {
	for _, c := range []struct {
		bind string
		want string
	}{
		{"MyHost", "myhost:22"},
		{"localhost", "127.0.0.1:22"},
		{"LOCALHOST", "127.0.0.1:22"},
		{"127.0.0.1", "127.0.0.1:22"},
		{"::ffff:127.0.0.1", "127.0.0.1:22"},
		{"::1", "127.0.0.1:22"},
		{"", "[::]:22"},
		{"*", "[::]:22"},
		{"0.0.0.0", "0.0.0.0:22"},
	} {
		if got := AddressOf(c.bind, 22).String(); got != c.want {
			t.Errorf("AddressOf(%q, 22) = %q, want %q", c.bind, got, c.want)
		}
	}
}

// TestParseAddress: what a person types names the endpoint the registry
// keys by the same address.
func TestParseAddress(t *testing.T) {
	for in, want := range map[string]string{
		"myapp:80":        "myapp:80",
		"MyApp.Lan:8080":  "myapp.lan:8080",
		"41234":           "127.0.0.1:41234",
		":41234":          "127.0.0.1:41234",
		"localhost:41234": "127.0.0.1:41234",
		"127.0.0.1:41234": "127.0.0.1:41234",
		// One loopback port, both families: [::1] is the same endpoint.
		"[::1]:8080":   "127.0.0.1:8080",
		"0.0.0.0:8080": "0.0.0.0:8080",
		// All interfaces: the key the registry gives ssh -R *:8080 (it was
		// 0.0.0.0:8080, which no published endpoint ever had).
		"*:8080": "[::]:8080",
	} {
		a, err := ParseAddress(in)
		if err != nil || a.String() != want {
			t.Errorf("ParseAddress(%q) = %q, %v; want %q", in, a, err, want)
		}
	}
	// A link names an endpoint by the registry's own key for it.
	for _, bind := range []string{"*", "localhost", "127.0.0.1", "::1", "myapp"} {
		a, err := ParseAddress(JoinHostPort(bind, 8080))
		if want := AddressOf(bind, 8080); err != nil || a != want {
			t.Errorf("ParseAddress(%s:8080) = %q, %v; the registry's key is %q", bind, a, err, want)
		}
	}
	for _, in := range []string{"myapp", "myapp:0", "myapp:70000", "bad name:80", "-x:80", "1.2.3:80x"} {
		if a, err := ParseAddress(in); err == nil {
			t.Errorf("ParseAddress(%q) = %q, want an error", in, a)
		}
	}
}

// TestAddressStringIsStable: share links store an endpoint's address as
// text in links.db, so String must keep writing exactly the keys that were
// stored before Address existed (EndpointKey's), and reading each stored
// key back must name the same endpoint and write the same text.
func TestAddressStringIsStable(t *testing.T) {
	stored := map[string]Address{ // key as stored -> the endpoint it names
		"myapp:80":            AddressOf("MyApp", 80),
		"web.dev.alice:8080":  AddressOf("web.dev.alice", 8080),
		"127.0.0.1:41234":     AddressOf("localhost", 41234),
		"[::]:8080":           AddressOf("*", 8080),
		"0.0.0.0:2222":        AddressOf("0.0.0.0", 2222),
		"192.0.2.7:2222":      AddressOf("192.0.2.7", 2222),
		"[2001:db8::7]:2222":  AddressOf("2001:db8::7", 2222),
		"[2001:db8::7]:65535": AddressOf("2001:DB8::7", 65535),
	}
	for key, want := range stored {
		if got := want.String(); got != key {
			t.Errorf("String of %#v = %q, want the stored key %q", want, got, key)
		}
		a, err := ParseAddress(key)
		if err != nil || a != want || a.String() != key {
			t.Errorf("ParseAddress(%q) = %#v, %v; want %#v writing %q", key, a, err, want, key)
		}
	}
	if (Address{}).String() != "" {
		t.Errorf("zero Address = %q, want \"\"", Address{}.String())
	}
}
