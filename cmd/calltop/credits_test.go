package main

import (
	"bufio"
	"encoding/json"
	"strings"
	"testing"

	"github.com/calltop/calltop/feed"
	"github.com/calltop/calltop/natsserver"
)

func embeddedNATS(t *testing.T) string {
	t.Helper()
	srv, err := natsserver.Run(natsserver.Options{Port: -1})
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
		{[]string{"credits", "set", "alice@example.com", "5", "--nats", url}, "alice@example.com: $5.00\n"},
		{[]string{"credits", "add", "alice@example.com", "-1.25", "--nats", url}, "alice@example.com: $3.75\n"},
		{[]string{"credits", "add", "--nats", url, "bob.smith", "$0.50"}, "bob.smith: $0.50\n"},
		{[]string{"credits", "--nats", url, "add", "bob.smith", "-$2"}, "bob.smith: -$1.50\n"},
		{[]string{"credits", "add", "bob.smith", "$-0.000001", "--nats", url}, "bob.smith: -$1.500001\n"},
		{[]string{"credits", "add", "bob.smith", "0.0000010", "--nats", url}, "bob.smith: -$1.50\n"},
		{[]string{"credits", "set", "--nats", url, "--", "-odd-user-", "1"}, "-odd-user-: $1.00\n"},
		{[]string{"credits", "set", "--nats", url, "evil\x1b[2Jname", "+.5"}, "evil?[2Jname: $0.50\n"},
	} {
		code, out, errs := calltop(t, tc.args...)
		if code != 0 || out != tc.out {
			t.Fatalf("calltop %v: exit %d, out %q, err %q; want %q", tc.args, code, out, errs, tc.out)
		}
	}
	code, out, errs := calltop(t, "credits", "ls", "--nats", url)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if code != 0 || len(lines) != 5 || !strings.HasPrefix(lines[0], "USER") ||
		!strings.Contains(lines[2], "alice@example.com") || !strings.Contains(lines[2], "$3.75 ") ||
		!strings.Contains(lines[3], "bob.smith") || !strings.Contains(lines[3], "-$1.50 ") ||
		!strings.Contains(lines[4], "evil?[2Jname") || strings.ContainsRune(out, 0x1b) {
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
	if len(got) != 4 || got["alice@example.com"].Balance != 3_750_000 || got["bob.smith"].Balance != -1_500_000 || got["bob.smith"].UpdatedAt.IsZero() ||
		!strings.Contains(out, `"balance_micros":3750000,`) {
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
		{[]string{"credits", "add", "bob", "1e308", "--nats", url}, 2, `calltop credits add: bad amount "1e308": exponents are not accepted`, true},
		{[]string{"credits", "set", "bob", "0.0000001", "--nats", url}, 2, `bad amount "0.0000001": more than 6 decimals`, true},
		{[]string{"credits", "set", "bob", "10000000000000", "--nats", url}, 2, `bad amount "10000000000000": beyond ±$9000000000000`, true},
		{[]string{"credits", "set", "bob", "1\x1b[2J", "--nats", url}, 2, `bad amount "1\x1b[2J"`, true},
		{[]string{"credits", "set", "bob", "", "--nats", url}, 2, "calltop credits set: empty amount", true},
		{[]string{"credits", "add", "alice", "0x10", "--nats", url}, 2, `bad amount "0x10"`, true},
		{[]string{"credits", "set", "alice", "5,00", "--nats", url}, 2, `bad amount "5,00"`, true},
		{[]string{"credits", "set", " ", "5", "--nats", url}, 2, "empty user", true},
		{[]string{"credits", "frob", "--nats", url}, 2, `unknown action "frob"`, true},
		{[]string{"credits", "set", "alice", "--nats", url}, 2, "want 2 arguments, USER USD, got 1 (alice)", false},
		{[]string{"credits", "ls", "extra", "--nats", url}, 2, `unexpected argument "extra"`, true},
		{[]string{"credits", "set", "alice", "1", "--json", "--nats", url}, 2, "unknown flag: --json", true},
		{[]string{"credits", "--bogus"}, 2, "want an action: set, add or ls", false},
		{[]string{"credits", "add", "bob", "1", "--bogus"}, 2, "unknown flag: --bogus", true},
		{[]string{"credits", "add", "bob", "1", "-nats", url}, 2, "-nats: flags take two dashes: --nats", true},
		{[]string{"credits"}, 2, "Usage:\n  calltop credits set|add|ls", false},
		{[]string{"credits", "ls", "--nats", dead}, 1, "connect to NATS", true},
		{[]string{"credits", "ls", "--prefix", "a..b", "--nats", url}, 1, "subject prefix", true},
	} {
		code, out, errs := calltop(t, tc.args...)
		if code != tc.code || !strings.Contains(errs, tc.want) || out != "" || strings.Contains(errs, "goroutine ") || strings.ContainsRune(errs, 0x1b) ||
			(tc.oneLine && strings.Count(errs, "\n") != 1) {
			t.Errorf("calltop %v: exit %d, stdout %q, stderr %q; want exit %d mentioning %q", tc.args, code, out, errs, tc.code, tc.want)
		}
	}
	// Nothing was written by the refused commands.
	if code, out, _ := calltop(t, "credits", "ls", "--json", "--nats", url); code != 0 || out != "" {
		t.Fatalf("refused commands changed the store: %q", out)
	}
}

// TestCreditsOverflow: an add that would take a balance beyond ±$9e12
// fails with one line and leaves the balance as it was (float balances
// went to +Inf, and then every later write failed).
func TestCreditsOverflow(t *testing.T) {
	url := embeddedNATS(t)
	if code, out, errs := calltop(t, "credits", "set", "bob", "8999999999999.5", "--nats", url); code != 0 || out != "bob: $8999999999999.50\n" {
		t.Fatalf("set: exit %d, %q %q", code, out, errs)
	}
	code, out, errs := calltop(t, "credits", "add", "bob", "0.500001", "--nats", url)
	if code != 1 || out != "" || !strings.Contains(errs, "beyond ±$9000000000000") || strings.Count(errs, "\n") != 1 {
		t.Fatalf("overflowing add: exit %d, %q %q", code, out, errs)
	}
	if code, out, errs := calltop(t, "credits", "add", "bob", "-$8999999999999.5", "--nats", url); code != 0 || out != "bob: $0.00\n" {
		t.Fatalf("the balance after the refused add: exit %d, %q %q", code, out, errs)
	}
}
