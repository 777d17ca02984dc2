package realtimetest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"time"
)

// newCertificate makes a self-signed ECDSA P-256 certificate for
// 127.0.0.1 and localhost, fresh for each server (a few hundred
// microseconds), so no key is shared between servers or checked in.
func newCertificate() (tls.Certificate, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("certificate key: %w", err)
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 64))
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("certificate serial: %w", err)
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{Organization: []string{"realtimetest"}},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(365 * 24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true, // self-signed: it is its own root
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
		DNSNames:              []string{"localhost"},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("certificate: %w", err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("certificate: %w", err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, nil
}

// Certificate returns the certificate a NewTLSServer presents (nil for a
// plain NewServer), for clients that build their own trust, e.g. in
// another process (its Raw bytes are the DER encoding).
func (s *Server) Certificate() *x509.Certificate { return s.cert }

// Client returns a new HTTP client for the server, like httptest's: for a
// NewTLSServer it trusts the server's certificate (and nothing else), for
// REST and for the sideband's wss:// handshake alike (agent.Config's
// HTTPClient). Each call returns a client with its own connections.
func (s *Server) Client() *http.Client {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.Proxy = nil // the server is on loopback
	if s.cert != nil {
		t.TLSClientConfig = TrustConfig(s.cert)
	}
	return &http.Client{Transport: t}
}

// TrustConfig is a TLS client configuration that trusts cert alone: what
// a client of a NewTLSServer in another process builds from the
// certificate's DER bytes (x509.ParseCertificate).
func TrustConfig(cert *x509.Certificate) *tls.Config {
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return &tls.Config{RootCAs: pool}
}
