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
//	api:live      GPT-Live sessions only (api:rt or api:realtime: Realtime
//	              calls; !api:live the others); another filter may follow
//	              it: "api:live !ended", "api:rt re:@acme\.io$"
//
// `re:` is the form to prefer over SSH: ssh swallows ~ typed right after a
// newline as its escape character. The API is a term of its own, not a
// word of the haystack, so "live" still means the state and does not
// also match every ended Live session.
type filter struct {
	text   string // as typed, shown in the header
	negate bool
	sub    string         // lower-cased substring, when not a regexp
	re     *regexp.Regexp // when a regexp
	// api, when set, keeps the calls on that API (the others when
	// apiNegate).
	api       feed.API
	apiNegate bool
}

// apiTerm starts the API filter term.
const apiTerm = "api:"

// parseFilter reads a filter as typed; an empty or blank text is no filter.
func parseFilter(text string) (filter, error) {
	f := filter{text: strings.TrimSpace(text)}
	s := f.text
	if api, neg, rest, ok, err := cutAPITerm(s); err != nil {
		return filter{}, err
	} else if ok {
		f.api, f.apiNegate, s = api, neg, rest
	}
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
		if f.sub == "" && f.api == "" {
			return filter{}, nil
		}
		return f, nil
	}
	if expr == "" {
		if f.api != "" {
			return filter{text: f.text, api: f.api, apiNegate: f.apiNegate}, nil
		}
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

// cutAPITerm takes a leading "api:NAME" or "!api:NAME" off s: ok is
// false when s does not start with one. NAME is what feed.ParseAPI reads,
// or the start of it, so the table follows as it is typed ("api:l" is
// already Live); "api:" with no name yet is no API term.
func cutAPITerm(s string) (api feed.API, negate bool, rest string, ok bool, err error) {
	t := s
	if strings.HasPrefix(t, "!") {
		negate, t = true, strings.TrimSpace(t[1:])
	}
	if len(t) < len(apiTerm) || !strings.EqualFold(t[:len(apiTerm)], apiTerm) {
		return "", false, s, false, nil
	}
	t = t[len(apiTerm):]
	name, rest, _ := strings.Cut(t, " ")
	rest = strings.TrimSpace(rest)
	if name == "" {
		return "", false, rest, true, nil
	}
	if api, ok := feed.ParseAPI(name); ok {
		return api, negate, rest, true, nil
	}
	lower := strings.ToLower(name)
	for _, known := range []string{"realtime", "live", "gpt-live"} {
		if strings.HasPrefix(known, lower) {
			api, _ := feed.ParseAPI(known)
			return api, negate, rest, true, nil
		}
	}
	return "", false, s, false, fmt.Errorf("filter: no API %q (api:live, api:rt or api:realtime)", name)
}

// active reports whether the filter hides anything.
func (f filter) active() bool { return f.sub != "" || f.re != nil || f.api != "" }

// matches reports whether a row passes; hay is the row's haystack, api
// its call's API (feed.Call.Kind).
func (f filter) matches(hay string, api feed.API) bool {
	if !f.active() {
		return true
	}
	if f.api != "" && (api == f.api) == f.apiNegate {
		return false
	}
	var hit bool
	switch {
	case f.re != nil:
		hit = f.re.MatchString(hay)
	case f.sub != "":
		hit = strings.Contains(hay, f.sub)
	default:
		return true // the API term alone
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
