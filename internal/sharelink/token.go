package sharelink

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base32"
	"encoding/hex"
	"fmt"
	"regexp"
	"strings"
)

// tokenBytes is the token's entropy: 160 bits, above the 128 the design
// asks for, and exactly 32 base32 characters, so a token also fits in one
// DNS label for host-name links.
const tokenBytes = 20

var (
	tokenEncoding = base32.StdEncoding.WithPadding(base32.NoPadding)
	tokenSyntax   = regexp.MustCompile(`^[a-z2-7]{32}$`)
)

// NewToken returns a fresh secret token (lower-case base32, safe in a URL
// path and as a host-name label) and the hash under which it is stored.
func NewToken() (token, hash string, err error) {
	b := make([]byte, tokenBytes)
	if _, err := rand.Read(b); err != nil {
		return "", "", fmt.Errorf("share link token: %w", err)
	}
	token = strings.ToLower(tokenEncoding.EncodeToString(b))
	return token, HashToken(token), nil
}

// ValidTokenSyntax reports whether s looks like a token at all; anything
// else is refused before it is hashed or looked up.
func ValidTokenSyntax(s string) bool { return tokenSyntax.MatchString(s) }

// HashToken is what the store keeps instead of the token: hex SHA-256. A
// token has 160 random bits, so a fast hash is enough; a stolen links file
// does not give working links.
func HashToken(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

// hashesEqual compares two token hashes in constant time.
func hashesEqual(a, b string) bool {
	return subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1
}

// newID returns a short random link identifier. It is not a secret: it
// names the link in lists and in revoke commands.
func newID() (string, error) {
	b := make([]byte, 6)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("share link id: %w", err)
	}
	return hex.EncodeToString(b), nil
}
