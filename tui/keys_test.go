package tui

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestDefaultKeysAvoidSwallowedOnes(t *testing.T) {
	km := DefaultKeyMap()
	for _, info := range actionInfos {
		keys := km.Keys(info.act)
		if len(keys) == 0 {
			t.Errorf("%s has no default key", info.act)
		}
		for _, k := range keys {
			if why, bad := swallowed[k]; bad {
				t.Errorf("%s is bound to %s, which %s swallows", info.act, k, why)
			}
			if err := checkKeyName(k); err != nil {
				t.Errorf("%s: %v", info.act, err)
			}
		}
	}
	if err := km.checkConflicts(); err != nil {
		t.Errorf("default key map: %v", err)
	}
	if !slices.Equal(km.Keys(ActPageUp), []string{"pgup", "ctrl+u"}) {
		t.Errorf("page up = %v (ctrl+b is tmux's prefix)", km.Keys(ActPageUp))
	}
}

func TestParseKeyMap(t *testing.T) {
	conf := `# my keys
hangup = ctrl+k, K
sort_cost = $

users =
`
	km, err := ParseKeyMap([]byte(conf), false)
	if err != nil {
		t.Fatal(err)
	}
	if got := km.Keys(ActHangUp); !slices.Equal(got, []string{"ctrl+k", "K"}) {
		t.Errorf("hangup = %v", got)
	}
	if got := km.Keys(ActSortCost); !slices.Equal(got, []string{"$"}) {
		t.Errorf("sort_cost = %v", got)
	}
	if km.Binding(ActUsers).Enabled() {
		t.Error("users = (nothing) did not unbind")
	}
	if got := km.Keys(ActQuit); !slices.Equal(got, []string{"q"}) {
		t.Errorf("an unlisted action lost its default: quit = %v", got)
	}
	if got := km.Binding(ActHangUp).Help().Key; got != "ctrl+k/K" {
		t.Errorf("help key = %q, want it generated from the keys", got)
	}

	js, err := ParseKeyMap([]byte(`{"hangup": ["ctrl+k", "X"], "quit": "Q"}`), true)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(js.Keys(ActHangUp), []string{"ctrl+k", "X"}) || !slices.Equal(js.Keys(ActQuit), []string{"Q"}) {
		t.Errorf("json: hangup %v quit %v", js.Keys(ActHangUp), js.Keys(ActQuit))
	}
}

func TestParseKeyMapErrors(t *testing.T) {
	for _, tc := range []struct{ conf, want string }{
		{"hang_up = x", `line 1: unknown action "hang_up"`},
		{"\nhangup = ctrl+kk", `line 2: hangup: unknown key "ctrl+kk"`},
		{"hangup x", `line 1: want "action = key, key"`},
		{"hangup = x\nhangup = y", `line 2: "hangup" bound again (first on line 1)`},
		{"hangup = q", `key "q" bound to both hangup and quit`},
		{"detail = enter\nconfirm = enter", ""}, // the dialog's keys are matched apart
		{"sort_cost = f5, alt+shift+c, space", ""},
		{"hangup = ,", `line 1: no key`},
	} {
		_, err := ParseKeyMap([]byte(tc.conf), false)
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%q: %v", tc.conf, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("%q: error %v, want %q", tc.conf, err, tc.want)
		}
	}
	if _, err := ParseKeyMap([]byte(`["x"]`), true); err == nil {
		t.Error("a JSON list parsed")
	}
	if _, err := LoadKeyMap(filepath.Join(t.TempDir(), "none.conf")); err == nil || !strings.Contains(err.Error(), "keys file") {
		t.Errorf("missing file: %v", err)
	}
}

func TestDefaultKeyFile(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("XDG_CONFIG_HOME", dir)
	t.Setenv("HOME", t.TempDir())
	if got := DefaultKeyFile(); got != "" {
		t.Errorf("no file: %q", got)
	}
	p := filepath.Join(dir, "calltop", "keys.json")
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(`{"quit": "Q"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	if got := DefaultKeyFile(); got != p {
		t.Errorf("DefaultKeyFile = %q, want %q", got, p)
	}
	km, err := LoadKeyMap(p)
	if err != nil || !slices.Equal(km.Keys(ActQuit), []string{"Q"}) {
		t.Errorf("LoadKeyMap: %v %v", km.Keys(ActQuit), err)
	}
}
