package tui

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"unicode/utf8"
)

// LoadKeyMap reads a key file and returns the default keys with its
// bindings laid over them. Two formats are read: JSON when the file name
// ends in .json ({"hangup": ["ctrl+k", "x"], "quit": "q"}), otherwise
// lines of
//
//	# comment
//	hangup = ctrl+k, x
//	sort_cost = $
//
// An action listed replaces all its default keys; "action =" with no key
// unbinds it. Unknown actions, unknown key names and a key bound to two
// actions are errors naming the line, so a typo never silently leaves an
// operator without a key.
func LoadKeyMap(path string) (KeyMap, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return KeyMap{}, fmt.Errorf("keys file: %w", err)
	}
	km, err := ParseKeyMap(data, strings.EqualFold(filepath.Ext(path), ".json"))
	if err != nil {
		return KeyMap{}, fmt.Errorf("keys file %s: %w", path, err)
	}
	return km, nil
}

// ParseKeyMap is LoadKeyMap on bytes; isJSON picks the format.
func ParseKeyMap(data []byte, isJSON bool) (KeyMap, error) {
	var binds []keyLine
	var err error
	if isJSON {
		binds, err = parseKeyJSON(data)
	} else {
		binds, err = parseKeyLines(data)
	}
	if err != nil {
		return KeyMap{}, err
	}
	km := DefaultKeyMap()
	seen := map[Action]int{}
	for _, l := range binds {
		if _, ok := infoOf(l.act); !ok {
			return KeyMap{}, fmt.Errorf("%sunknown action %q (known: %s)", l.where(), l.act, knownActions())
		}
		if prev, dup := seen[l.act]; dup {
			return KeyMap{}, fmt.Errorf("%s%q bound again (first on line %d)", l.where(), l.act, prev)
		}
		seen[l.act] = l.line
		for _, k := range l.keys {
			if err := checkKeyName(k); err != nil {
				return KeyMap{}, fmt.Errorf("%s%s: %w", l.where(), l.act, err)
			}
		}
		km.set(l.act, l.keys...)
	}
	if err := km.checkConflicts(); err != nil {
		return KeyMap{}, err
	}
	return km, nil
}

// DefaultKeyFile returns the key file used when none is given:
// $XDG_CONFIG_HOME/calltop/keys.conf (or keys.json), else the same under
// ~/.config; "" when there is none.
func DefaultKeyFile() string {
	var dirs []string
	if d := os.Getenv("XDG_CONFIG_HOME"); d != "" {
		dirs = append(dirs, filepath.Join(d, "calltop"))
	}
	if home, err := os.UserHomeDir(); err == nil {
		dirs = append(dirs, filepath.Join(home, ".config", "calltop"))
	}
	for _, d := range dirs {
		for _, name := range []string{"keys.conf", "keys.json"} {
			p := filepath.Join(d, name)
			if st, err := os.Stat(p); err == nil && st.Mode().IsRegular() {
				return p
			}
		}
	}
	return ""
}

// keyLine is one action's keys as read from a file.
type keyLine struct {
	line int // 0 for JSON
	act  Action
	keys []string
}

func (l keyLine) where() string {
	if l.line == 0 {
		return ""
	}
	return fmt.Sprintf("line %d: ", l.line)
}

func parseKeyLines(data []byte) ([]keyLine, error) {
	var out []keyLine
	sc := bufio.NewScanner(bytes.NewReader(data))
	n := 0
	for sc.Scan() {
		n++
		text := strings.TrimSpace(sc.Text())
		if text == "" || strings.HasPrefix(text, "#") {
			continue
		}
		name, keys, ok := strings.Cut(text, "=")
		if !ok {
			return nil, fmt.Errorf("line %d: want \"action = key, key\", got %q", n, text)
		}
		l := keyLine{line: n, act: Action(strings.TrimSpace(name))}
		for _, k := range strings.Split(keys, ",") {
			if k = strings.TrimSpace(k); k != "" {
				l.keys = append(l.keys, k)
			}
		}
		if strings.TrimSpace(keys) != "" && len(l.keys) == 0 {
			return nil, fmt.Errorf("line %d: no key in %q", n, text)
		}
		out = append(out, l)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read: %w", err)
	}
	return out, nil
}

func parseKeyJSON(data []byte) ([]keyLine, error) {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(data, &raw); err != nil {
		return nil, fmt.Errorf("want a JSON object of action: [keys]: %w", err)
	}
	var out []keyLine
	for _, name := range slices.Sorted(maps.Keys(raw)) {
		l := keyLine{act: Action(name)}
		var one string
		if err := json.Unmarshal(raw[name], &one); err == nil {
			if one != "" {
				l.keys = []string{one}
			}
		} else if err := json.Unmarshal(raw[name], &l.keys); err != nil {
			return nil, fmt.Errorf("%s: want a key or a list of keys", name)
		}
		out = append(out, l)
	}
	return out, nil
}

// namedKeys are the key names Bubble Tea reports besides single
// characters.
var namedKeys = map[string]bool{
	"up": true, "down": true, "left": true, "right": true, "enter": true, "tab": true,
	"backspace": true, "esc": true, "space": true, "home": true, "end": true,
	"pgup": true, "pgdown": true, "delete": true, "insert": true,
}

// checkKeyName accepts what tea.KeyPressMsg.String reports: a single
// character ("x", "C", "$"), a named key, f1–f20, with ctrl+, alt+ or
// shift+ in front.
func checkKeyName(k string) error {
	base := k
	for {
		var cut bool
		for _, mod := range []string{"ctrl+", "alt+", "shift+"} {
			if strings.HasPrefix(base, mod) && len(base) > len(mod) {
				base, cut = base[len(mod):], true
			}
		}
		if !cut {
			break
		}
	}
	switch {
	case utf8.RuneCountInString(base) == 1 && base != " ":
		return nil
	case namedKeys[base]:
		return nil
	case len(base) >= 2 && base[0] == 'f':
		var n int
		if _, err := fmt.Sscanf(base[1:], "%d", &n); err == nil && n >= 1 && n <= 20 && fmt.Sprint(n) == base[1:] {
			return nil
		}
	}
	return fmt.Errorf("unknown key %q (use names like x, C, ctrl+k, enter, esc, pgdown, f5)", k)
}

// checkConflicts refuses a key bound to two actions that are matched in
// the same place; the dialog's keys only clash among themselves.
func (k KeyMap) checkConflicts() error {
	var errs []error
	for _, dialog := range []bool{false, true} {
		owner := map[string]Action{}
		for _, info := range actionInfos {
			if info.dialog != dialog {
				continue
			}
			for _, key := range k.Keys(info.act) {
				if prev, ok := owner[key]; ok {
					errs = append(errs, fmt.Errorf("key %q bound to both %s and %s", key, prev, info.act))
					continue
				}
				owner[key] = info.act
			}
		}
	}
	return errors.Join(errs...)
}

func knownActions() string {
	names := make([]string, len(actionInfos))
	for i, a := range actionInfos {
		names[i] = string(a.act)
	}
	return strings.Join(names, ", ")
}
