package agent_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/calltop/calltop/agent"
	"github.com/calltop/calltop/agent/realtimetest"
	"github.com/calltop/calltop/feed"
)

// api is a sidecar's HTTP API in a test, with a client that speaks JSON.
type api struct {
	t     *testing.T
	url   string
	token string
}

func (e *env) api(a *agent.Agent, cfg agent.SidecarConfig, token string) *api {
	srv := httptest.NewServer(a.Handler(cfg))
	e.t.Cleanup(srv.Close)
	return &api{t: e.t, url: srv.URL, token: token}
}

// do sends one request and decodes a JSON answer into out (when not nil).
func (c *api) do(method, path, body string, out any) int {
	c.t.Helper()
	req, err := http.NewRequest(method, c.url+path, strings.NewReader(body))
	if err != nil {
		c.t.Fatal(err)
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			c.t.Fatalf("%s %s: %d %q: %v", method, path, resp.StatusCode, data, err)
		}
	}
	return resp.StatusCode
}

type apiError struct {
	Error struct{ Code, Message string }
	Call  *feed.Summary
}

// TestStatusAndHangupByID: an app asks one sidecar about a call another
// agent of the fleet tracks: its status and cost while it runs, then a
// hang-up by ID, which reaches OpenAI exactly once through the owning
// agent and is recorded as the app's (ended_by: the token's name);
// asking again answers 409 with the ended call, an unknown call 404.
func TestStatusAndHangupByID(t *testing.T) {
	e := newEnv(t, realtimetest.Options{}, fastFleet(agent.Config{}))
	owner, _ := e.peer("owner", fastFleet(agent.Config{}))
	id := e.openai.NewCall(realtimetest.Script{TurnGap: 30 * time.Millisecond})
	if err := owner.Track(context.Background(), id, agent.Meta{User: "alice", Model: "gpt-realtime"}); err != nil {
		t.Fatal(err)
	}
	c := e.api(e.agent, agent.SidecarConfig{Tokens: map[string]string{"billing": "tok-billing"}}, "tok-billing")

	var s feed.Summary
	waitFor(t, "a cost in the status", func() bool {
		return c.do("GET", "/v1/calls/"+id, "", &s) == http.StatusOK && s.CostUSD > 0
	})
	if s.CallID != id || s.User != "alice" || s.Agent != "owner" || s.State != feed.StateLive || s.Tokens.Total == 0 {
		t.Fatalf("status of another agent's call: %+v", s)
	}
	var ended feed.Summary
	if st := c.do("POST", "/v1/calls/"+id+"/hangup", `{"reason":"out of minutes"}`, &ended); st != http.StatusOK {
		t.Fatalf("hangup by id: %d", st)
	}
	if ended.State != feed.StateEnded || ended.EndReason != feed.ReasonApp || ended.EndedBy != "billing" ||
		ended.EndDetail != "out of minutes" || ended.CostUSD < s.CostUSD || ended.EndedAt == nil {
		t.Fatalf("hangup answered %+v", ended)
	}
	if n := e.openai.Hangups(id); n != 1 {
		t.Fatalf("%d hangups reached OpenAI, want 1", n)
	}
	var conflict apiError
	if st := c.do("POST", "/v1/calls/"+id+"/hangup", "", &conflict); st != http.StatusConflict || conflict.Call == nil || conflict.Call.EndReason != feed.ReasonApp {
		t.Fatalf("second hangup: %d %+v", st, conflict)
	}
	if e.openai.Hangups(id) != 1 {
		t.Fatal("the second hangup reached OpenAI")
	}
	// The status of the ended call is its final record, the same numbers.
	if st := c.do("GET", "/v1/calls/"+id, "", &s); st != http.StatusOK || s.State != feed.StateEnded || s.CostUSD != ended.CostUSD {
		t.Fatalf("status after the end: %d %+v", st, s)
	}
	// The dashboard shows who did it, like any hang-up.
	bc := e.waitCall(id, "ended", func(c feed.Call) bool { return !c.Live() })
	if bc.End.Reason != feed.ReasonApp || bc.End.By != "billing" {
		t.Fatalf("board: %+v", bc.End)
	}
	var notFound apiError
	if st := c.do("GET", "/v1/calls/rtc_u1_nosuchcall", "", &notFound); st != http.StatusNotFound || notFound.Error.Code != "call_not_found" {
		t.Fatalf("unknown call: %d %+v", st, notFound)
	}
	if st := c.do("POST", "/v1/calls/rtc_u1_nosuchcall/hangup", "", &notFound); st != http.StatusNotFound {
		t.Fatalf("hangup of an unknown call: %d", st)
	}
	if st := c.do("GET", "/v1/calls/rtc.bad", "", nil); st != http.StatusBadRequest {
		t.Fatalf("bad id: %d", st)
	}
	other := e.api(e.agent, agent.SidecarConfig{Tokens: map[string]string{"billing": "tok-billing"}}, "tok-wrong")
	if st := other.do("GET", "/v1/calls/"+id, "", nil); st != http.StatusUnauthorized {
		t.Fatalf("wrong token: %d", st)
	}
}

