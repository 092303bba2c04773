package e2e

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestTLS serves HTTPS/wss:// with a certificate for 127.0.0.1 signed by a CA made in the test:
// the seed recipe works over wss:// with `gateway connect URL --ca ca.pem`, and without --ca
// `gateway connect` exits non-zero with a one-line reason that mentions the certificate.
func TestTLS(t *testing.T) {
	dir := t.TempDir()
	ca, cert, key := makeTLSFiles(t, dir)
	w := newWorld(t, gatewayOpts{tlsCert: cert, tlsKey: key, caFile: ca})
	w.addUser(t, "alice")

	t.Run("healthz over https", func(t *testing.T) { w.gw.requireHealthy(t) })
	t.Run("seed recipe over wss", func(t *testing.T) {
		port := freePort(t)
		w.remoteForward(t, fmt.Sprintf("%d:localhost:%d", port, w.target.port), "alice.ws")
		waitDial(t, fmt.Sprintf("localhost:%d", port), startTimeout)
		w.requireTargetVia(t, port)
	})
	t.Run("untrusted certificate", func(t *testing.T) {
		// stdin stays open, so only the failed TLS handshake can end the command.
		r, wr, err := os.Pipe()
		if err != nil {
			t.Fatalf("pipe: %v", err)
		}
		defer wr.Close()
		res := runProgramStdin(t, cmdTimeout, r, nil, w.gw.bin, "connect", w.gw.wsURL())
		r.Close()
		reason := strings.TrimSpace(res.stderr)
		if res.code <= 0 || strings.Contains(reason, "\n") || !strings.Contains(reason, "certificate") {
			t.Fatalf("gateway connect to an untrusted certificate: want a non-zero exit and one stderr line mentioning the certificate: %s", res)
		}
		t.Logf("refusal: %s", reason)
	})
}

// makeTLSFiles writes a self-signed CA and a server certificate for 127.0.0.1, ::1 and localhost
// signed by it, returning the paths of ca.pem, server.pem and server.key.
func makeTLSFiles(t *testing.T, dir string) (ca, cert, key string) {
	t.Helper()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatalf("CA key: %v", err)
	}
	now := time.Now()
	caTmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "tubegate e2e CA"},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(24 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatalf("CA certificate: %v", err)
	}
	caCert, err := x509.ParseCertificate(caDER)
	if err != nil {
		t.Fatalf("parse CA certificate: %v", err)
	}
	srvKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatalf("server key: %v", err)
	}
	srvTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2),
		Subject:      pkix.Name{CommonName: "127.0.0.1"},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
		DNSNames:     []string{"localhost", proxyGatewayName},
	}
	srvDER, err := x509.CreateCertificate(rand.Reader, srvTmpl, caCert, &srvKey.PublicKey, caKey)
	if err != nil {
		t.Fatalf("server certificate: %v", err)
	}
	srvKeyDER, err := x509.MarshalPKCS8PrivateKey(srvKey)
	if err != nil {
		t.Fatalf("marshal server key: %v", err)
	}
	ca, cert, key = filepath.Join(dir, "ca.pem"), filepath.Join(dir, "server.pem"), filepath.Join(dir, "server.key")
	writeFile(t, ca, string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER})), 0o644)
	writeFile(t, cert, string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srvDER})), 0o644)
	writeFile(t, key, string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: srvKeyDER})), 0o600)
	return ca, cert, key
}
