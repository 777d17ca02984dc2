package policy

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/calltop/calltop/feed"
)

const examplePolicy = `{
  "default": {"max_seconds": "10m", "max_tokens": 200000, "max_cost_usd": 2, "warn_at": 0.75,
              "max_concurrent": 2, "max_per_hour": 30, "silence": 90},
  "users": [
    {"match": "*@trial.example.com", "max_cost_usd": 0.5, "max_per_hour": 3, "near_cap": "off"},
    {"match": "vip@example.com", "max_seconds": "55m", "max_cost_usd": 0, "wrap_up": true, "burn_rate_usd_per_min": "off"},
    {"match": "*@example.com", "max_concurrent": 5},
    {"match": "boss@trial.example.com", "max_tokens": 0}
  ]
}`

func TestPolicyFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "policy.json")
	if err := os.WriteFile(path, []byte(examplePolicy), 0o600); err != nil {
		t.Fatal(err)
	}
	f, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	def := Policy{MaxSeconds: 10 * time.Minute, MaxTokens: 200000, MaxCostUSD: 2, WarnAt: 0.75, MaxConcurrent: 2, MaxPerHour: 30, Silence: 90 * time.Second}
	trial := def
	trial.MaxCostUSD, trial.MaxPerHour, trial.NearCap = 0.5, 3, -1
	vip := def
	vip.MaxSeconds, vip.MaxCostUSD, vip.WrapUp, vip.BurnRateUSDPerMin = 55*time.Minute, 0, true, -1
	staff := def
	staff.MaxConcurrent = 5
	boss := def
	boss.MaxTokens = 0
	for user, want := range map[string]Policy{
		"someone@else.org":       def,
		"":                       def,
		"ann@trial.example.com":  trial,
		"vip@example.com":        vip,   // exact beats the glob listed after it… and before it
		"joe@example.com":        staff, // *@example.com
		"boss@trial.example.com": boss,  // exact beats the earlier glob
	} {
		if got := f.For(user); got != want {
			t.Errorf("For(%q) = %+v, want %+v", user, got, want)
		}
	}
	if f.Path != path || len(f.Users) != 4 {
		t.Fatalf("file: %+v", f)
	}
}

func TestPolicyFileMinimal(t *testing.T) {
	f, err := Parse("p.json", []byte(`{"default": {"max_seconds": 600.5}}`))
	if err != nil {
		t.Fatal(err)
	}
	if got := f.For("x"); got.MaxSeconds != 600500*time.Millisecond {
		t.Fatalf("%+v", got)
	}
	if f, err := Parse("p.json", []byte(`{}`)); err != nil || f.For("x") != (Policy{}) {
		t.Fatalf("empty object: %+v %v", f, err)
	}
}

