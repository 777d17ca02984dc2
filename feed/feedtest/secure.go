package feedtest

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
	"time"

	"github.com/nats-io/jwt/v2"
	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nkeys"
)

// TLSFiles are the PEM files of a NATS server that verifies its clients'
// certificates: a CA, the server's certificate for 127.0.0.1 and a
// client's, both signed by the CA, made fresh for each test.
type TLSFiles struct {
	CA                    string
	ServerCert, ServerKey string
	ClientCert, ClientKey string
	// OtherCA signed nothing here: a client that trusts it must refuse
	// the server.
	OtherCA string
}

// WriteTLS makes a CA and the certificates signed by it in dir.
func WriteTLS(dir string) (TLSFiles, error) {
	f := TLSFiles{
		CA: filepath.Join(dir, "ca.pem"), OtherCA: filepath.Join(dir, "other-ca.pem"),
		ServerCert: filepath.Join(dir, "server.pem"), ServerKey: filepath.Join(dir, "server-key.pem"),
		ClientCert: filepath.Join(dir, "client.pem"), ClientKey: filepath.Join(dir, "client-key.pem"),
	}
	ca, caKey, err := newCert(nil, nil, x509.Certificate{
		Subject: pkix.Name{CommonName: "calltop test CA"}, IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}, f.CA, "")
	if err != nil {
		return f, err
	}
	if _, _, err := newCert(nil, nil, x509.Certificate{
		Subject: pkix.Name{CommonName: "another CA"}, IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign,
	}, f.OtherCA, ""); err != nil {
		return f, err
	}
	if _, _, err := newCert(ca, caKey, x509.Certificate{
		Subject: pkix.Name{CommonName: "nats"}, IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, DNSNames: []string{"localhost"},
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}, f.ServerCert, f.ServerKey); err != nil {
		return f, err
	}
	_, _, err = newCert(ca, caKey, x509.Certificate{
		Subject:  pkix.Name{CommonName: "calltop-client"},
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}, f.ClientCert, f.ClientKey)
	return f, err
}

// newCert signs tmpl with parent (itself if nil) and writes it, and its
// key if keyPath is set, as PEM.
func newCert(parent *x509.Certificate, parentKey *ecdsa.PrivateKey, tmpl x509.Certificate, certPath, keyPath string) (*x509.Certificate, *ecdsa.PrivateKey, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 62))
	if err != nil {
		return nil, nil, err
	}
	tmpl.SerialNumber = serial
	tmpl.NotBefore = time.Now().Add(-time.Hour)
	tmpl.NotAfter = time.Now().Add(24 * time.Hour)
	if parent == nil {
		parent, parentKey = &tmpl, key
	}
	der, err := x509.CreateCertificate(rand.Reader, &tmpl, parent, &key.PublicKey, parentKey)
	if err != nil {
		return nil, nil, fmt.Errorf("certificate %s: %w", tmpl.Subject.CommonName, err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, nil, err
	}
	if err := writePEM(certPath, "CERTIFICATE", der); err != nil {
		return nil, nil, err
	}
	if keyPath != "" {
		kder, err := x509.MarshalPKCS8PrivateKey(key)
		if err != nil {
			return nil, nil, err
		}
		if err := writePEM(keyPath, "PRIVATE KEY", kder); err != nil {
			return nil, nil, err
		}
	}
	return cert, key, nil
}

func writePEM(path, kind string, der []byte) error {
	return os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: kind, Bytes: der}), 0o600)
}

// NKeyUser is a user nkey: the public key a server lists and the file
// holding its seed, which a client signs the server's nonce with.
type NKeyUser struct {
	Public, SeedFile string
}

// WriteNKeyUser makes a user nkey and writes its seed to dir.
func WriteNKeyUser(dir string) (NKeyUser, error) {
	kp, err := nkeys.CreateUser()
	if err != nil {
		return NKeyUser{}, err
	}
	pub, _ := kp.PublicKey()
	seed, _ := kp.Seed()
	path := filepath.Join(dir, "user.nk")
	return NKeyUser{Public: pub, SeedFile: path}, os.WriteFile(path, seed, 0o600)
}

