package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/calltop/calltop/agent/realtimetest"
	"github.com/calltop/calltop/feed"
)

// TestBackendsFromTheDocs is a backend written in Python, and one in Node,
// doing what docs/AGENT.md shows, with the docs' own code (its port and
// the call's ID filled in): register a call, read its cost while it runs,
// stop it, and receive its signed final record. Each needs its
// interpreter (and nothing else: no package) and skips without it.
func TestBackendsFromTheDocs(t *testing.T) {
	doc, err := os.ReadFile("../../docs/AGENT.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, lang := range []struct {
		name, bin, block string
		args             []string // run the code given last
		client, receiver string   // markers of the two examples
		prelude          string   // the call ID, in the language
	}{
		{"python", "python3", "python", []string{"-u", "-c"}, "def calltop(", "class Calltop(", "call_id = %q\n"},
		{"node", "node", "js", []string{"--input-type=module", "-e"}, "const calltop =", "http.createServer(", "const callId = %q;\n"},
	} {
		t.Run(lang.name, func(t *testing.T) {
			bin, err := exec.LookPath(lang.bin)
			if err != nil {
				t.Skipf("%s not installed", lang.bin)
			}
			client, receiver := snippet(t, doc, lang.block, lang.client), snippet(t, doc, lang.block, lang.receiver)
			natsURL, rt := fleetWorld(t)
			hook := freeAddr(t)
			_, hookPort, _ := strings.Cut(hook, ":")
			recv := exec.Command(bin, append(lang.args, strings.Replace(receiver, "9000", hookPort, 1))...)
			recv.Env = append(os.Environ(), "CALLTOP_NOTIFY_SECRET="+testNotifySecret)
			recvOut := &syncBuffer{}
			recv.Stdout, recv.Stderr = recvOut, recvOut
			if err := recv.Start(); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = recv.Process.Kill(); _ = recv.Wait() })

			const token = "backend-token"
			a := startAgent(t, "docs-agent", natsURL, rt, "--token", token,
				"--notify-url", "http://"+hook+"/", "--notify-secret", testNotifySecret)
			id := rt.NewCall(realtimetest.Script{TurnGap: 20 * time.Millisecond})
			// The browser's call is talking before the backend asks about it.
			a.trackAs(t, token, id, "alice@acme.io")
			waitUntil(t, 10*time.Second, "a cost to read", func() bool { return a.status(t, token, id).CostUSD > 0 })

			run := exec.Command(bin, append(lang.args, fmt.Sprintf(lang.prelude, id)+client)...)
			run.Env = append(os.Environ(), "CALLTOP_AGENT_URL="+a.api, "CALLTOP_AGENT_TOKEN="+token)
			out, err := run.CombinedOutput()
			if err != nil {
				t.Fatalf("the docs' client: %v\n%s", err, out)
			}
			// It printed the live call's state, seconds, tokens and cost.
			f := strings.Fields(string(out))
			if len(f) != 4 || f[0] != "live" {
				t.Fatalf("the client printed %q, want: live SECONDS TOKENS COST", out)
			}
			if cost, _ := strconv.ParseFloat(f[3], 64); cost <= 0 {
				t.Fatalf("the client read cost %q while the call ran", f[3])
			}
			if n := rt.Hangups(id); n != 1 {
				t.Fatalf("%d hangups reached OpenAI, want 1", n)
			}
			// The receiver verified the signed final record and billed it.
			var bill string
			waitUntil(t, 10*time.Second, "the receiver's bill line", func() bool {
				bill = regexp.MustCompile(`(?m)^bill .*$`).FindString(recvOut.String())
				return bill != ""
			})
			final := a.status(t, token, id)
			want := fmt.Sprintf("bill alice@acme.io %s %v %v app", id, final.Seconds, final.CostUSD)
			if bill != want {
				t.Fatalf("the receiver printed %q, want %q (the final record)\n%s", bill, want, recvOut.String())
			}
		})
	}
}

// snippet returns the docs' code block in lang that contains marker.
func snippet(t *testing.T, doc []byte, lang, marker string) string {
	t.Helper()
	for _, m := range regexp.MustCompile("(?s)```"+lang+"\n(.*?)```").FindAllSubmatch(doc, -1) {
		if strings.Contains(string(m[1]), marker) {
			return string(m[1])
		}
	}
	t.Fatalf("docs/AGENT.md has no %s example with %q", lang, marker)
	return ""
}

// trackAs registers a call with a token, as a backend does.
func (c *child) trackAs(t *testing.T, token, id, user string) {
	t.Helper()
	req, _ := http.NewRequest("POST", c.api+"/v1/calls", strings.NewReader(fmt.Sprintf(`{"call_id":%q,"user":%q,"model":"gpt-realtime"}`, id, user)))
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("POST /v1/calls: %d", resp.StatusCode)
	}
}

// status reads a call through the agent's API.
func (c *child) status(t *testing.T, token, id string) feed.Summary {
	t.Helper()
	req, _ := http.NewRequest("GET", c.api+"/v1/calls/"+id, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var s feed.Summary
	_ = json.NewDecoder(bufio.NewReader(resp.Body)).Decode(&s)
	return s
}