func TestPolicyFileErrors(t *testing.T) {
	for _, tc := range []struct{ file, want string }{
		{``, "policy file bad.json: empty"},
		{"{\n  \"default\": {\"max_seconds\": 10,}\n}", "bad.json: line 2 col 34: invalid character '}'"},
		{`{"default": {"max_seconds": 10}`, "bad.json: unexpected end of file"},
		{`{"default": {}} {}`, "more than one JSON value"},
		{`[]`, "want an object"},
		{`{"defaults": {}}`, `unknown field "defaults"`},
		{`{"users": {}}`, "users: want a list"},
		{`{"default": {"max_secs": 10}}`, `default: unknown field "max_secs" (known: burn_rate_usd_per_min, `},
		{`{"default": {"max_tokens": "many"}}`, `default: max_tokens: want a number, got "many"`},
		{`{"default": {"max_tokens": 1.5}}`, `default: max_tokens: want a whole number, got 1.5`},
		{`{"default": {"max_cost_usd": -1}}`, `default: max_cost_usd: must be ≥ 0, got -1`},
		{`{"default": {"max_cost_usd": null}}`, `default: max_cost_usd: null is not a value`},
		{`{"default": {"warn_at": 1.2}}`, `default: warn_at: must be a fraction in (0, 1]`},
		{`{"default": {"max_seconds": "ten minutes"}}`, `default: max_seconds: want a duration such as "90s"`},
		{`{"default": {"max_seconds": "-5m"}}`, `default: max_seconds: must be ≥ 0`},
		{`{"default": {"silence": true}}`, `default: silence: want a duration`},
		{`{"default": {"wrap_up": "yes"}}`, `default: wrap_up: want true or false, got "yes"`},
		{`{"default": {"burn_rate_usd_per_min": "high"}}`, `burn_rate_usd_per_min: want a number of USD per minute or "off"`},
		{`{"users": [{"max_seconds": 10}]}`, `users[0]: no "match"`},
		{`{"users": [{"match": ""}]}`, `users[0]: match: want a non-empty string`},
		{`{"users": [{"match": 3}]}`, `users[0]: match: want a non-empty string, got 3`},
		{`{"users": [{"match": "[a-"}]}`, `users[0] ([a-): match: bad glob`},
		{`{"users": [{"match": "a@x"}, {"match": "b@x"}, {"match": "a@x"}]}`, `users[2] (a@x): same user as users[0]`},
		{`{"users": [{"match": "*@x", "max_per_hour": -3}]}`, `users[0] (*@x): max_per_hour: must be ≥ 0, got -3`},
	} {
		_, err := Parse("bad.json", []byte(tc.file))
		if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.HasPrefix(err.Error(), "policy file bad.json") {
			t.Errorf("%s\n got: %v\nwant: %s", tc.file, err, tc.want)
		}
	}
	_, err := Load(filepath.Join(t.TempDir(), "missing.json"))
	if err == nil || !strings.Contains(err.Error(), "missing.json") {
		t.Fatalf("missing file: %v", err)
	}
}

// TestBudgetsDocExamples parses every JSON example in docs/BUDGETS.md, so
// the documented file format, policy and refusal cannot drift from the
// code.
func TestBudgetsDocExamples(t *testing.T) {
	doc, err := os.ReadFile("../../docs/BUDGETS.md")
	if err != nil {
		t.Fatal(err)
	}
	var files, policies, events int
	for _, b := range regexp.MustCompile("(?s)```json\n(.*?)```").FindAllSubmatch(doc, -1) {
		var probe map[string]json.RawMessage
		if err := json.Unmarshal(b[1], &probe); err != nil {
			t.Fatalf("example is not JSON: %v\n%s", err, b[1])
		}
		switch {
		case probe["default"] != nil:
			f, err := Parse("BUDGETS.md", b[1])
			if err != nil {
				t.Fatal(err)
			}
			if p := f.For("ann@trial.example.com"); p.MaxCostUSD != 0.5 || p.MaxSeconds != 10*time.Minute {
				t.Fatalf("trial user: %+v", p)
			}
			files++
		case probe["kind"] != nil:
			t.Fatalf("a schema 1 event example: show what agents write now, a ```nats block\n%s", b[1])
		default:
			dec := json.NewDecoder(bytes.NewReader(b[1]))
			dec.DisallowUnknownFields()
			var p feed.EffectivePolicy
			if err := dec.Decode(&p); err != nil {
				t.Fatalf("policy example: %v\n%s", err, b[1])
			}
			policies++
		}
	}
	for _, b := range regexp.MustCompile("(?s)```nats\n(.*?)```").FindAllSubmatch(doc, -1) {
		subject, data, _ := strings.Cut(strings.TrimSpace(string(b[1])), " ")
		if _, err := (feed.Subjects{}).DecodeMsg(subject, []byte(data)); err != nil {
			t.Fatalf("event example: %v\n%s", err, b[1])
		}
		events++
	}
	if files != 1 || policies != 1 || events != 1 {
		t.Fatalf("examples: %d files, %d policies, %d events", files, policies, events)
	}
}
