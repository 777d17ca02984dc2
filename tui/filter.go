package tui

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/calltop/calltop/feed"
)

// filter narrows the calls table. Typed after "/":
//
//	gpt-4o        calls whose ID, user, model, agent, flags or state contain
//	              "gpt-4o" (case-insensitive)
//	!ended        the calls that do not
//	re:^rtc_u1_   a regular expression, matched line by line against the
//	              same fields (so ^ and $ anchor one field); ~ works too
//	!re:@acme\.   negated
//
// `re:` is the form to prefer over SSH: ssh swallows ~ typed right after a
// newline as its escape character.
type filter struct {
	text   string // as typed, shown in the header
	negate bool
	sub    string         // lower-cased substring, when not a regexp
	re     *regexp.Regexp // when a regexp
}

// parseFilter reads a filter as typed; an empty or blank text is no filter.
func parseFilter(text string) (filter, error) {
	f := filter{text: strings.TrimSpace(text)}
	s := f.text
	if strings.HasPrefix(s, "!") {
		f.negate = true
		s = strings.TrimSpace(s[1:])
	}
	var expr string
	switch {
	case strings.HasPrefix(s, "re:"):
		expr = s[len("re:"):]
	case strings.HasPrefix(s, "~"):
		expr = s[len("~"):]
	default:
		f.sub = strings.ToLower(s)
		if f.sub == "" {
			return filter{}, nil
		}
		return f, nil
	}
	if expr == "" {
		return filter{}, nil
	}
	if _, err := regexp.Compile(expr); err != nil {
		return filter{}, fmt.Errorf("filter %q: %w", expr, err) // says what the operator typed
	}
	re, err := regexp.Compile("(?im)" + expr)
	if err != nil {
		return filter{}, fmt.Errorf("filter %q: %w", expr, err)
	}
	f.re = re
	return f, nil
}

// active reports whether the filter hides anything.
func (f filter) active() bool { return f.sub != "" || f.re != nil }

// matches reports whether a row passes; hay is the row's haystack.
func (f filter) matches(hay string) bool {
	if !f.active() {
		return true
	}
	var hit bool
	if f.re != nil {
		hit = f.re.MatchString(hay)
	} else {
		hit = strings.Contains(hay, f.sub)
	}
	return hit != f.negate
}

// haystack is what a filter searches in a call: its ID, user, model,
// agent, flag kinds and state, one per line and lower-cased, built once
// per change of those fields rather than on every keystroke.
func haystack(c *feed.Call) string {
	var b strings.Builder
	b.Grow(len(c.ID) + len(c.User) + len(c.Model) + len(c.Agent) + 32)
	for _, s := range []string{c.ID, c.User, c.Model, c.Agent, stateText(c, rowCtx{})} {
		b.WriteString(s)
		b.WriteByte('\n')
	}
	for _, f := range c.Flags {
		b.WriteString(string(f.Kind))
		b.WriteByte('\n')
	}
	for _, w := range c.Warnings {
		b.WriteString(string(w.Limit))
		b.WriteByte('\n')
	}
	return strings.ToLower(b.String())
}
