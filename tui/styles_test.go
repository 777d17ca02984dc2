package tui

import "testing"

// TestCellMatchesRender checks the shortcut of styles.cell against
// lipgloss: every tone in every row variant, coloured and plain, renders
// the texts a table cell holds exactly as Style.Render does.
func TestCellMatchesRender(t *testing.T) {
	texts := []string{"x", "rtc_u1_0123456789abcdef", "  $12.30↑", "ended operator", "naïve 名前 😀",
		"   ", "a b  c", "tab\there", "two\nlines", "cr\r\n"}
	for _, noColor := range []bool{false, true} {
		s := newStyles(noColor)
		for tn := range numTones {
			for v := range 4 {
				for _, text := range texts {
					want := s.cells[tn][v].Render(text)
					if got := s.cell(tn, v, text); got != want {
						t.Errorf("noColor=%v tone %d variant %d %q: cell %q, Render %q", noColor, tn, v, text, got, want)
					}
					if got := string(s.appendCell([]byte("<"), tn, v, []byte(text))); got != "<"+want {
						t.Errorf("noColor=%v tone %d variant %d %q: appendCell %q, Render %q", noColor, tn, v, text, got, want)
					}
				}
			}
		}
	}
}
