package main

import (
	"context"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

func TestHelpListsTheCommands(t *testing.T) {
	for _, args := range [][]string{{"-h"}, {"--help"}, {"help"}} {
		code, out, errs := calltop(t, args...)
		if code != 0 || errs != "" {
			t.Fatalf("calltop %v: exit %d, stderr %q", args, code, errs)
		}
		for _, name := range []string{"watch", "ls", "kill", "credits", "agent", "server", "serve", "demo", "standin", "version", "completion"} {
			if !regexp.MustCompile(`(?m)^  ` + name + ` +\S`).MatchString(out) {
				t.Errorf("calltop %v does not list %s:\n%s", args, name, out)
			}
		}
	}
	// A command's help goes to stdout, with its own flags first and the
	// NATS ones, the same everywhere, after them.
	code, out, _ := calltop(t, "ls", "-h")
	own, nats, ok := strings.Cut(out, "\nNATS flags")
	if code != 0 || !ok || !strings.Contains(own, "Usage:\n  calltop ls [flags]") || !strings.Contains(own, "--json") || strings.Contains(own, "--creds") ||
		!strings.Contains(nats, "--creds file") || !strings.Contains(nats, "--tls-ca file") || strings.Contains(nats, "--json") {
		t.Errorf("ls -h: exit %d\n%s", code, out)
	}
	// credits add parses its own flags (for its negative amounts): -h too.
	if code, out, errs := calltop(t, "credits", "add", "bob", "-2", "-h"); code != 0 || !strings.Contains(out, "calltop credits add USER USD") || errs != "" {
		t.Errorf("credits add -h: exit %d, %q %q", code, out, errs)
	}
}

func TestVersion(t *testing.T) {
	for _, args := range [][]string{{"version"}, {"--version"}} {
		code, out, _ := calltop(t, args...)
		if code != 0 || !regexp.MustCompile(`^calltop \S+.* go1\.\d+.* \w+/\w+\n$`).MatchString(out) {
			t.Errorf("calltop %v: exit %d, %q", args, code, out)
		}
	}
	defer func(v string) { version = v }(version)
	version = "v9.8.7" // as make build sets it: -ldflags "-X main.version=…"
	if code, out, _ := calltop(t, "version"); code != 0 || !strings.HasPrefix(out, "calltop v9.8.7 ") {
		t.Errorf("version with -X main.version: exit %d, %q", code, out)
	}
	if code, _, errs := calltop(t, "version", "extra"); code != 2 || !strings.Contains(errs, `unexpected argument "extra"`) {
		t.Errorf("version extra: exit %d, %q", code, errs)
	}
}

func TestCompletions(t *testing.T) {
	for shell, want := range map[string]string{
		"bash": "__start_calltop", "zsh": "#compdef calltop", "fish": "complete -c calltop", "powershell": "Register-ArgumentCompleter",
	} {
		code, out, errs := calltop(t, "completion", shell)
		if code != 0 || !strings.Contains(out, want) {
			t.Errorf("completion %s: exit %d, %d bytes without %q; stderr %q", shell, code, len(out), want, errs)
		}
	}
	// The scripts call back into calltop for the words.
	for _, tc := range []struct {
		args []string
		want []string
	}{
		{[]string{"__complete", "cre"}, []string{"credits"}},
		{[]string{"__complete", "credits", ""}, []string{"set", "add", "ls"}},
		{[]string{"__complete", "ls", "--tls-"}, []string{"--tls-ca", "--tls-cert", "--tls-key"}},
	} {
		code, out, _ := calltop(t, tc.args...)
		for _, w := range tc.want {
			if code != 0 || !regexp.MustCompile(`(?m)^`+regexp.QuoteMeta(w)+`\t`).MatchString(out) {
				t.Errorf("%v: exit %d, %q; want %q offered", tc.args, code, out, w)
			}
		}
	}
}

// TestEnvironmentInOnePlace: every variable a command reads is tied to its
// flag with env (so -h says so and it applies the same way everywhere),
// except the few that have no flag on purpose.
func TestEnvironmentInOnePlace(t *testing.T) {
	noFlag := map[string]bool{
		"OPENAI_API_KEY": true, // a secret that must not be a flag (shell history, ps)
		"USER":           true, // who the operator is
		"GODEBUG":        true, // the load generator's agents' gctrace
	}
	files, err := os.ReadDir(".")
	if err != nil {
		t.Fatal(err)
	}
	getenv := regexp.MustCompile(`os\.(?:Getenv|LookupEnv)\("([A-Z_]+)"\)`)
	for _, f := range files {
		if !strings.HasSuffix(f.Name(), ".go") || strings.HasSuffix(f.Name(), "_test.go") {
			continue
		}
		src, err := os.ReadFile(f.Name())
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range getenv.FindAllStringSubmatch(string(src), -1) {
			if !noFlag[m[1]] {
				t.Errorf("%s reads %s itself: tie it to its flag with env(fs, flag, %q)", f.Name(), m[1], m[1])
			}
		}
	}
	// And -h says, for every flag tied to a variable, which one.
	var walk func(*cobra.Command)
	seen := 0
	walk = func(c *cobra.Command) {
		usage := c.Flags().FlagUsages()
		c.Flags().VisitAll(func(f *pflag.Flag) {
			if v := f.Annotations[envAnnotation]; len(v) == 1 {
				seen++
				if !strings.Contains(usage, "(env "+v[0]+")") {
					t.Errorf("%s -h: --%s does not name %s", c.CommandPath(), f.Name, v[0])
				}
			}
		})
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(newRoot())
	if seen < 20 {
		t.Errorf("only %d flags tied to variables: the walk missed commands", seen)
	}
}

// TestEnvironmentAppliesAfterParsing: a variable applies when its flag is
// not given, the flag wins when it is, and neither -h nor an error shows
// credentials from the environment.
func TestEnvironmentAppliesAfterParsing(t *testing.T) {
	url := embeddedNATS(t)
	t.Setenv("NATS_URL", url)
	t.Setenv("CALLTOP_PREFIX", "envprefix")
	if code, out, errs := calltop(t, "credits", "set", "bob", "5"); code != 0 || out != "bob: $5.00\n" {
		t.Fatalf("credits set with NATS_URL and CALLTOP_PREFIX: exit %d, %q %q", code, out, errs)
	}
	if code, out, _ := calltop(t, "credits", "ls", "--json", "--prefix", "calltop"); code != 0 || out != "" {
		t.Errorf("--prefix calltop over CALLTOP_PREFIX: exit %d, %q; want the default prefix's empty store", code, out)
	}
	if code, out, _ := calltop(t, "credits", "ls", "--json"); code != 0 || !strings.Contains(out, `"bob"`) {
		t.Errorf("credits ls under CALLTOP_PREFIX: exit %d, %q", code, out)
	}

	secret := "nats://alice:S3cretPW@" + freeAddr(t)
	t.Setenv("NATS_URL", secret)
	code, out, errs := calltop(t, "ls", "-h")
	if code != 0 || strings.Contains(out+errs, "S3cret") || !strings.Contains(out, "(env NATS_URL)") {
		t.Errorf("ls -h with a password in NATS_URL: exit %d\n%s%s", code, out, errs)
	}
	code, _, errs = calltop(t, "ls")
	if code != 1 || strings.Contains(errs, "S3cret") || !strings.Contains(errs, "xxxxx@127.0.0.1") || strings.Count(errs, "\n") != 1 {
		t.Errorf("ls to a dead NATS_URL with a password: exit %d, %q", code, errs)
	}

	t.Setenv("CALLTOP_REPLICAS", "three")
	code, _, errs = calltop(t, "ls", "--nats", url)
	if code != 2 || !strings.Contains(errs, `CALLTOP_REPLICAS="three": not a valid int for --replicas`) {
		t.Errorf("CALLTOP_REPLICAS=three: exit %d, %q", code, errs)
	}
}

// TestInterruptedIs130: a command cut short by ctrl+c (its context
// cancelled) exits 130 and prints no error.
func TestInterruptedIs130(t *testing.T) {
	url := embeddedNATS(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	var out, errs syncBuffer
	if code := run(ctx, []string{"ls", "--nats", url}, &out, &errs); code != 130 || errs.String() != "" {
		t.Errorf("ls interrupted: exit %d, stderr %q", code, errs.String())
	}
}
