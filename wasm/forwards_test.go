package main

import (
	"testing"

	"github.com/tubegate/tubegate/internal/gwclient"
)

// TestForwardAgainPinsAllocatedPort: a -L 0 or -R 0 forward is asked for
// again with the port its listener got; a fixed port or a name stays.
func TestForwardAgainPinsAllocatedPort(t *testing.T) {
	for _, tc := range []struct {
		spec string
		port int
		want string
	}{
		{"-L 0:localhost:80", 41234, "-L localhost:41234:localhost:80"},
		{"-L 127.0.0.1:0:web:8080", 40000, "-L 127.0.0.1:40000:web:8080"},
		{"-R 0:localhost:22", 35555, "-R localhost:35555:localhost:22"},
		{"-L 8000:localhost:80", 8000, "-L localhost:8000:localhost:80"},
		{"-L web.alice:80:localhost:3000", 80, "-L web.alice:80:localhost:3000"},
		{"-L 0:localhost:80", 0, "-L localhost:0:localhost:80"}, // not listening yet
	} {
		sp, err := gwclient.ParseSpec(tc.spec)
		if err != nil {
			t.Fatal(err)
		}
		f := &Forward{ID: "f1", Spec: sp, port: tc.port}
		if got := f.Info().Again; got != tc.want {
			t.Errorf("%s on port %d: again = %q, want %q", tc.spec, tc.port, got, tc.want)
		}
	}
}
