package main

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestSidecarPolicyFlagsOverrideTheFile(t *testing.T) {
	file := filepath.Join(t.TempDir(), "policy.json")
	if err := os.WriteFile(file, []byte(`{"default":{"max_seconds":"10m","max_tokens":1000,"max_concurrent":2},"users":[{"match":"*@trial.example.com","max_cost_usd":0.5}]}`), 0o600); err != nil {
		t.Fatal(err)
	}
	fs := flag.NewFlagSet("agent", flag.ContinueOnError)
	secs := fs.Float64("max-call-seconds", 0, "")
	toks := fs.Int64("max-call-tokens", 0, "")
	cost := fs.Float64("max-call-cost", 0, "")
	if err := fs.Parse([]string{"--max-call-tokens", "5000"}); err != nil {
		t.Fatal(err)
	}
	policyFor, err := sidecarPolicy(fs, file, *secs, *toks, *cost)
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

	none := flag.NewFlagSet("agent", flag.ContinueOnError)
	if f, err := sidecarPolicy(none, "", 0, 0, 0); err != nil || f != nil {
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
	code, out, errs := calltop(t, "agent", "-h")
	if code != 0 || strings.Contains(out+errs, "very") || !strings.Contains(errs, "-token") {
		t.Fatalf("agent -h: exit %d, printed a secret or no usage:\n%s%s", code, out, errs)
	}
}
