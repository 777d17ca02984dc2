package tui

import (
	"strings"

	"charm.land/lipgloss/v2"
)

// lcol is a column of the secondary views' lists (users, history,
// agents). They hold far fewer rows than the calls table, so their widths
// simply follow the content of the rows on screen.
type lcol struct {
	title string
	right bool
	flex  bool // gives way first when the row is too wide, down to minW
	minW  int  // flexible: 8 if 0
	maxW  int  // 0: no limit
	drop  int  // left out, highest first, when even shrinking does not fit
}

// lcell is one cell's text and tone.
type lcell struct {
	text string
	tone tone
}

// renderList draws a list of n rows under column titles, the cursor's
// window of height rows, with cells from cellsOf.
func (m *Model) renderList(w, height int, cols []lcol, n int, cur *cursor, dim func(i int) bool,
	cellsOf func(i int) []lcell, empty string) []string {
	end := min(cur.top+height, n)
	rowsCells := make([][]lcell, 0, end-cur.top)
	widths := make([]int, len(cols))
	for i, c := range cols {
		widths[i] = lipgloss.Width(c.title)
	}
	for i := cur.top; i < end; i++ {
		cells := cellsOf(i)
		for j := range cols {
			if j < len(cells) {
				cells[j].text = sanitize(cells[j].text)
				widths[j] = max(widths[j], lipgloss.Width(cells[j].text))
			}
		}
		rowsCells = append(rowsCells, cells)
	}
	for j, c := range cols {
		if c.maxW > 0 {
			widths[j] = min(widths[j], c.maxW)
		}
	}
	// Shrink the widest flexible column a cell at a time down to its
	// minimum, then leave out columns by their drop order, until the row
	// fits.
	minOf := func(c lcol) int {
		if c.minW > 0 {
			return c.minW
		}
		return 8
	}
	total := func() int {
		t := gutterWidth
		n := 0
		for _, x := range widths {
			if x >= 0 {
				t += x
				n++
			}
		}
		return t + 2*max(0, n-1)
	}
	for total() > w {
		widest := -1
		for j, c := range cols {
			if c.flex && widths[j] > minOf(c) && (widest < 0 || widths[j]-minOf(c) > widths[widest]-minOf(cols[widest])) {
				widest = j
			}
		}
		if widest >= 0 {
			widths[widest]--
			continue
		}
		worst := -1
		for j, c := range cols {
			if c.drop > 0 && widths[j] >= 0 && (worst < 0 || c.drop > cols[worst].drop) {
				worst = j
			}
		}
		if worst < 0 {
			break
		}
		widths[worst] = -1 // left out
	}
	join := func(marker string, texts []string) string {
		var b strings.Builder
		b.WriteString(pad(marker, gutterWidth, false))
		first := true
		for j, c := range cols {
			if widths[j] < 0 {
				continue
			}
			if !first {
				b.WriteString("  ")
			}
			first = false
			b.WriteString(pad(texts[j], widths[j], c.right))
		}
		return b.String()
	}
	titles := make([]string, len(cols))
	for j, c := range cols {
		titles[j] = c.title
	}
	lines := []string{clip(m.styles.Header.Render(join("", titles)), w)}
	if n == 0 {
		lines = append(lines, clip(m.styles.Dim.Render("  "+empty), w))
	}
	for k, cells := range rowsCells {
		i := cur.top + k
		variant := 0
		if dim != nil && dim(i) {
			variant |= variantEnded
		}
		marker := "  "
		if i == cur.idx {
			variant |= variantSelected
			marker = "> "
		}
		var b strings.Builder
		b.WriteString(m.styles.cell(tonePlain, variant, marker))
		first := true
		for j, c := range cols {
			if widths[j] < 0 {
				continue
			}
			if !first {
				b.WriteString(m.styles.cell(tonePlain, variant, "  "))
			}
			first = false
			var cl lcell
			if j < len(cells) {
				cl = cells[j]
			}
			b.WriteString(m.styles.cell(cl.tone, variant, pad(cl.text, widths[j], c.right)))
		}
		lines = append(lines, clip(b.String(), w))
	}
	return padLines(lines, height+1)
}
