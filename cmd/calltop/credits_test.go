package main

import (
	"bufio"
	"encoding/json"
	"strings"
	"testing"

	"github.com/calltop/calltop/feed"
)

func embeddedNATS(t *testing.T) string {
	t.Helper()
	srv, err := feed.RunServer(feed.ServerOptions{Port: -1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Shutdown)
	return srv.ClientURL()
}

// TestCredits drives `calltop credits` the way docs/BUDGETS.md does.
func TestCredits(t *testing.T) {
	url := embeddedNATS(t)
	for _, tc := range []struct {
		args []string
		out  string
	}{
		{[]string{"credits", "set", "alice@example.com", "5", "--nats", url}, "alice@example.com: $5.0000\n"},
		{[]string{"credits", "add", "alice@example.com", "-1.25", "--nats", url}, "alice@example.com: $3.7500\n"},
		{[]string{"credits", "add", "--nats", url, "bob.smith", "$0.50"}, "bob.smith: $0.5000\n"},
		{[]string{"credits", "--nats", url, "add", "bob.smith", "-$2"}, "bob.smith: -$1.5000\n"},
		{[]string{"credits", "set", "--nats", url, "--", "-odd-user-", "1"}, "-odd-user-: $1.0000\n"},
	} {
		code, out, errs := calltop(t, tc.args...)
		if code != 0 || out != tc.out {
			t.Fatalf("calltop %v: exit %d, out %q, err %q; want %q", tc.args, code, out, errs, tc.out)
		}
	}
	code, out, errs := calltop(t, "credits", "ls", "--nats", url)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if code != 0 || len(lines) != 4 || !strings.HasPrefix(lines[0], "USER") ||
		!strings.Contains(lines[2], "alice@example.com") || !strings.Contains(lines[2], "$3.7500") ||
		!strings.Contains(lines[3], "bob.smith") || !strings.Contains(lines[3], "-$1.5000") {
		t.Fatalf("ls: exit %d, err %q\n%s", code, errs, out)
	}
	code, out, errs = calltop(t, "credits", "ls", "--json", "--nats", url)
	if code != 0 {
		t.Fatalf("ls --json: exit %d: %s", code, errs)
	}
	got := map[string]feed.CreditEntry{}
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		var e feed.CreditEntry
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			t.Fatalf("ls --json line %q: %v", sc.Text(), err)
		}
		got[e.User] = e
	}
	if len(got) != 3 || got["alice@example.com"].Balance != 3_750_000 || got["bob.smith"].Balance != -1_500_000 || got["bob.smith"].UpdatedAt.IsZero() {
		t.Fatalf("ls --json: %+v", got)
	}
	// Another prefix is another store.
	if code, out, _ := calltop(t, "credits", "ls", "--json", "--prefix", "other", "--nats", url); code != 0 || out != "" {
		t.Fatalf("other prefix: exit %d, %q", code, out)
	}
}

func TestCreditsBadInput(t *testing.T) {
	url := embeddedNATS(t)
	dead := "nats://" + freeAddr(t)
	for _, tc := range []struct {
		args    []string
		code    int
		want    string
		oneLine bool
	}{
		{[]string{"credits", "set", "alice", "five", "--nats", url}, 2, `calltop credits set: bad amount "five": want a number of USD`, true},
		{[]string{"credits", "add", "alice", "NaN", "--nats", url}, 2, `bad amount "NaN"`, true},
		{[]string{"credits", "add", "alice", "1e999", "--nats", url}, 2, `bad amount "1e999"`, true},
		{[]string{"credits", "add", "alice", "0x10", "--nats", url}, 2, `bad amount "0x10"`, true},
		{[]string{"credits", "set", "alice", "5,00", "--nats", url}, 2, `bad amount "5,00"`, true},
		{[]string{"credits", "set", " ", "5", "--nats", url}, 2, "empty user", true},
		{[]string{"credits", "frob", "--nats", url}, 2, `unknown action "frob"`, true},
		{[]string{"credits", "set", "alice", "--nats", url}, 2, "want 2 arguments, got 1", false},
		{[]string{"credits", "ls", "extra", "--nats", url}, 2, "want 0 arguments, got 1", false},
		{[]string{"credits", "set", "alice", "1", "--json", "--nats", url}, 2, "--json is for ls", true},
		{[]string{"credits", "--bogus"}, 2, "flag provided but not defined", false},
		{[]string{"credits"}, 2, "Usage: calltop credits", false},
		{[]string{"credits", "ls", "--nats", dead}, 1, "connect to NATS", true},
		{[]string{"credits", "ls", "--prefix", "a..b", "--nats", url}, 1, "subject prefix", true},
	} {
		code, out, errs := calltop(t, tc.args...)
		if code != tc.code || !strings.Contains(errs, tc.want) || out != "" || strings.Contains(errs, "goroutine ") ||
			(tc.oneLine && strings.Count(errs, "\n") != 1) {
			t.Errorf("calltop %v: exit %d, stdout %q, stderr %q; want exit %d mentioning %q", tc.args, code, out, errs, tc.code, tc.want)
		}
	}
	// Nothing was written by the refused commands.
	if code, out, _ := calltop(t, "credits", "ls", "--json", "--nats", url); code != 0 || out != "" {
		t.Fatalf("refused commands changed the store: %q", out)
	}
}
