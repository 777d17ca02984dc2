package tui

import (
	"bytes"
	"strings"

	"charm.land/bubbles/v2/help"
	"charm.land/lipgloss/v2"
)

// styles are the dashboard's looks. Colour only ever repeats what the text
// already says (the ">" marker, "ended …", "!BURN", "↑", "NATS down"), so
// the plain set used under NO_COLOR loses no information; it keeps bold,
// faint and reverse, as the convention allows.
type styles struct {
	Title    lipgloss.Style
	Dim      lipgloss.Style
	Bold     lipgloss.Style
	Header   lipgloss.Style // the table's column titles
	Selected lipgloss.Style
	OK       lipgloss.Style
	Warn     lipgloss.Style
	Err      lipgloss.Style
	Spark    lipgloss.Style
	Dialog   lipgloss.Style
	Help     help.Styles
	// cells is every tone in every row variant (see rowVariant), built
	// once so that rendering a row makes no new styles; sgr is what each
	// of them puts around a line of text (see cell).
	cells [numTones][4]lipgloss.Style
	sgr   [numTones][4]sgrPair
}

// sgrPair is the escape sequences a style puts before and after a single
// line of text.
type sgrPair struct{ open, close string }

// sgrOf finds what st puts around a line by rendering a marker. It holds
// for styles of attributes and colours only (no width, padding, border,
// margin or underline, whose spaces lipgloss styles apart), which is what
// the cell styles are; TestCellMatchesRender checks it.
func sgrOf(st lipgloss.Style) sgrPair {
	const marker = "X" // no escape sequence contains it
	out := st.Render(marker)
	i := strings.Index(out, marker)
	return sgrPair{open: out[:i], close: out[i+len(marker):]}
}

// cell renders one line of a table cell in tone t and row variant v, as
// s.cells[t][v].Render would: a table draws a few hundred cells a frame,
// and lipgloss renders each through its whole layout pipeline.
func (s *styles) cell(t tone, v int, text string) string {
	if text == "" || strings.ContainsAny(text, "\t\r\n") {
		return s.cells[t][v].Render(text)
	}
	p := s.sgr[t][v]
	return p.open + text + p.close
}

// appendCell appends s.cell(t, v, text) to dst.
func (s *styles) appendCell(dst []byte, t tone, v int, text []byte) []byte {
	if len(text) == 0 || bytes.ContainsAny(text, "\t\r\n") {
		return append(dst, s.cells[t][v].Render(string(text))...)
	}
	p := s.sgr[t][v]
	dst = append(dst, p.open...)
	dst = append(dst, text...)
	return append(dst, p.close...)
}

// Row variants: ended rows are faint, the selected row is reversed.
const (
	variantEnded    = 1
	variantSelected = 2
)

// The 16-colour ANSI palette rather than RGB values: it follows the
// operator's terminal theme, light or dark, and survives a 16-colour SSH
// client unchanged (Bubble Tea downsamples anything else to the
// terminal's profile).
var (
	colorAccent = lipgloss.Color("5")
	colorGreen  = lipgloss.Color("2")
	colorYellow = lipgloss.Color("3")
	colorRed    = lipgloss.Color("1")
	colorCyan   = lipgloss.Color("6")
	colorGray   = lipgloss.Color("8")
)

// newStyles returns the colour styles, or the plain ones when noColor is
// set (https://no-color.org).
func newStyles(noColor bool) styles {
	s := styles{
		Title:    lipgloss.NewStyle().Bold(true),
		Dim:      lipgloss.NewStyle().Faint(true),
		Bold:     lipgloss.NewStyle().Bold(true),
		Header:   lipgloss.NewStyle().Bold(true).Underline(true),
		Selected: lipgloss.NewStyle().Reverse(true),
		OK:       lipgloss.NewStyle(),
		Warn:     lipgloss.NewStyle().Bold(true),
		Err:      lipgloss.NewStyle().Bold(true),
		Spark:    lipgloss.NewStyle(),
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
	tones := [numTones]lipgloss.Style{
		tonePlain:  lipgloss.NewStyle(),
		toneLive:   lipgloss.NewStyle(),
		toneBusy:   lipgloss.NewStyle().Bold(true),
		toneSilent: lipgloss.NewStyle().Bold(true),
		toneFlag:   lipgloss.NewStyle().Bold(true),
		toneWarn:   lipgloss.NewStyle(),
		toneFlash:  lipgloss.NewStyle().Bold(true),
		toneDim:    lipgloss.NewStyle(),
	}
	if !noColor {
		s.Title = s.Title.Foreground(colorAccent)
		s.OK = s.OK.Foreground(colorGreen)
		s.Warn = s.Warn.Foreground(colorYellow)
		s.Err = s.Err.Foreground(colorRed)
		s.Spark = s.Spark.Foreground(colorCyan)
		s.Dialog = s.Dialog.BorderForeground(colorRed)
		s.Help.ShortKey = s.Help.ShortKey.Foreground(colorAccent)
		s.Help.FullKey = s.Help.FullKey.Foreground(colorAccent)
		tones[toneLive] = tones[toneLive].Foreground(colorGreen)
		tones[toneBusy] = tones[toneBusy].Foreground(colorYellow)
		tones[toneSilent] = tones[toneSilent].Foreground(colorYellow)
		tones[toneFlag] = tones[toneFlag].Foreground(colorRed)
		tones[toneWarn] = tones[toneWarn].Foreground(colorYellow)
		tones[toneFlash] = tones[toneFlash].Foreground(colorCyan)
		tones[toneDim] = tones[toneDim].Foreground(colorGray)
	}
	for t, st := range tones {
		s.cells[t][0] = st
		s.cells[t][variantEnded] = st.Faint(true)
		s.cells[t][variantSelected] = st.Reverse(true)
		s.cells[t][variantEnded|variantSelected] = st.Faint(true).Reverse(true)
		for v := range s.cells[t] {
			s.sgr[t][v] = sgrOf(s.cells[t][v])
		}
	}
	return s
}

// noColorSet reports whether an environment asks for no colour: NO_COLOR
// present and not empty, whatever its value (https://no-color.org).
func noColorSet(lookup func(string) (string, bool)) bool {
	v, ok := lookup("NO_COLOR")
	return ok && v != ""
}