// TestStatusFromTheFinalRecord: a call gone from the live state (older than
// its retention) is still answered, from its final record.
func TestStatusFromTheFinalRecord(t *testing.T) {
	e := newEnv(t, realtimetest.Options{}, agent.Config{})
	id := e.openai.NewCall(realtimetest.Script{Turns: 2, TurnGap: 10 * time.Millisecond, EndAfterTurns: true})
	e.track(id, "bob")
	want := e.waitCall(id, "ended", func(c feed.Call) bool { return !c.Live() })
	ctx := context.Background()
	waitFor(t, "the final record", func() bool { _, ok, _ := e.feed.Final(ctx, id); return ok })
	js, _ := jetstream.New(e.feed.NC)
	s, err := js.Stream(ctx, e.feed.Subjects.Stream())
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Purge(ctx, jetstream.WithPurgeSubject(e.feed.Subjects.CallEvents(id))); err != nil {
		t.Fatal(err)
	}
	var got feed.Summary
	c := e.api(e.agent, agent.SidecarConfig{}, "")
	if st := c.do("GET", "/v1/calls/"+id, "", &got); st != http.StatusOK || got.User != "bob" || got.State != feed.StateEnded ||
		got.CostUSD != want.Usage.CostUSD || got.Tokens != want.Usage.Tokens || got.EndReason != feed.ReasonHangup {
		t.Fatalf("status from the final record: %d %+v", st, got)
	}
}

// TestListCalls: a user's live and ended calls, paginated, never another
// user's.
func TestListCalls(t *testing.T) {
	e := newEnv(t, realtimetest.Options{}, agent.Config{})
	var live, done []string
	for i := range 3 {
		id := e.openai.NewCall(realtimetest.Script{TurnGap: time.Hour})
		e.track(id, "carol")
		live = append(live, id)
		id = e.openai.NewCall(realtimetest.Script{Turns: 1, TurnGap: 10 * time.Millisecond, EndAfterTurns: true})
		e.track(id, fmt.Sprintf("user%d", i%2)) // user0, user1, user0
		done = append(done, id)
	}
	ctx := context.Background()
	for _, id := range done {
		e.waitCall(id, "ended", func(c feed.Call) bool { return !c.Live() })
		waitFor(t, "its final record", func() bool { _, ok, _ := e.feed.Final(ctx, id); return ok })
	}
	c := e.api(e.agent, agent.SidecarConfig{}, "")
	var page struct {
		Calls      []feed.Summary
		NextCursor string `json:"next_cursor"`
	}
	// carol's live calls, two per page.
	seen := map[string]bool{}
	cursor := ""
	for pages := 0; ; pages++ {
		path := "/v1/calls?user=carol&state=live&limit=2"
		if cursor != "" {
			path += "&cursor=" + cursor
		}
		page.NextCursor = ""
		if st := c.do("GET", path, "", &page); st != http.StatusOK {
			t.Fatalf("list: %d", st)
		}
		for _, s := range page.Calls {
			if s.User != "carol" || s.State != feed.StateLive {
				t.Fatalf("listed %+v", s)
			}
			seen[s.CallID] = true
		}
		if cursor = page.NextCursor; cursor == "" {
			if pages != 1 {
				t.Fatalf("%d pages for 3 calls 2 a page", pages+1)
			}
			break
		}
	}
	if len(seen) != 3 {
		t.Fatalf("carol's live calls: %v, want %v", seen, live)
	}
	if st := c.do("GET", "/v1/calls?user=user0&state=ended", "", &page); st != http.StatusOK || len(page.Calls) != 2 {
		t.Fatalf("user0's ended calls: %d %+v", st, page.Calls)
	}
	for _, s := range page.Calls {
		if s.User != "user0" || s.State != feed.StateEnded || s.CostUSD == 0 {
			t.Fatalf("listed %+v", s)
		}
	}
	if st := c.do("GET", "/v1/calls?state=ended&limit=1000", "", nil); st != http.StatusBadRequest {
		t.Fatalf("limit 1000: %d, want 400", st)
	}
	if st := c.do("GET", "/v1/calls?state=sideways", "", nil); st != http.StatusBadRequest {
		t.Fatalf("bad state: %d, want 400", st)
	}
}
