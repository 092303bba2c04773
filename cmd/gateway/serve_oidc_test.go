package main

import (
	"strings"
	"testing"

	"github.com/tubegate/tubegate/internal/oidclogin"
)

func TestCheckOIDC(t *testing.T) {
	on := oidcServeOptions{issuer: "https://idp.example.com", clientID: "tubegate", userClaim: oidclogin.DefaultUserClaim, passwordLogin: true}
	for name, c := range map[string]struct {
		edit func(o *oidcServeOptions)
		want string // "" for no error
	}{
		"off": {func(o *oidcServeOptions) {
			*o = oidcServeOptions{userClaim: oidclogin.DefaultUserClaim, passwordLogin: true}
		}, ""},
		"on":                       {func(o *oidcServeOptions) {}, ""},
		"on, password login off":   {func(o *oidcServeOptions) { o.passwordLogin = false }, ""},
		"password login off only":  {func(o *oidcServeOptions) { o.issuer, o.clientID, o.passwordLogin = "", "", false }, "--password-login=false needs --oidc-issuer"},
		"client id without issuer": {func(o *oidcServeOptions) { o.issuer = "" }, "need --oidc-issuer"},
		"no client id":             {func(o *oidcServeOptions) { o.clientID = "" }, "--oidc-client-id"},
		"plain http":               {func(o *oidcServeOptions) { o.issuer = "http://idp.example.com" }, "want https"},
		"no claim":                 {func(o *oidcServeOptions) { o.userClaim = "" }, "--oidc-user-claim"},
	} {
		o := on
		c.edit(&o)
		err := checkOIDC(o)
		if (err == nil) != (c.want == "") || (err != nil && !strings.Contains(err.Error(), c.want)) {
			t.Errorf("%s: %v, want %q", name, err, c.want)
		}
	}
}

func TestOIDCFlagsFromEnv(t *testing.T) {
	t.Setenv("GATEWAY_PASSWORD_LOGIN", "false")
	if _, err := run(t, "", "serve", "--data", t.TempDir()); err == nil || !strings.Contains(err.Error(), "--password-login=false needs --oidc-issuer") {
		t.Fatalf("GATEWAY_PASSWORD_LOGIN=false alone: %v", err)
	}
	t.Setenv("GATEWAY_OIDC_ISSUER", "http://idp.example.com")
	t.Setenv("GATEWAY_OIDC_CLIENT_ID", "tubegate")
	if _, err := run(t, "", "serve", "--data", t.TempDir()); err == nil || !strings.Contains(err.Error(), `--oidc-issuer "http://idp.example.com": want https`) {
		t.Fatalf("GATEWAY_OIDC_ISSUER over plain http: %v", err)
	}
}

func TestUserAddSSO(t *testing.T) {
	t.Setenv("GATEWAY_DATA", t.TempDir())
	if _, err := run(t, "", "user", "add", "carol"); err == nil || !strings.Contains(err.Error(), "--sso") {
		t.Fatalf("user add without credentials: %v", err)
	}
	if out, err := run(t, "", "user", "add", "carol", "--sso"); err != nil {
		t.Fatalf("user add --sso: %v\n%s", err, out)
	}
	if out, _ := run(t, "", "user", "list"); !strings.Contains(out, "carol") {
		t.Fatalf("carol not listed:\n%s", out)
	}
}
