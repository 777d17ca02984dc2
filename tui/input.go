package tui

import (
	"strings"
	"unicode"

	tea "charm.land/bubbletea/v2"
)

// lineInput is a one-line text field with the cursor at its end: enough
// for a filter or a reason, with the editing keys a shell user expects
// (backspace, ctrl+w, ctrl+u) and nothing that blinks, so screens are
// reproducible.
type lineInput struct {
	text []rune
	max  int // runes; 0: no limit
}

// key edits the text and reports whether the key was an editing key.
func (in *lineInput) key(msg tea.KeyPressMsg) bool {
	switch msg.String() {
	case "backspace", "ctrl+h":
		if len(in.text) > 0 {
			in.text = in.text[:len(in.text)-1]
		}
		return true
	case "ctrl+w", "alt+backspace":
		t := strings.TrimRightFunc(string(in.text), unicode.IsSpace)
		i := strings.LastIndexFunc(t, unicode.IsSpace)
		in.text = []rune(t[:i+1])
		return true
	case "ctrl+u":
		in.text = in.text[:0]
		return true
	}
	if msg.Text != "" && msg.Mod&^tea.ModShift == 0 {
		in.insert(msg.Text)
		return true
	}
	return false
}

// insert appends printable text (pasted or typed); control characters
// and newlines are dropped.
func (in *lineInput) insert(s string) {
	for _, r := range s {
		if !unicode.IsPrint(r) {
			continue
		}
		if in.max > 0 && len(in.text) >= in.max {
			return
		}
		in.text = append(in.text, r)
	}
}

func (in *lineInput) String() string { return string(in.text) }

// filterEdit is the filter being typed after "/". The table follows every
// keystroke; esc puts back the filter that was there before.
type filterEdit struct {
	in   lineInput
	prev string
	err  string // why the text is not a valid filter (yet)
}
