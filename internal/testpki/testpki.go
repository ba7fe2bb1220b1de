// Package testpki makes throwaway certificate authorities and certificates
// for tests of the API's TLS and mutual TLS: ECDSA P-256 keys, certificates
// valid from an hour ago, PEM files written with the modes the agent
// demands of secrets. It is not imported by production code.
package testpki

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// validity is how long certificates are valid unless a test says otherwise:
// long enough that the node's warning about a certificate about to expire
// stays quiet.
const validity = 365 * 24 * time.Hour

// CA is a certificate authority. It is safe for concurrent use.
type CA struct {
	// Cert is the CA's self-signed certificate.
	Cert *x509.Certificate
	// CertPEM is Cert, PEM encoded.
	CertPEM []byte
	key     *ecdsa.PrivateKey
}

// Pair is a certificate with its private key, both PEM encoded.
type Pair struct {
	CertPEM []byte
	KeyPEM  []byte
}

// NewCA returns a CA named name, valid for a year.
func NewCA(tb testing.TB, name string) *CA {
	tb.Helper()
	key := newKey(tb)
	tmpl := &x509.Certificate{
		SerialNumber:          serial(tb),
		Subject:               pkix.Name{CommonName: name},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(validity),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		tb.Fatalf("create CA certificate: %v", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		tb.Fatalf("parse CA certificate: %v", err)
	}
	return &CA{Cert: cert, CertPEM: pemBlock("CERTIFICATE", der), key: key}
}

// Server issues a server certificate for hosts (IP addresses or DNS names),
// valid for a year.
func (ca *CA) Server(tb testing.TB, hosts ...string) Pair {
	tb.Helper()
	return ca.ServerUntil(tb, time.Now().Add(validity), hosts...)
}

// ServerUntil issues a server certificate for hosts that expires at
// notAfter.
func (ca *CA) ServerUntil(tb testing.TB, notAfter time.Time, hosts ...string) Pair {
	tb.Helper()
	tmpl := &x509.Certificate{
		Subject:     pkix.Name{CommonName: "server"},
		NotAfter:    notAfter,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	for _, h := range hosts {
		if ip := net.ParseIP(h); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, h)
		}
	}
	return ca.issue(tb, tmpl)
}

// Client issues a client certificate for name, valid for a year.
func (ca *CA) Client(tb testing.TB, name string) Pair {
	tb.Helper()
	return ca.issue(tb, &x509.Certificate{
		Subject:     pkix.Name{CommonName: name},
		NotAfter:    time.Now().Add(validity),
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	})
}

func (ca *CA) issue(tb testing.TB, tmpl *x509.Certificate) Pair {
	tb.Helper()
	key := newKey(tb)
	tmpl.SerialNumber = serial(tb)
	tmpl.NotBefore = time.Now().Add(-time.Hour)
	tmpl.KeyUsage = x509.KeyUsageDigitalSignature
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.Cert, &key.PublicKey, ca.key)
	if err != nil {
		tb.Fatalf("create certificate: %v", err)
	}
	kder, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		tb.Fatalf("encode key: %v", err)
	}
	return Pair{CertPEM: pemBlock("CERTIFICATE", der), KeyPEM: pemBlock("PRIVATE KEY", kder)}
}

// Pool returns a pool holding only the CA's certificate.
func (ca *CA) Pool() *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(ca.Cert)
	return p
}

// WriteCert writes the CA's certificate to dir/name.crt (mode 0644) and
// returns the path.
func (ca *CA) WriteCert(tb testing.TB, dir, name string) string {
	tb.Helper()
	return writeFile(tb, filepath.Join(dir, name+".crt"), ca.CertPEM, 0o644)
}

// Write writes the certificate to dir/name.crt (mode 0644) and the key to
// dir/name.key (mode 0600), and returns the paths.
func (p Pair) Write(tb testing.TB, dir, name string) (certFile, keyFile string) {
	tb.Helper()
	return writeFile(tb, filepath.Join(dir, name+".crt"), p.CertPEM, 0o644),
		writeFile(tb, filepath.Join(dir, name+".key"), p.KeyPEM, 0o600)
}

// TLSCertificate returns the pair for tls.Config.Certificates.
func (p Pair) TLSCertificate(tb testing.TB) tls.Certificate {
	tb.Helper()
	c, err := tls.X509KeyPair(p.CertPEM, p.KeyPEM)
	if err != nil {
		tb.Fatalf("load key pair: %v", err)
	}
	return c
}

func newKey(tb testing.TB) *ecdsa.PrivateKey {
	tb.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		tb.Fatalf("generate key: %v", err)
	}
	return key
}

func serial(tb testing.TB) *big.Int {
	tb.Helper()
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		tb.Fatalf("serial number: %v", err)
	}
	return n
}

func pemBlock(typ string, der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der})
}

func writeFile(tb testing.TB, path string, b []byte, mode os.FileMode) string {
	tb.Helper()
	if err := os.WriteFile(path, b, mode); err != nil {
		tb.Fatal(err)
	}
	if err := os.Chmod(path, mode); err != nil { // whatever the umask
		tb.Fatal(err)
	}
	return path
}
