package oidclogin

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
)

// fakeIssuer is a test double of a provider for the unit tests: discovery,
// keys, a token endpoint that answers one code with the ID token the test
// chose (checking the PKCE verifier against the challenge the test saw),
// and userinfo. The e2e tests sign in through a real provider instead.
type fakeIssuer struct {
	t   *testing.T
	srv *httptest.Server
	key *ecdsa.PrivateKey

	mu        sync.Mutex
	code      string         // the one code the token endpoint redeems
	challenge string         // the PKCE challenge it was issued for
	claims    map[string]any // the ID token's claims, signed when redeemed
	userinfo  map[string]any // userinfo's answer
	spent     bool           // the code was redeemed
	redeemed  int            // codes redeemed in all
}

func newFakeIssuer(t *testing.T) *fakeIssuer {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	f := &fakeIssuer{t: t, key: key}
	mux := http.NewServeMux()
	mux.HandleFunc("/.well-known/openid-configuration", func(w http.ResponseWriter, r *http.Request) {
		u := f.srv.URL
		writeJSON(w, map[string]any{"issuer": u, "authorization_endpoint": u + "/auth", "token_endpoint": u + "/token",
			"userinfo_endpoint": u + "/userinfo", "jwks_uri": u + "/keys", "id_token_signing_alg_values_supported": []string{"ES256"}})
	})
	mux.HandleFunc("/keys", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: &key.PublicKey, KeyID: "k1", Algorithm: "ES256", Use: "sig"}}})
	})
	mux.HandleFunc("/token", f.token)
	mux.HandleFunc("/userinfo", func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		defer f.mu.Unlock()
		if r.Header.Get("Authorization") != "Bearer at-"+f.code {
			http.Error(w, "bad token", http.StatusUnauthorized)
			return
		}
		writeJSON(w, f.userinfo)
	})
	f.srv = httptest.NewServer(mux)
	t.Cleanup(f.srv.Close)
	return f
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}

// issue sets the code the token endpoint redeems, once, for challenge.
func (f *fakeIssuer) issue(code, challenge string, claims, userinfo map[string]any) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.code, f.challenge, f.claims, f.userinfo, f.spent = code, challenge, claims, userinfo, false
}

func (f *fakeIssuer) token(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := r.ParseForm(); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	sum := sha256.Sum256([]byte(r.PostForm.Get("code_verifier")))
	if r.PostForm.Get("code") != f.code || f.spent || base64.RawURLEncoding.EncodeToString(sum[:]) != f.challenge {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusBadRequest)
		_ = json.NewEncoder(w).Encode(map[string]string{"error": "invalid_grant"})
		return
	}
	f.spent = true
	f.redeemed++
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: f.key}, (&jose.SignerOptions{}).WithHeader("kid", "k1"))
	if err != nil {
		f.t.Error(err)
		return
	}
	idt, err := jwt.Signed(signer).Claims(f.claims).Serialize()
	if err != nil {
		f.t.Error(err)
		return
	}
	writeJSON(w, map[string]any{"access_token": "at-" + f.code, "token_type": "Bearer", "expires_in": 60, "id_token": idt})
}

// standardClaims are a valid ID token's claims for client and nonce.
func (f *fakeIssuer) standardClaims(client, nonce string) map[string]any {
	now := time.Now()
	return map[string]any{"iss": f.srv.URL, "aud": client, "sub": "sub-1", "nonce": nonce,
		"iat": now.Unix(), "exp": now.Add(5 * time.Minute).Unix()}
}
