package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/spf13/pflag"
)

func TestSidecarPolicyFlagsOverrideTheFile(t *testing.T) {
	file := filepath.Join(t.TempDir(), "policy.json")
	if err := os.WriteFile(file, []byte(`{"default":{"max_seconds":"10m","max_tokens":1000,"max_concurrent":2},"users":[{"match":"*@trial.example.com","max_cost_usd":0.5}]}`), 0o600); err != nil {
		t.Fatal(err)
	}
	fs := pflag.NewFlagSet("agent", pflag.ContinueOnError)
	secs := fs.Float64("max-call-seconds", 0, "")
	toks := fs.Int64("max-call-tokens", 0, "")
	cost := fs.Float64("max-call-cost", 0, "")
	if err := fs.Parse([]string{"--max-call-tokens", "5000"}); err != nil {
		t.Fatal(err)
	}
	policyFor, err := sidecarPolicy(fs, file, *secs, *toks, *cost, "")
	if err != nil {
		t.Fatal(err)
	}
	p := policyFor("bob@trial.example.com")
	if p.MaxTokens != 5000 || p.MaxSeconds != 10*time.Minute || p.MaxCostUSD != 0.5 || p.MaxConcurrent != 2 {
		t.Fatalf("policy = %+v: the flag's tokens, the file's seconds, cost and concurrency", p)
	}
	if p := policyFor("alice@example.com"); p.MaxCostUSD != 0 || p.MaxTokens != 5000 {
		t.Fatalf("policy = %+v", p)
	}

	none := pflag.NewFlagSet("agent", pflag.ContinueOnError)
	if f, err := sidecarPolicy(none, "", 0, 0, 0, ""); err != nil || f != nil {
		t.Fatalf("no file, no flags: %v %v, want no policy", f != nil, err)
	}
}

func TestSidecarBadPolicyIsOneLine(t *testing.T) {
	file := filepath.Join(t.TempDir(), "policy.json")
	if err := os.WriteFile(file, []byte(`{"default":{"max_tokenz":1000}}`), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("OPENAI_API_KEY", "sk-test")
	code, _, errs := calltop(t, "agent", "--policy", file, "--nats", "nats://"+freeAddr(t))
	if code != 1 || !strings.Contains(errs, "max_tokenz") || strings.Count(errs, "\n") != 1 {
		t.Fatalf("bad policy file: exit %d, %q", code, errs)
	}
	code, _, errs = calltop(t, "agent", "--max-call-cost", "-1", "--nats", "nats://"+freeAddr(t))
	if code != 1 || !strings.Contains(errs, "≥ 0") {
		t.Fatalf("negative limit: exit %d, %q", code, errs)
	}
}

func TestSidecarHelpNeverPrintsSecrets(t *testing.T) {
	t.Setenv("CALLTOP_AGENT_TOKEN", "tok-very-secret")
	t.Setenv("OPENAI_WEBHOOK_SECRET", "whsec_very_secret")
	t.Setenv("OPENAI_BASE_URL", "http://proxy:very-secret@127.0.0.1:1/v1")
	code, out, errs := calltop(t, "agent", "-h")
	if code != 0 || strings.Contains(out+errs, "very") || !strings.Contains(out, "--token") || !strings.Contains(out, "(env CALLTOP_AGENT_TOKEN)") {
		t.Fatalf("agent -h: exit %d, printed a secret or no usage:\n%s%s", code, out, errs)
	}
}

// TestSidecarRefusesBadSettings: each mistake is one line naming it, and
// the agent does not start.
func TestSidecarRefusesBadSettings(t *testing.T) {
	dead := "nats://" + freeAddr(t) // the checks come before NATS is dialled
	prices := filepath.Join(t.TempDir(), "prices.json")
	if err := os.WriteFile(prices, []byte(`{"models":{"gpt-x":{"text_in":-1}}}`), 0o600); err != nil {
		t.Fatal(err)
	}
	typo := filepath.Join(t.TempDir(), "typo.json")
	if err := os.WriteFile(typo, []byte(`{"models":{"gpt-x":{"txt_in":1}}}`), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		args []string
		key  string
		want []string
	}{
		{[]string{"--max-frame-bytes", "0"}, "sk-test", []string{"--max-frame-bytes 0"}},
		{[]string{"--max-frame-bytes", "-5"}, "sk-test", []string{"--max-frame-bytes -5"}},
		{[]string{"--max-conns-per-client", "-1"}, "sk-test", []string{"--max-conns-per-client -1"}},
		{[]string{"--token", " "}, "sk-test", []string{"--token", "blank"}},
		{[]string{"--token", "\t\n"}, "sk-test", []string{"--token", "blank"}},
		{nil, "ek_68af296e8e408191a1120ab6383263c2", []string{"OPENAI_API_KEY", "ephemeral", "standard key"}},
		{[]string{"--prices", prices}, "sk-test", []string{prices, `"gpt-x"`, "text_in"}},
		{[]string{"--prices", typo}, "sk-test", []string{typo, `"gpt-x"`, "txt_in"}},
		{[]string{"--openai-base-url", "ftp://u:S3cretPW@example.com/v1"}, "sk-test", []string{"--openai-base-url", "xxxxx@example.com"}},
		{[]string{"--openai-base-url", "http://u:S3cretPW@exa mple.com/v1"}, "sk-test", []string{"--openai-base-url"}},
	} {
		t.Setenv("OPENAI_API_KEY", tc.key)
		code, out, errs := calltop(t, append([]string{"agent", "--nats", dead}, tc.args...)...)
		ok := code == 1 && strings.Count(errs, "\n") == 1 && !strings.Contains(out+errs, "S3cretPW") && !strings.Contains(out+errs, "68af")
		for _, w := range tc.want {
			ok = ok && strings.Contains(errs, w)
		}
		if !ok {
			t.Errorf("agent %q: exit %d, %q; want exit 1 and one line with %q, no secret", tc.args, code, errs, tc.want)
		}
	}
	// The token from the environment is checked the same way.
	t.Setenv("OPENAI_API_KEY", "sk-test")
	t.Setenv("CALLTOP_AGENT_TOKEN", "  ")
	if code, _, errs := calltop(t, "agent", "--nats", dead); code != 1 || !strings.Contains(errs, "blank") {
		t.Errorf("blank CALLTOP_AGENT_TOKEN: exit %d, %q", code, errs)
	}
}

func TestNamedTokens(t *testing.T) {
	got, err := parseNamedTokens([]string{"billing:s3cret-1", " ops : s3cret-2 ", "svc-a:s3cret-3"})
	if err != nil || len(got) != 3 || got["billing"] != "s3cret-1" || got["ops"] != "s3cret-2" || got["svc-a"] != "s3cret-3" {
		t.Fatalf("parse: %v %v", got, err)
	}
	// Each mistake is an error, and no error repeats a secret.
	for _, bad := range [][]string{{"TOPSECRET"}, {"bad name:TOPSECRET"}, {"a:"}, {"a:TOPSECRET", "a:TOPSECRET2"}, {":TOPSECRET"}} {
		if _, err := parseNamedTokens(bad); err == nil || strings.Contains(err.Error(), "TOPSECRET") {
			t.Errorf("%q: %v", bad, err)
		}
	}
}
