package sshserve

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"

	gossh "golang.org/x/crypto/ssh"
)

// DefaultHostKeyPath is where the host key lives unless told otherwise:
// calltop/ssh_host_ed25519_key under the user's configuration directory
// (~/.config on Linux).
func DefaultHostKeyPath() (string, error) {
	dir, err := os.UserConfigDir()
	if err != nil {
		return "", fmt.Errorf("host key: %w", err)
	}
	return filepath.Join(dir, "calltop", "ssh_host_ed25519_key"), nil
}

// LoadOrCreateHostKey returns the host key in path, creating an ed25519
// key there (mode 0600, its directory 0700 if it has to be made) when
// there is none, so the server's fingerprint stays the same across
// restarts and clients' known_hosts keep matching. created reports a new
// key. A key file that its group or others may read is refused, as sshd
// refuses one: the host key is what stops another machine from posing as
// this one.
func LoadOrCreateHostKey(path string) (signer gossh.Signer, created bool, err error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		switch err := createHostKey(path); {
		case err == nil:
			created = true
		case errors.Is(err, fs.ErrExist): // another process made it meanwhile
		default:
			return nil, false, err
		}
		data, err = os.ReadFile(path)
	}
	if err != nil {
		return nil, false, fmt.Errorf("host key: %w", err)
	}
	if runtime.GOOS != "windows" {
		st, err := os.Stat(path)
		if err != nil {
			return nil, false, fmt.Errorf("host key: %w", err)
		}
		if perm := st.Mode().Perm(); perm&0o077 != 0 {
			return nil, false, fmt.Errorf("host key %s: mode %04o lets others read it: chmod 600 it", path, perm)
		}
	}
	signer, err = gossh.ParsePrivateKey(data)
	if err != nil {
		return nil, false, fmt.Errorf("host key %s: %w", path, err)
	}
	return signer, created, nil
}

// createHostKey writes a new ed25519 key to path in OpenSSH's format,
// refusing to replace a file that appeared meanwhile.
func createHostKey(path string) error {
	if dir := filepath.Dir(path); dir != "" {
		if _, err := os.Stat(dir); errors.Is(err, fs.ErrNotExist) {
			if err := os.MkdirAll(dir, 0o700); err != nil {
				return fmt.Errorf("host key: %w", err)
			}
		}
	}
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return fmt.Errorf("host key: %w", err)
	}
	block, err := gossh.MarshalPrivateKey(priv, "calltop serve host key")
	if err != nil {
		return fmt.Errorf("host key: %w", err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		if errors.Is(err, fs.ErrExist) {
			return err
		}
		return fmt.Errorf("host key: %w", err)
	}
	if _, err := f.Write(pem.EncodeToMemory(block)); err != nil {
		f.Close()
		os.Remove(path)
		return fmt.Errorf("host key %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		os.Remove(path)
		return fmt.Errorf("host key %s: %w", path, err)
	}
	return nil
}
