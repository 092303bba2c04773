package gwclient

import "testing"

func TestParseSpec(t *testing.T) {
	good := map[string]Spec{
		"-L 8080:localhost:80":        {'L', "localhost", 8080, "localhost", 80},
		"-L0:127.0.0.1:8000":          {'L', "localhost", 0, "127.0.0.1", 8000},
		"-L web:80:10.0.0.5:8080":     {'L', "web", 80, "10.0.0.5", 8080},
		"-L *:8080:h:80":              {'L', "*", 8080, "h", 80},
		"-R 2222:[::1]:22":            {'R', "localhost", 2222, "::1", 22},
		"-R 127.0.0.1:0:db.lan:5432":  {'R', "127.0.0.1", 0, "db.lan", 5432},
		" -R [::1]:9000:Example:443 ": {'R', "::1", 9000, "example", 443},
		"-R MyHost:22:localhost:22":   {'R', "myhost", 22, "localhost", 22},
		"-D 1080":                     {'D', "localhost", 1080, "", 0},
		"-D 0.0.0.0:1080":             {'D', "0.0.0.0", 1080, "", 0},
		"-D [::1]:1080":               {'D', "::1", 1080, "", 0},
		"-W db.lan:5432":              {'W', "", 0, "db.lan", 5432},
		"-W [::1]:22":                 {'W', "", 0, "::1", 22},
		"-W myhost.alice:22":          {'W', "", 0, "myhost.alice", 22},
	}
	for in, want := range good {
		got, err := ParseSpec(in)
		if err != nil || got != want {
			t.Errorf("ParseSpec(%q) = %+v, %v; want %+v", in, got, err, want)
		}
		if err == nil {
			again, err := ParseSpec(got.String())
			if err != nil || again != got {
				t.Errorf("ParseSpec(%q) (String of %q) = %+v, %v", got.String(), in, again, err)
			}
		}
	}
	for _, in := range []string{"", "8080:localhost:80", "-L 8080", "-L 8080:localhost", "-L x:localhost:80",
		"-L 8080:localhost:0", "-L 8080:*:80", "-R 70000:h:1", "-D", "-D x", "-D *", "-W host", "-W host:0",
		"-W *:22", "-W web@alice:80", "-X 1:h:2", "-L 8080:h:*"} {
		if got, err := ParseSpec(in); err == nil {
			t.Errorf("ParseSpec(%q) = %+v, want an error", in, got)
		}
	}
}
