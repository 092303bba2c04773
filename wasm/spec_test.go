package main

import "testing"

func TestParseSpec(t *testing.T) {
	good := map[string]Spec{
		"-L 8080:localhost:80":        {'L', "localhost", 8080, "localhost", 80},
		"-L0:127.0.0.1:8000":          {'L', "localhost", 0, "127.0.0.1", 8000},
		"-L web:80:10.0.0.5:8080":     {'L', "web", 80, "10.0.0.5", 8080},
		"-R 2222:[::1]:22":            {'R', "localhost", 2222, "::1", 22},
		"-R 127.0.0.1:0:db.lan:5432":  {'R', "127.0.0.1", 0, "db.lan", 5432},
		" -R [::1]:9000:Example:443 ": {'R', "::1", 9000, "example", 443},
	}
	for in, want := range good {
		got, err := ParseSpec(in)
		if err != nil || got != want {
			t.Errorf("ParseSpec(%q) = %+v, %v; want %+v", in, got, err, want)
		}
	}
	for _, in := range []string{"", "8080:localhost:80", "-L 8080", "-L 8080:localhost", "-L x:localhost:80",
		"-L 8080:localhost:0", "-L 8080:*:80", "-L *:8080:h:80", "-R 70000:h:1", "-D 1080"} {
		if got, err := ParseSpec(in); err == nil {
			t.Errorf("ParseSpec(%q) = %+v, want an error", in, got)
		}
	}
}
