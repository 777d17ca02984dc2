package feed

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"

	"github.com/nats-io/jwt/v2"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nkeys"
)

// Security is how a client proves who it is to a NATS server, beyond a
// user and password or a token in the server URL, and how it checks the
// server: the standard options of nats.go and the nats CLI, so a server
// set up for them (docs/SECURITY.md) takes calltop's clients as they are.
// The zero value adds nothing.
type Security struct {
	// Creds is a .creds file, a user JWT and its nkey seed as nsc writes
	// it: operator mode, where the server trusts an operator's JWTs.
	Creds string
	// NKey is a file holding a user's nkey seed (SU…), for a server that
	// lists the user's public key.
	NKey string
	// CA is a PEM file of the certificates the server's must chain to
	// (instead of the system's); Cert and Key are the client's own PEM
	// certificate and key, for a server that verifies its clients. Any of
	// them turns TLS on.
	CA, Cert, Key string
}

// Options reads and checks every file Security names and returns the
// nats.Options that use them. A file that is missing, unreadable or not
// what it should be is an error naming it now, at start, rather than a
// vague failure of the first connect (or of a reconnect hours later).
// The errors never quote a file's content.
func (s Security) Options() ([]nats.Option, error) {
	var opts []nats.Option
	if s.Creds != "" && s.NKey != "" {
		return nil, errors.New("NATS: a creds file and an nkey file both given: a creds file already holds the user's nkey, give one of them")
	}
	if s.Creds != "" {
		if err := checkCreds(s.Creds); err != nil {
			return nil, fmt.Errorf("NATS creds file %s: %w", s.Creds, err)
		}
		// Read again at each connect, so a rotated file is picked up on
		// the next reconnect.
		opts = append(opts, nats.UserCredentials(s.Creds))
	}
	if s.NKey != "" {
		opt, err := nats.NkeyOptionFromSeed(s.NKey)
		if err != nil {
			return nil, fmt.Errorf("NATS nkey file %s: %w", s.NKey, nkeyError(err))
		}
		opts = append(opts, opt)
	}
	if s.CA != "" || s.Cert != "" || s.Key != "" {
		cfg, err := s.tlsConfig()
		if err != nil {
			return nil, err
		}
		opts = append(opts, nats.Secure(cfg))
	}
	return opts, nil
}

// checkCreds reads a creds file as nats.go will, without keeping the seed.
func checkCreds(path string) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	token, err := jwt.ParseDecoratedJWT(data)
	if err == nil {
		_, err = jwt.DecodeUserClaims(token)
	}
	if err != nil {
		return errors.New("no user JWT in it (want a .creds file as nsc writes it)")
	}
	kp, err := nkeys.ParseDecoratedNKey(data)
	if err != nil {
		return errors.New("no nkey seed in it (want a .creds file as nsc writes it)")
	}
	kp.Wipe()
	return nil
}

// nkeyError keeps a missing file's error and says what a bad one lacks
// (nkeys' own errors are terse: "nkeys: no nkey seed found").
func nkeyError(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe
	}
	return fmt.Errorf("no user nkey seed (SU…) in it: %w", err)
}

func (s Security) tlsConfig() (*tls.Config, error) {
	cfg := &tls.Config{MinVersion: tls.VersionTLS12}
	if s.CA != "" {
		pem, err := os.ReadFile(s.CA)
		if err != nil {
			return nil, fmt.Errorf("NATS TLS CA file: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("NATS TLS CA file %s: no PEM certificate in it", s.CA)
		}
		cfg.RootCAs = pool
	}
	switch {
	case s.Cert == "" && s.Key == "":
	case s.Cert == "" || s.Key == "":
		return nil, errors.New("NATS TLS: a client certificate needs its key and a key its certificate: give both files")
	default:
		pair, err := tls.LoadX509KeyPair(s.Cert, s.Key)
		if err != nil {
			return nil, fmt.Errorf("NATS TLS client certificate %s and key %s: %w", s.Cert, s.Key, err)
		}
		cfg.Certificates = []tls.Certificate{pair}
	}
	return cfg, nil
}
