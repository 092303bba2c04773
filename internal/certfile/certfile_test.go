package certfile

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func writePair(t *testing.T, dir, cn string, mod time.Time) (string, string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	cp, kp := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	os.WriteFile(cp, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600)
	os.WriteFile(kp, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}), 0o600)
	os.Chtimes(cp, mod, mod)
	os.Chtimes(kp, mod, mod)
	return cp, kp
}

func commonName(t *testing.T, r *Reloader) string {
	t.Helper()
	c, err := r.GetCertificate(nil)
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := x509.ParseCertificate(c.Certificate[0])
	if err != nil {
		t.Fatal(err)
	}
	return leaf.Subject.CommonName
}

func TestReloadsChangedPair(t *testing.T) {
	dir := t.TempDir()
	cp, kp := writePair(t, dir, "first", time.Now().Add(-time.Hour))
	r, err := Load(cp, kp)
	if err != nil {
		t.Fatal(err)
	}
	if cn := commonName(t, r); cn != "first" {
		t.Fatalf("cn %q", cn)
	}
	writePair(t, dir, "second", time.Now())
	r.checked = time.Time{} // skip the stat interval
	if cn := commonName(t, r); cn != "second" {
		t.Errorf("after renewal cn = %q, want second", cn)
	}
	os.WriteFile(kp, []byte("broken"), 0o600)
	os.Chtimes(kp, time.Now().Add(time.Minute), time.Now().Add(time.Minute))
	r.checked = time.Time{}
	if cn := commonName(t, r); cn != "second" {
		t.Errorf("a broken renewal replaced the working certificate: cn = %q", cn)
	}
}

func TestLoadFailsOnMissingFiles(t *testing.T) {
	if _, err := Load("/nonexistent/cert.pem", "/nonexistent/key.pem"); err == nil {
		t.Error("want an error")
	}
}
