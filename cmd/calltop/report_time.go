package main

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// whenForms says what a time flag takes, for its help and its errors.
const whenForms = "RFC 3339 (2026-12-02T13:04:05Z, 2026-12-02T14:04:05+01:00), a UTC date (2026-12-02), " +
	"\"now\", or a time before now (-15m, -2h30m, -7d)"

// parseWhen reads a moment as `report --from/--to` and `--at` take it:
// RFC 3339, a date (midnight UTC), "now", or relative to now ("-15m").
func parseWhen(s string, now time.Time) (time.Time, error) {
	s = strings.TrimSpace(s)
	switch {
	case s == "":
		return time.Time{}, fmt.Errorf("empty time: want %s", whenForms)
	case s == "now":
		return now, nil
	case s[0] == '-':
		d, err := parseSpan(s[1:])
		if err != nil {
			return time.Time{}, fmt.Errorf("%q: %v; want %s", s, err, whenForms)
		}
		return now.Add(-d), nil
	}
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, nil
	}
	if t, err := time.Parse(time.DateOnly, s); err == nil {
		return t, nil
	}
	return time.Time{}, fmt.Errorf("%q: want %s", s, whenForms)
}

// parseSpan reads a positive duration as Go writes them (90s, 2h30m),
// with days in front if wanted (7d, 1d12h): a day is 24 hours.
func parseSpan(s string) (time.Duration, error) {
	var days time.Duration
	if i := strings.IndexByte(s, 'd'); i > 0 {
		n, err := strconv.Atoi(s[:i])
		if err != nil || n < 0 || n > 100_000 {
			return 0, fmt.Errorf("bad duration %q", s)
		}
		days, s = time.Duration(n)*24*time.Hour, s[i+1:]
	}
	var rest time.Duration
	if s != "" {
		d, err := time.ParseDuration(s)
		if err != nil {
			return 0, fmt.Errorf("bad duration %q", s)
		}
		rest = d
	}
	d := days + rest
	if d <= 0 {
		return 0, fmt.Errorf("duration must be above zero")
	}
	return d, nil
}

// spanFlag is a pflag.Value for parseSpan's durations (--since 7d).
type spanFlag struct {
	d   time.Duration
	set bool
}

func (f *spanFlag) String() string {
	if f == nil || !f.set {
		return ""
	}
	return f.d.String()
}

// Type names the value in -h.
func (f *spanFlag) Type() string { return "duration" }

func (f *spanFlag) Set(s string) error {
	d, err := parseSpan(s)
	if err != nil {
		return fmt.Errorf("%v (want e.g. 15m, 24h, 7d)", err)
	}
	f.d, f.set = d, true
	return nil
}
