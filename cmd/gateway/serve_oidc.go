package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"

	"github.com/spf13/pflag"

	"github.com/tubegate/tubegate/internal/oidclogin"
	"github.com/tubegate/tubegate/internal/users"
	"github.com/tubegate/tubegate/internal/webauth"
)

// oidcServeOptions are serve's flags for single sign-on and for the
// page's password login.
type oidcServeOptions struct {
	issuer, clientID, secretFile, userClaim string
	autoCreate                              bool
	passwordLogin                           bool
}

func oidcServeFlags(f *pflag.FlagSet, o *oidcServeOptions) {
	f.StringVar(&o.issuer, "oidc-issuer", "", "single sign-on: the OpenID Connect provider's issuer URL (https; http only to loopback); the page offers \"Sign in with\" it (default off)")
	f.StringVar(&o.clientID, "oidc-client-id", "", "the gateway's client id at the OpenID Connect provider")
	f.StringVar(&o.secretFile, "oidc-client-secret-file", "", "file holding the gateway's client secret at the provider (none: a public client, PKCE only)")
	f.StringVar(&o.userClaim, "oidc-user-claim", oidclogin.DefaultUserClaim, "the ID token (or userinfo) claim whose value is the gateway user name")
	f.BoolVar(&o.autoCreate, "oidc-auto-create", false, "a person who signs in as a user the gateway does not have gets one, with an empty policy (default: refused)")
	f.BoolVar(&o.passwordLogin, "password-login", true, "let people log in to the page with a password (false: single sign-on only; SSH is not affected)")
}

// checkOIDC checks the flags that go together.
func checkOIDC(o oidcServeOptions) error {
	if o.issuer == "" {
		if o.clientID != "" || o.secretFile != "" || o.autoCreate || o.userClaim != oidclogin.DefaultUserClaim {
			return errors.New("--oidc-client-id, --oidc-client-secret-file, --oidc-user-claim and --oidc-auto-create need --oidc-issuer")
		}
		if !o.passwordLogin {
			return errors.New("--password-login=false needs --oidc-issuer: otherwise nobody could log in to the page")
		}
		return nil
	}
	if err := oidclogin.CheckIssuer(o.issuer); err != nil {
		return err
	}
	if o.clientID == "" {
		return errors.New("--oidc-issuer needs --oidc-client-id")
	}
	if o.userClaim == "" {
		return errors.New("--oidc-user-claim must name a claim")
	}
	return nil
}

// loginMethods is what the page offers besides the password form.
func (o oidcServeOptions) loginMethods() []webauth.LoginMethod {
	if o.issuer == "" {
		return nil
	}
	return []webauth.LoginMethod{{Name: oidclogin.NameOf(o.issuer), URL: oidclogin.LoginPath}}
}

// newOIDC makes the sign-in handler (nil without --oidc-issuer) for the
// gateway at publicURL and starts fetching the provider's discovery
// document, logging how that went.
func newOIDC(ctx context.Context, o oidcServeOptions, publicURL string, store *users.Store, auth *webauth.Manager, log *slog.Logger) (*oidclogin.Handler, error) {
	if o.issuer == "" {
		return nil, nil
	}
	var secret string
	if o.secretFile != "" {
		data, err := os.ReadFile(o.secretFile)
		if err != nil {
			return nil, fmt.Errorf("--oidc-client-secret-file: %w", err)
		}
		if secret = strings.TrimSpace(string(data)); secret == "" {
			return nil, fmt.Errorf("--oidc-client-secret-file %s is empty", o.secretFile)
		}
	}
	h, err := oidclogin.New(oidclogin.Config{
		Issuer: o.issuer, ClientID: o.clientID, ClientSecret: secret, PublicURL: publicURL,
		UserClaim: o.userClaim, AutoCreate: o.autoCreate, Users: store, Sessions: auth, Log: log,
	})
	if err != nil {
		return nil, err
	}
	log.Info("single sign-on", "issuer", o.issuer, "redirect_url", h.RedirectURL(), "user_claim", o.userClaim,
		"auto_create", o.autoCreate, "password_login", o.passwordLogin)
	go func() {
		if err := h.Discover(ctx); err != nil {
			log.Warn("single sign-on: the provider is not reachable yet; sign-ins will try again", "err", err)
			return
		}
		log.Info("single sign-on: provider discovered", "issuer", o.issuer)
	}()
	return h, nil
}
