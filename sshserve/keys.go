package sshserve

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"time"

	gossh "golang.org/x/crypto/ssh"

	"github.com/calltop/calltop/feed"
)

// Role is what a key may do on the dashboard.
type Role int

const (
	// RoleViewer watches: the dashboard is read-only.
	RoleViewer Role = iota + 1
	// RoleOperator may also hang calls up.
	RoleOperator
)

func (r Role) String() string {
	switch r {
	case RoleOperator:
		return "operator"
	case RoleViewer:
		return "viewer"
	}
	return "none"
}

// Identity is who a key belongs to, as the key files say.
type Identity struct {
	Role Role
	// Comment is the key's authorized_keys comment, made printable; it
	// may be empty.
	Comment string
	// Fingerprint is the key's SHA256 fingerprint ("SHA256:…").
	Fingerprint string
}

// String is how the identity signs a hang-up (End.By on the ended event)
// and appears in logs: "alice@laptop SHA256:…", or the fingerprint alone
// when the key has no comment. The fingerprint makes it exact: comments
// are free text that anyone listing a key may choose.
func (id Identity) String() string {
	if id.Comment == "" {
		return id.Fingerprint
	}
	return id.Comment + " " + id.Fingerprint
}

// maxComment bounds a comment as shown: it goes into every hang-up and
// the History view.
const maxComment = 64

// ParseAuthorizedKeys reads an authorized_keys file's contents. Blank
// lines and # comments are skipped. A line that is not a key, or a key
// with options (from=, command=, restrict …), is an error naming its line:
// the options would restrict the key in sshd, and silently ignoring them
// here would grant more than the file says.
func ParseAuthorizedKeys(data []byte, role Role) (map[string]Identity, error) {
	keys := make(map[string]Identity)
	for n, line := range bytes.Split(data, []byte("\n")) {
		line = bytes.TrimSpace(line)
		if len(line) == 0 || line[0] == '#' {
			continue
		}
		pub, comment, opts, _, err := gossh.ParseAuthorizedKey(line)
		if err != nil {
			return nil, fmt.Errorf("line %d: %w", n+1, err)
		}
		if len(opts) > 0 {
			return nil, fmt.Errorf("line %d: key options (%s) are not supported: list the key without them", n+1, feed.Printable(strings.Join(opts, ",")))
		}
		comment = feed.Printable(strings.TrimSpace(comment))
		if r := []rune(comment); len(r) > maxComment {
			comment = string(r[:maxComment-1]) + "…"
		}
		keys[string(pub.Marshal())] = Identity{Role: role, Comment: comment, Fingerprint: gossh.FingerprintSHA256(pub)}
	}
	return keys, nil
}

// KeyFiles are the operators' and viewers' authorized_keys files. They are
// read when a login needs them and read again when they change (size or
// modification time), so adding or removing a key needs no restart;
// sessions already open keep their role.
type KeyFiles struct {
	operators, viewers string

	mu    sync.Mutex
	files [2]keyFile // operators, viewers
}

// keyFile is one file as last read.
type keyFile struct {
	path  string
	role  Role
	size  int64
	mtime time.Time
	keys  map[string]Identity
	err   error // why the last read failed: its keys are refused meanwhile
}

// ErrNoKeyFiles means neither file was given: nobody could log in.
var ErrNoKeyFiles = errors.New("no key files: give operator keys, viewer keys or both")

// LoadKeyFiles reads the key files (either path may be empty, not both)
// and fails if one cannot be read or parsed, so a mistake shows at start.
func LoadKeyFiles(operators, viewers string) (*KeyFiles, error) {
	if operators == "" && viewers == "" {
		return nil, ErrNoKeyFiles
	}
	k := &KeyFiles{files: [2]keyFile{{path: operators, role: RoleOperator}, {path: viewers, role: RoleViewer}}}
	for i := range k.files {
		f := &k.files[i]
		if f.path == "" {
			continue
		}
		if err := f.reload(true); err != nil {
			return nil, err
		}
	}
	return k, nil
}

// Counts is how many keys each file lists now.
func (k *KeyFiles) Counts() (operators, viewers int) {
	k.mu.Lock()
	defer k.mu.Unlock()
	return len(k.files[0].keys), len(k.files[1].keys)
}

// Lookup returns the identity of key: an operator if the operators' file
// lists it, else a viewer if the viewers' file does. A file changed since
// it was read is read again first; one that has become unreadable or
// invalid grants nothing until it is fixed (failed says why, for the log).
func (k *KeyFiles) Lookup(key gossh.PublicKey) (id Identity, ok bool, failed []error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	m := string(key.Marshal())
	for i := range k.files {
		f := &k.files[i]
		if f.path == "" {
			continue
		}
		if err := f.reload(false); err != nil {
			failed = append(failed, err)
			continue
		}
		if id, ok := f.keys[m]; ok {
			return id, true, failed
		}
	}
	return Identity{}, false, failed
}

// reload reads the file if it changed since the last read (always if
// force). On failure the file's keys are dropped: fail closed.
func (f *keyFile) reload(force bool) error {
	st, err := os.Stat(f.path)
	if err == nil && !force && f.err == nil && st.Size() == f.size && st.ModTime().Equal(f.mtime) {
		return nil
	}
	if err == nil {
		var data []byte
		data, err = os.ReadFile(f.path)
		if err == nil {
			var keys map[string]Identity
			keys, err = ParseAuthorizedKeys(data, f.role)
			if err == nil {
				f.keys, f.size, f.mtime, f.err = keys, st.Size(), st.ModTime(), nil
				return nil
			}
		}
	}
	f.keys, f.size, f.mtime = nil, 0, time.Time{}
	f.err = fmt.Errorf("%s keys %s: %w", f.role, f.path, err)
	return f.err
}
