package policy

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path"
	"slices"
	"strings"
	"time"
)

// File is the sidecar's policy (`calltop agent --policy FILE`): a
// default for every user and overrides for some, by exact user or glob.
//
//	{
//	  "default": {"max_seconds": "10m", "max_cost_usd": 2, "max_concurrent": 2, "max_per_hour": 30},
//	  "users": [
//	    {"match": "vip@example.com", "max_seconds": "55m", "max_cost_usd": 0},
//	    {"match": "*@trial.example.com", "max_cost_usd": 0.5, "max_per_hour": 3}
//	  ]
//	}
//
// An override changes only the fields it names; the rest come from the
// default. An exact match wins over globs; among globs the first in the
// file wins. Globs are path.Match patterns: '*' any run of characters
// except '/', '?' one character, '[a-z]' a class.
type File struct {
	// Path is where the file was read from, for messages.
	Path string
	// Default applies to users no override matches.
	Default Policy
	// Users are the overrides in file order, each already merged over
	// Default.
	Users []Override
}

// Override is one override: the users it matches and their policy.
type Override struct {
	Match  string
	Policy Policy
}

// For returns user's policy.
func (f *File) For(user string) Policy {
	for _, u := range f.Users {
		if !isGlob(u.Match) && u.Match == user {
			return u.Policy
		}
	}
	for _, u := range f.Users {
		if isGlob(u.Match) {
			if ok, _ := path.Match(u.Match, user); ok {
				return u.Policy
			}
		}
	}
	return f.Default
}

