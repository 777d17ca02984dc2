package main

import (
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/calltop/calltop/feed"
	"github.com/calltop/calltop/feed/feedtest"
)

// evil is a user as a SIP From header may carry it: it retitles the
// terminal, clears it, and reverses the rest of the line.
const evil = "\x1b]0;pwned\x07mallory\x1b[2J\u202eexe.gnp"

// assertPrintable fails if out holds a control or bidi character.
func assertPrintable(t *testing.T, what, out string) {
	t.Helper()
	for _, r := range out {
		if r != '\n' && r != '\t' && feed.Printable(string(r)) != string(r) {
			t.Errorf("%s printed %U:\n%q", what, r, out)
			return
		}
	}
}

// runNATS starts an embedded NATS with JetStream and returns its URL and
// a client on the default prefix, as the commands use.
func runNATS(t *testing.T) (string, *feed.Client) {
	t.Helper()
	srv, cl := feedtest.RunNATS(t)
	if _, err := cl.EnsureStream(context.Background()); err != nil {
		t.Fatal(err)
	}
	return srv.ClientURL(), cl
}

func TestLsNeverPrintsControlCharacters(t *testing.T) {
	url, cl := runNATS(t)
	now := time.Now().UTC()
	for _, e := range []feed.Event{
		{Kind: feed.KindStarted, CallID: "rtc_evil", Seq: 1, At: now, Agent: "a\x1b[31m1", Start: &feed.Start{User: evil, Model: "gpt\x1b[2J", StartedAt: now}},
		{Kind: feed.KindEnded, CallID: "rtc_evil", Seq: 2, At: now, Agent: "a\x1b[31m1", Usage: &feed.Usage{}, End: &feed.End{Reason: "operator", By: evil, EndedAt: now}},
	} {
		if err := cl.Publish(e); err != nil {
			t.Fatal(err)
		}
	}
	if err := cl.NC.Flush(); err != nil {
		t.Fatal(err)
	}
	var out string
	waitFor(t, "the call in ls", func() bool {
		code, o, errs := calltop(t, "ls", "--nats", url)
		if code != 0 {
			t.Fatalf("ls: exit %d: %s", code, errs)
		}
		out = o
		return strings.Contains(out, "rtc_evil")
	})
	assertPrintable(t, "ls", out)
	if !strings.Contains(out, "?]0;pwned?mallory?[2J?exe.gnp") || !strings.Contains(out, "by ?]0;pwned?") {
		t.Errorf("ls does not show the user with its control characters replaced:\n%s", out)
	}
	// --json keeps the user as it came, JSON-escaped.
	if s := lsJSON(t, url)["rtc_evil"]; s.User != evil || s.EndedBy != evil {
		t.Errorf("ls --json: user %q, ended by %q; want them as published", s.User, s.EndedBy)
	}
}

func TestCreditsNeverPrintControlCharacters(t *testing.T) {
	url, _ := runNATS(t)
	code, out, errs := calltop(t, "credits", "set", evil, "5", "--nats", url)
	if code != 0 {
		t.Fatalf("credits set: exit %d: %s", code, errs)
	}
	assertPrintable(t, "credits set", out)
	code, out, errs = calltop(t, "credits", "ls", "--nats", url)
	if code != 0 || !strings.Contains(out, "mallory") {
		t.Fatalf("credits ls: exit %d: %s%s", code, out, errs)
	}
	assertPrintable(t, "credits ls", out)
	code, out, _ = calltop(t, "credits", "ls", "--json", "--nats", url)
	var e feed.CreditEntry
	if code != 0 || json.Unmarshal([]byte(out), &e) != nil || e.User != evil {
		t.Fatalf("credits ls --json: exit %d, %q: want the user as set", code, out)
	}
}

// TestErrorsNeverPrintControlCharacters: errors echo arguments, file
// names and agents' replies.
func TestErrorsNeverPrintControlCharacters(t *testing.T) {
	for _, args := range [][]string{
		{"ls", "--\x1b]0;x\x07"},
		{"kill", "rtc_a", evil},
		{"credits", "add", evil},
		{"demo", "--keys", filepath.Join(t.TempDir(), evil)},
	} {
		code, out, errs := calltop(t, args...)
		if code == 0 || errs == "" {
			t.Errorf("calltop %q: exit %d, no error", args, code)
		}
		assertPrintable(t, "calltop "+strings.Join(args, " "), out+errs)
	}
}