// Operator is an operator-mode (JWT) setup as nsc makes it: an operator,
// its system account, one account with JetStream, and a user of that
// account with its .creds file. A server trusts the operator
// (TrustedOperators) and resolves the accounts from their JWTs (Accounts).
type Operator struct {
	Claims        *jwt.OperatorClaims
	SystemPub     string            // the system account, which JetStream needs
	AccountPub    string            // the users' account
	Accounts      map[string]string // account public key to JWT, system's included
	Creds         string            // the user's .creds file
	StrangerCreds string            // a .creds file of a user the operator never signed
}

// WriteOperator makes an operator, an account and a user, and writes the
// user's .creds file (and a stranger's, signed by another account key)
// in dir.
func WriteOperator(dir string) (*Operator, error) {
	okp, err := nkeys.CreateOperator()
	if err != nil {
		return nil, err
	}
	opub, _ := okp.PublicKey()
	o := &Operator{Accounts: map[string]string{},
		Creds: filepath.Join(dir, "user.creds"), StrangerCreds: filepath.Join(dir, "stranger.creds")}
	sys, err := nkeys.CreateAccount()
	if err != nil {
		return nil, err
	}
	o.SystemPub, _ = sys.PublicKey()
	oc := jwt.NewOperatorClaims(opub)
	oc.Name = "calltop-test"
	oc.SystemAccount = o.SystemPub
	ojwt, err := oc.Encode(okp)
	if err != nil {
		return nil, err
	}
	if o.Claims, err = jwt.DecodeOperatorClaims(ojwt); err != nil {
		return nil, err
	}
	if err := o.addAccount(okp, sys, "SYS", false); err != nil {
		return nil, err
	}
	akp, err := nkeys.CreateAccount()
	if err != nil {
		return nil, err
	}
	o.AccountPub, _ = akp.PublicKey()
	if err := o.addAccount(okp, akp, "CALLTOP", true); err != nil {
		return nil, err
	}
	if err := writeCreds(o.Creds, akp); err != nil {
		return nil, err
	}
	// Signed by an account key the operator never signed.
	stranger, err := nkeys.CreateAccount()
	if err != nil {
		return nil, err
	}
	return o, writeCreds(o.StrangerCreds, stranger)
}

// ServerOptions are the options of a server that trusts the operator and
// resolves its accounts from memory, for a test to add a port to.
func (o *Operator) ServerOptions() (*server.Options, error) {
	resolver := &server.MemAccResolver{}
	for pub, token := range o.Accounts {
		if err := resolver.Store(pub, token); err != nil {
			return nil, fmt.Errorf("operator: account %s: %w", pub, err)
		}
	}
	return &server.Options{TrustedOperators: []*jwt.OperatorClaims{o.Claims}, SystemAccount: o.SystemPub, AccountResolver: resolver}, nil
}

// addAccount signs the account's JWT with the operator's key.
func (o *Operator) addAccount(operator, account nkeys.KeyPair, name string, jetstream bool) error {
	pub, _ := account.PublicKey()
	ac := jwt.NewAccountClaims(pub)
	ac.Name = name
	if jetstream {
		ac.Limits.JetStreamLimits = jwt.JetStreamLimits{MemoryStorage: -1, DiskStorage: -1, Streams: -1, Consumer: -1}
	}
	token, err := ac.Encode(operator)
	if err != nil {
		return err
	}
	o.Accounts[pub] = token
	return nil
}

// writeCreds writes the .creds file of a new user signed by account.
func writeCreds(path string, account nkeys.KeyPair) error {
	ukp, err := nkeys.CreateUser()
	if err != nil {
		return err
	}
	upub, _ := ukp.PublicKey()
	uc := jwt.NewUserClaims(upub)
	ujwt, err := uc.Encode(account)
	if err != nil {
		return err
	}
	seed, _ := ukp.Seed()
	creds, err := jwt.FormatUserConfig(ujwt, seed)
	if err != nil {
		return err
	}
	return os.WriteFile(path, creds, 0o600)
}