func isGlob(s string) bool { return strings.ContainsAny(s, `*?[\`) }

// Load reads and checks a policy file. Errors name the file, the
// entry and the field ("policy.json: users[1] (*@trial.example.com):
// max_cost_usd: must be ≥ 0"); unknown fields are errors, so a typo is
// not silently no limit.
func Load(file string) (File, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return File{}, fmt.Errorf("policy file: %w", err)
	}
	return Parse(file, data)
}

// Parse is Load for data already read; name is used in
// errors.
func Parse(name string, data []byte) (File, error) {
	f := File{Path: name}
	fail := func(format string, args ...any) (File, error) {
		return File{}, fmt.Errorf("policy file %s: "+format, append([]any{name}, args...)...)
	}
	if len(bytes.TrimSpace(data)) == 0 {
		return fail("empty (want a JSON object with \"default\" and \"users\")")
	}
	var top struct {
		Default map[string]json.RawMessage   `json:"default"`
		Users   []map[string]json.RawMessage `json:"users"`
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&top); err != nil {
		return fail("%s", jsonError(data, err))
	}
	if dec.More() {
		return fail("%s: more than one JSON value", position(data, dec.InputOffset()))
	}
	if err := setFields(&f.Default, top.Default); err != nil {
		return fail("default: %w", err)
	}
	if err := f.Default.Validate(); err != nil {
		return fail("default: %w", err)
	}
	exact := make(map[string]int)
	for i, raw := range top.Users {
		where := fmt.Sprintf("users[%d]", i)
		var match string
		if m, ok := raw["match"]; !ok {
			return fail("%s: no \"match\" (a user, or a glob such as \"*@example.com\")", where)
		} else if err := json.Unmarshal(m, &match); err != nil || strings.TrimSpace(match) == "" {
			return fail("%s: match: want a non-empty string, got %s", where, m)
		}
		where = fmt.Sprintf("users[%d] (%s)", i, match)
		if _, err := path.Match(match, ""); err != nil {
			return fail("%s: match: bad glob: %w", where, err)
		}
		if !isGlob(match) {
			if j, dup := exact[match]; dup {
				return fail("%s: same user as users[%d]", where, j)
			}
			exact[match] = i
		}
		delete(raw, "match")
		p := f.Default
		if err := setFields(&p, raw); err != nil {
			return fail("%s: %w", where, err)
		}
		if err := p.Validate(); err != nil {
			return fail("%s: %w", where, err)
		}
		f.Users = append(f.Users, Override{Match: match, Policy: p})
	}
	return f, nil
}

// policyFields sets each field a policy file may name.
var policyFields = map[string]func(p *Policy, raw json.RawMessage) error{
	"max_seconds":           func(p *Policy, r json.RawMessage) error { return limitDuration(r, &p.MaxSeconds) },
	"max_tokens":            func(p *Policy, r json.RawMessage) error { return number(r, &p.MaxTokens) },
	"max_cost_usd":          func(p *Policy, r json.RawMessage) error { return number(r, &p.MaxCostUSD) },
	"warn_at":               func(p *Policy, r json.RawMessage) error { return number(r, &p.WarnAt) },
	"wrap_up":               func(p *Policy, r json.RawMessage) error { return strict(r, &p.WrapUp, "true or false") },
	"max_concurrent":        func(p *Policy, r json.RawMessage) error { return number(r, &p.MaxConcurrent) },
	"max_per_hour":          func(p *Policy, r json.RawMessage) error { return number(r, &p.MaxPerHour) },
	"burn_rate_usd_per_min": func(p *Policy, r json.RawMessage) error { return burnRate(r, &p.BurnRateUSDPerMin) },
	"near_cap":              func(p *Policy, r json.RawMessage) error { return signalDuration(r, &p.NearCap) },
	"silence":               func(p *Policy, r json.RawMessage) error { return signalDuration(r, &p.Silence) },
	"credits_unavailable": func(p *Policy, r json.RawMessage) error {
		return strict(r, &p.CreditsUnavailable, `"allow", "refuse" or "hangup"`)
	},
}

// Fields lists the fields a policy file entry may set, sorted.
func Fields() []string {
	names := make([]string, 0, len(policyFields))
	for n := range policyFields {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

func setFields(p *Policy, raw map[string]json.RawMessage) error {
	names := make([]string, 0, len(raw))
	for n := range raw {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, n := range names {
		set, ok := policyFields[n]
		if !ok {
			return fmt.Errorf("unknown field %q (known: %s)", n, strings.Join(Fields(), ", "))
		}
		if string(bytes.TrimSpace(raw[n])) == "null" {
			return fmt.Errorf("%s: null is not a value (leave the field out to inherit the default; 0 is no limit)", n)
		}
		if err := set(p, raw[n]); err != nil {
			return fmt.Errorf("%s: %w", n, err)
		}
	}
	return nil
}

func strict[T any](raw json.RawMessage, v *T, want string) error {
	if err := json.Unmarshal(raw, v); err != nil {
		return fmt.Errorf("want %s, got %s", want, raw)
	}
	return nil
}

func number[T int | int64 | float64](raw json.RawMessage, v *T) error {
	var f float64
	if err := json.Unmarshal(raw, &f); err != nil {
		return fmt.Errorf("want a number, got %s", raw)
	}
	if math.Trunc(f) != f {
		var zero T
		if _, isFloat := any(zero).(float64); !isFloat {
			return fmt.Errorf("want a whole number, got %s", raw)
		}
	}
	if f < 0 {
		return fmt.Errorf("must be ≥ 0, got %s", raw)
	}
	if f > 1e15 {
		return fmt.Errorf("too large, got %s", raw)
	}
	*v = T(f)
	return nil
}

// duration reads a Go duration string ("90s", "10m") or a number of
// seconds; off reports the string "off".
func duration(raw json.RawMessage) (d time.Duration, off bool, err error) {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		if s == "off" {
			return 0, true, nil
		}
		d, err := time.ParseDuration(s)
		if err != nil {
			return 0, false, fmt.Errorf("want a duration such as \"90s\" or \"10m\", a number of seconds or \"off\", got %q", s)
		}
		if d < 0 {
			return 0, false, fmt.Errorf("must be ≥ 0, got %q", s)
		}
		return d, false, nil
	}
	var secs float64
	if err := json.Unmarshal(raw, &secs); err != nil {
		return 0, false, fmt.Errorf("want a duration such as \"90s\" or \"10m\", a number of seconds or \"off\", got %s", raw)
	}
	if secs < 0 || secs > math.MaxInt64/float64(time.Second) {
		return 0, false, fmt.Errorf("must be between 0 and a few centuries of seconds, got %s", raw)
	}
	return time.Duration(secs * float64(time.Second)), false, nil
}

// limitDuration: "off" and 0 both mean no limit.
func limitDuration(raw json.RawMessage, d *time.Duration) error {
	v, _, err := duration(raw)
	*d = v
	return err
}

// signalDuration: "off" turns the signal off (negative in Policy); 0 is
// the default.
func signalDuration(raw json.RawMessage, d *time.Duration) error {
	v, off, err := duration(raw)
	if off {
		v = -1
	}
	*d = v
	return err
}

func burnRate(raw json.RawMessage, v *float64) error {
	var s string
	if json.Unmarshal(raw, &s) == nil && s == "off" {
		*v = -1
		return nil
	}
	if err := number(raw, v); err != nil {
		return errors.New(strings.Replace(err.Error(), "want a number", `want a number of USD per minute or "off"`, 1))
	}
	return nil
}

// jsonError adds the line and column of a syntax or type error.
func jsonError(data []byte, err error) string {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syn):
		return fmt.Sprintf("%s: %v", position(data, syn.Offset), syn)
	case errors.As(err, &typ):
		field := typ.Field
		if field == "" {
			field = "the file"
		}
		return fmt.Sprintf("%s: %s: want %s, got %s", position(data, typ.Offset), field, kindOf(typ.Type.Kind().String()), typ.Value)
	case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		return "unexpected end of file (an unclosed { or [ ?)"
	}
	msg := strings.TrimPrefix(err.Error(), "json: ")
	if strings.HasPrefix(msg, "unknown field") {
		msg += ` (a policy file has "default" and "users")`
	}
	return msg
}

func kindOf(k string) string {
	switch k {
	case "map", "struct":
		return "an object"
	case "slice":
		return "a list"
	}
	return k
}

// position turns a byte offset into "line:col".
func position(data []byte, off int64) string {
	off = min(max(off, 0), int64(len(data)))
	before := data[:off]
	line := bytes.Count(before, []byte("\n")) + 1
	col := int(off) - bytes.LastIndexByte(before, '\n')
	return fmt.Sprintf("line %d col %d", line, col)
}
