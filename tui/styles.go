package tui

import (
	"charm.land/bubbles/v2/help"
	"charm.land/lipgloss/v2"
)

// styles are the dashboard's looks. Colour only ever repeats what the text
// already says (the ">" marker, "ended …", "error:", "NATS down"), so the
// plain set used under NO_COLOR loses no information.
type styles struct {
	Title    lipgloss.Style
	Dim      lipgloss.Style
	Header   lipgloss.Style // the table's column titles
	Selected lipgloss.Style
	Ended    lipgloss.Style
	OK       lipgloss.Style
	Warn     lipgloss.Style
	Err      lipgloss.Style
	Dialog   lipgloss.Style
	Help     help.Styles
}

// ANSI palette indexes rather than RGB values: they follow the operator's
// terminal theme, light or dark, and survive a 16-colour SSH client.
var (
	colorAccent = lipgloss.Color("5")
	colorGreen  = lipgloss.Color("2")
	colorYellow = lipgloss.Color("3")
	colorRed    = lipgloss.Color("1")
	colorGray   = lipgloss.Color("8")
)

// newStyles returns the colour styles, or the plain ones when noColor is
// set (https://no-color.org). Attributes that are not colour (bold, faint,
// reverse) stay, as the convention allows.
func newStyles(noColor bool) styles {
	s := styles{
		Title:    lipgloss.NewStyle().Bold(true),
		Dim:      lipgloss.NewStyle().Faint(true),
		Header:   lipgloss.NewStyle().Bold(true).Underline(true),
		Selected: lipgloss.NewStyle().Reverse(true),
		Ended:    lipgloss.NewStyle().Faint(true),
		OK:       lipgloss.NewStyle(),
		Warn:     lipgloss.NewStyle().Bold(true),
		Err:      lipgloss.NewStyle().Bold(true),
		Dialog:   lipgloss.NewStyle().Border(lipgloss.RoundedBorder()).Padding(0, 1),
		Help: help.Styles{
			Ellipsis:       lipgloss.NewStyle().Faint(true),
			ShortKey:       lipgloss.NewStyle().Bold(true),
			ShortDesc:      lipgloss.NewStyle(),
			ShortSeparator: lipgloss.NewStyle().Faint(true),
			FullKey:        lipgloss.NewStyle().Bold(true),
			FullDesc:       lipgloss.NewStyle(),
			FullSeparator:  lipgloss.NewStyle().Faint(true),
		},
	}
	if noColor {
		return s
	}
	s.Title = s.Title.Foreground(colorAccent)
	s.Ended = s.Ended.Foreground(colorGray)
	s.OK = s.OK.Foreground(colorGreen)
	s.Warn = s.Warn.Foreground(colorYellow)
	s.Err = s.Err.Foreground(colorRed)
	s.Dialog = s.Dialog.BorderForeground(colorRed)
	s.Help.ShortKey = s.Help.ShortKey.Foreground(colorAccent)
	s.Help.FullKey = s.Help.FullKey.Foreground(colorAccent)
	return s
}

// noColorSet reports whether an environment asks for no colour: NO_COLOR
// present and not empty, whatever its value (https://no-color.org).
func noColorSet(lookup func(string) (string, bool)) bool {
	v, ok := lookup("NO_COLOR")
	return ok && v != ""
}
