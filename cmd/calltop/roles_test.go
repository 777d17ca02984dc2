package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nats.go/micro"

	"github.com/calltop/calltop/agent"
	"github.com/calltop/calltop/agent/realtimetest"
	"github.com/calltop/calltop/feed"
	"github.com/calltop/calltop/natsserver"
)

// shippedConf is the nats-server config the docs tell users to run.
const shippedConf = "../../docs/nats-server.conf"

// refusedWithin is how soon a refused command must fail: at once, not at
// a confirmation timeout (kill waits 30 s, credits 10 s).
const refusedWithin = 2 * time.Second

// rolesNATS runs a NATS server from the shipped config file, with the
// three roles' passwords set in the environment as the docs say, and
// returns a function giving each role's URL.
func rolesNATS(t *testing.T) (urlOf func(role string) string) {
	urlOf, _ = rolesNATSLogged(t)
	return urlOf
}

// violationLog keeps the permission violations the server logs, each
// with the connection that made it (its name says the command).
type violationLog struct {
	mu    sync.Mutex
	lines []string
}

func (v *violationLog) Errorf(format string, args ...any) {
	if line := fmt.Sprintf(format, args...); strings.Contains(line, "Violation") {
		v.mu.Lock()
		v.lines = append(v.lines, line)
		v.mu.Unlock()
	}
}
func (v *violationLog) Noticef(string, ...any) {}
func (v *violationLog) Warnf(string, ...any)   {}
func (v *violationLog) Fatalf(string, ...any)  {}
func (v *violationLog) Debugf(string, ...any)  {}
func (v *violationLog) Tracef(string, ...any)  {}

func (v *violationLog) all() []string {
	v.mu.Lock()
	defer v.mu.Unlock()
	return append([]string(nil), v.lines...)
}

// rolesNATSLogged is rolesNATS, and what the server logs of refusals.
func rolesNATSLogged(t *testing.T) (urlOf func(role string) string, violations *violationLog) {
	t.Helper()
	pw := map[string]string{}
	for _, role := range []string{"agent", "operator", "viewer"} {
		var b [12]byte
		_, _ = rand.Read(b[:])
		pw[role] = "p" + hex.EncodeToString(b[:])
		t.Setenv("CALLTOP_"+strings.ToUpper(role)+"_PASSWORD", pw[role])
	}
	srv, err := natsserver.Run(natsserver.Options{ConfigFile: shippedConf, Port: -1, StoreDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Shutdown)
	violations = &violationLog{}
	srv.SetLogger(violations, false, false)
	host := strings.TrimPrefix(srv.ClientURL(), "nats://")
	return func(role string) string {
		return "nats://" + url.UserPassword(role, pw[role]).String() + "@" + host
	}, violations
}

// roleClient connects as a role, failing the test on any permission
// violation the server reports unless allowed says it is expected.
func roleClient(t *testing.T, natsURL string) (*feed.Client, *deniedLog) {
	t.Helper()
	d := &deniedLog{}
	nc, err := feed.Connect(natsURL, "roles-test", nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) {
		if pe, ok := feed.AsPermissionError(err); ok {
			d.add(pe)
		}
	}))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	cl, err := feed.NewClient(nc, "")
	if err != nil {
		t.Fatal(err)
	}
	return cl, d
}

type deniedLog struct {
	mu  sync.Mutex
	all []string
}

func (d *deniedLog) add(pe *feed.PermissionError) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.all = append(d.all, pe.Op+" "+pe.Subject)
}

func (d *deniedLog) list() []string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]string(nil), d.all...)
}

// rolesAgent runs `calltop agent` in-process as natsURL's user against
// the stand-in, and returns its API address and its log.
func rolesAgent(t *testing.T, ctx context.Context, wg *sync.WaitGroup, natsURL string, rt *realtimetest.Server, extra ...string) (string, *syncBuffer) {
	t.Helper()
	t.Setenv("OPENAI_API_KEY", rt.APIKey())
	api, log := freeAddr(t), &syncBuffer{}
	args := append([]string{"agent", "--nats", natsURL, "--openai-base-url", rt.BaseURL(), "--listen", api}, extra...)
	wg.Add(1)
	go func() {
		defer wg.Done()
		run(ctx, args, log, log)
	}()
	return api, log
}

// TestRolesFromTheShippedConf runs NATS from docs/nats-server.conf and
// checks each role against it: the agent user tracks a call end to end,
// webhooks included, and neither it nor the operator nor a reader is
// refused anything (the server's own log of refusals says so); the viewer reads everything (ls, the watch
// feed, credits) but its kill and credits changes fail at once with a
// permissions error and change nothing, the events it publishes never
// reach the board, and copies of stored messages it has JetStream send
// to a call's terminate subject hang nothing up; the operator kills.
func TestRolesFromTheShippedConf(t *testing.T) {
	urlOf, violations := rolesNATSLogged(t)
	rt := realtimetest.NewServer(realtimetest.Options{})
	defer rt.Close()
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	defer wg.Wait()
	defer cancel()

	// Webhooks too: the agent makes the notify stream and durable
	// consumers on it and on the final records, pulls and acknowledges.
	var hooked sync.Map
	app := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if id := r.Header.Get("webhook-id"); id != "" {
			hooked.Store(id, true)
		}
		w.WriteHeader(http.StatusOK)
	}))
	defer app.Close()
	t.Setenv("CALLTOP_NOTIFY_SECRET", testNotifySecret)
	api, agentLog := rolesAgent(t, ctx, &wg, urlOf("agent"), rt, "--notify-url", app.URL, "--notify-events", "call.ended,call.refused")
	waitFor(t, "agent API", func() bool { return strings.Contains(agentLog.String(), "agent ready") })
	defer func() {
		if t.Failed() {
			t.Logf("agent's log:\n%s", agentLog.String())
		}
	}()
	id := rt.NewCall(realtimetest.Script{Model: "gpt-realtime", TurnGap: 5 * time.Millisecond})
	resp, err := http.Post("http://"+api+"/v1/calls", "application/json", strings.NewReader(fmt.Sprintf(`{"call_id":%q,"user":"alice"}`, id)))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("POST /v1/calls: %d", resp.StatusCode)
	}

	viewer, operator := urlOf("viewer"), urlOf("operator")
	waitFor(t, "the call with usage in the viewer's ls", func() bool {
		s := lsJSON(t, viewer)[id]
		return s.State == feed.StateLive && s.Responses > 0
	})
	stillLive := func(after string) {
		t.Helper()
		if n := rt.Hangups(id); n != 0 {
			t.Fatalf("after %s: the stand-in saw %d hangups", after, n)
		}
		if s := lsJSON(t, operator)[id]; s.State != feed.StateLive {
			t.Fatalf("after %s: the call is %s", after, s.State)
		}
	}

	t.Run("viewer kill fails at once", func(t *testing.T) {
		began := time.Now()
		code, out, errs := calltop(t, "kill", id, "--reason", "viewer tries", "--nats", viewer)
		took := time.Since(began)
		u, _ := url.Parse(viewer)
		pw, _ := u.User.Password()
		if code != 1 || out != "" || !strings.Contains(errs, "permission denied") || !strings.Contains(errs, "operator role") ||
			strings.Count(errs, "\n") != 1 || strings.Contains(errs, pw) {
			t.Fatalf("kill as viewer: exit %d, out %q, err %q", code, out, errs)
		}
		if took > refusedWithin {
			t.Fatalf("kill as viewer took %s to fail, want under %s", took, refusedWithin)
		}
		stillLive("the viewer's kill")
	})

	t.Run("viewer watch reads and cannot hang up", func(t *testing.T) {
		cl, denied := roleClient(t, viewer)
		wctx, wcancel := context.WithTimeout(ctx, 10*time.Second)
		defer wcancel()
		w, err := cl.Watch(wctx)
		if err != nil {
			t.Fatal(err)
		}
		defer w.Stop()
		seen := false
		for !seen {
			evs, err := w.Next(wctx)
			if err != nil {
				t.Fatalf("watch as viewer: %v", err)
			}
			for _, e := range evs {
				seen = seen || e.CallID == id
			}
		}
		// The dashboard's hang-up key goes through the same source.
		began := time.Now()
		_, err = source{w, cl}.Terminate(wctx, feed.TerminateRequest{CallID: id, Operator: "viewer@test"})
		if !errors.Is(err, feed.ErrPermissionDenied) || time.Since(began) > refusedWithin {
			t.Fatalf("dashboard terminate as viewer: %v after %s", err, time.Since(began))
		}
		stillLive("the viewer dashboard's terminate")
		// Time travel reads the history stream through a consumer of its own.
		waitFor(t, "the call in the viewer's ls --at", func() bool {
			code, out, _ := calltop(t, "ls", "--at", time.Now().UTC().Format(time.RFC3339Nano), "--nats", viewer)
			return code == 0 && strings.Contains(out, id)
		})
		if d := denied.list(); len(d) != 1 || !strings.Contains(d[0], "publish "+cl.Subjects.Terminate(id)) {
			t.Fatalf("refusals while watching: %q, want only the terminate", d)
		}
	})

	t.Run("viewer events never reach the board", func(t *testing.T) {
		cl, denied := roleClient(t, viewer)
		now := time.Now().UTC()
		forged := []feed.Event{
			{Kind: feed.KindStarted, CallID: "rtc_forged", Term: 1, Seq: 1, At: now, Agent: "evil",
				Start: &feed.Start{User: "mallory", Model: "gpt-realtime", StartedAt: now}},
			{Kind: feed.KindUsage, CallID: id, Term: 99, Seq: 1 << 40, At: now, Agent: "evil",
				Usage: &feed.Usage{Tokens: feed.Tokens{Total: 1}, CostUSD: 4242}},
		}
		for _, e := range forged {
			if err := cl.Publish(e); err != nil {
				t.Fatal(err)
			}
		}
		// The server answers in order: after a round trip it has refused
		// both, and stored neither.
		if err := cl.NC.Flush(); err != nil {
			t.Fatal(err)
		}
		waitFor(t, "both refusals", func() bool { return len(denied.list()) == 2 })
		op, _ := roleClient(t, operator)
		if _, ok, err := op.LastEvent(ctx, op.Subjects.Call("rtc_forged", feed.KindStarted)); ok || err != nil {
			t.Fatalf("forged started event stored: %v %v", ok, err)
		}
		if s, ok := lsJSON(t, operator)["rtc_forged"]; ok {
			t.Fatalf("forged call on the board: %+v", s)
		}
		if s := lsJSON(t, operator)[id]; s.CostUSD >= 4242 {
			t.Fatalf("forged usage on the board: %+v", s)
		}
	})

	t.Run("stored copies sent to terminate hang nothing up", func(t *testing.T) {
		// Without feed.FromJetStream's check, the first copy ends the call.
		cl, _ := roleClient(t, viewer)
		subj := cl.Subjects.Terminate(id)
		// Watch the terminate subject as the agent user does: the copies
		// reach the owning agent's subscription in the same fan-out.
		spy, _ := roleClient(t, urlOf("agent"))
		copies := make(chan *nats.Msg, 4)
		sub, err := spy.NC.ChanSubscribe(subj, copies)
		if err != nil {
			t.Fatal(err)
		}
		defer sub.Unsubscribe()
		if err := spy.NC.Flush(); err != nil {
			t.Fatal(err)
		}
		// A read request answered to the terminate subject: NATS does not
		// check reply subjects against permissions. The call's ownership
		// record names the call and reads as a terminate request.
		bucket := cl.Subjects.CallsBucket()
		get := fmt.Sprintf(`{"last_by_subj":"$KV.%s.%s"}`, bucket, id)
		if err := cl.NC.PublishRequest("$JS.API.DIRECT.GET.KV_"+bucket, subj, []byte(get)); err != nil {
			t.Fatal(err)
		}
		// A consumer delivering there (nats-server#8274).
		js, err := jetstream.New(cl.NC)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := js.CreateConsumer(ctx, cl.Subjects.Stream(), jetstream.ConsumerConfig{Name: "copier",
			FilterSubject: cl.Subjects.Call(id, feed.KindStarted), DeliverSubject: subj, AckPolicy: jetstream.AckNonePolicy,
			InactiveThreshold: time.Minute}); err != nil {
			t.Fatal(err)
		}
		for i := 0; i < 2; i++ {
			select {
			case <-copies:
			case <-time.After(5 * time.Second):
				t.Fatalf("only %d copies reached the terminate subject", i)
			}
		}
		// The agent handles its terminate subject in order: once it has
		// answered a probe sent after the copies, it has seen them.
		op, _ := roleClient(t, operator)
		probe, err := op.NC.Request(subj, []byte(`{"v":1,"call_id":"rtc_not_this_one"}`), 5*time.Second)
		if err != nil || !strings.Contains(string(probe.Data), "names call") {
			t.Fatalf("probe: %v %s", err, probe.Data)
		}
		stillLive("copies of its started event on its terminate subject")

		// The same copy onto the agent's NATS micro terminate endpoint,
		// found the way `nats micro info` finds it: discovery is reading.
		info, err := cl.NC.Request("$SRV.INFO."+agent.MicroService, nil, 5*time.Second)
		if err != nil {
			t.Fatalf("micro discovery as viewer: %v", err)
		}
		var svc micro.Info
		if err := json.Unmarshal(info.Data, &svc); err != nil || svc.Metadata["instance"] == "" {
			t.Fatalf("micro info: %v %s", err, info.Data)
		}
		microSubj := cl.Subjects.Service(svc.Metadata["instance"]) + ".terminate"
		if err := cl.NC.PublishRequest("$JS.API.DIRECT.GET.KV_"+bucket, microSubj, []byte(get)); err != nil {
			t.Fatal(err)
		}
		probe, err = op.NC.Request(microSubj, []byte(`{"v":1,"call_id":"rtc_not_this_one"}`), 5*time.Second)
		if err != nil || probe.Header.Get(micro.ErrorCodeHeader) != "404" {
			t.Fatalf("micro probe: %v %v %s", err, probe.Header, probe.Data)
		}
		stillLive("a copy of its ownership record on its micro terminate endpoint")
	})

	t.Run("viewer cannot change credits", func(t *testing.T) {
		if code, out, errs := calltop(t, "credits", "set", "alice", "5", "--nats", operator); code != 0 || !strings.Contains(out, "$5.00") {
			t.Fatalf("credits set as operator: exit %d, %q %q", code, out, errs)
		}
		for _, args := range [][]string{{"set", "alice", "1000"}, {"add", "alice", "1000"}, {"add", "bob", "1"}} {
			began := time.Now()
			code, out, errs := calltop(t, append(append([]string{"credits"}, args...), "--nats", viewer)...)
			if code != 1 || out != "" || !strings.Contains(errs, "permission denied") || !strings.Contains(errs, "operator role") || strings.Count(errs, "\n") != 1 {
				t.Fatalf("credits %s as viewer: exit %d, out %q, err %q", args, code, out, errs)
			}
			if took := time.Since(began); took > refusedWithin {
				t.Fatalf("credits %s as viewer took %s to fail", args, took)
			}
		}
		began := time.Now()
		code, out, errs := calltop(t, "credits", "ls", "--nats", viewer)
		if took := time.Since(began); took > refusedWithin {
			t.Errorf("credits ls as viewer took %s (a refused consumer delete?)", took)
		}
		if code != 0 || !strings.Contains(out, "alice") || !strings.Contains(out, "$5.00") || strings.Contains(out, "bob") {
			t.Fatalf("credits ls as viewer: exit %d, %q %q", code, out, errs)
		}
	})

	t.Run("operator kills", func(t *testing.T) {
		code, out, errs := calltop(t, "kill", id, "--reason", "operator kill", "--nats", operator)
		if code != 0 || !strings.Contains(out, id+" hung up") {
			t.Fatalf("kill as operator: exit %d, out %q, err %q", code, out, errs)
		}
		if n := rt.Hangups(id); n != 1 {
			t.Fatalf("the stand-in saw %d hangups, want 1", n)
		}
		op, _ := roleClient(t, operator)
		waitFor(t, "the final record", func() bool {
			e, ok, err := op.Final(ctx, id)
			return err == nil && ok && e.End != nil && e.End.Reason == feed.ReasonOperator && e.End.Detail == "operator kill"
		})
		waitFor(t, "the call.ended webhook", func() bool { _, ok := hooked.Load("ended_" + id); return ok })
		// The audit trail, read by the viewer: the operator's kill (the
		// agent recorded it) and credits change (the command did); none of
		// the viewer's refused attempts, which reached nobody.
		var trail []feed.AuditRecord
		waitFor(t, "the kill in the audit trail", func() bool {
			code, out, errs := calltop(t, "audit", "--json", "--nats", viewer)
			if code != 0 {
				t.Fatalf("audit as viewer: exit %d, %q", code, errs)
			}
			trail = nil
			for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
				var r feed.AuditRecord
				if json.Unmarshal([]byte(line), &r) == nil {
					trail = append(trail, r)
				}
			}
			return slices.ContainsFunc(trail, func(r feed.AuditRecord) bool {
				return r.Action == feed.AuditTerminate && r.CallID == id && r.Reason == "operator kill" && r.Outcome == feed.OutcomeDone
			})
		})
		if !slices.ContainsFunc(trail, func(r feed.AuditRecord) bool { return r.Action == feed.AuditCredits && r.User == "alice" }) ||
			slices.ContainsFunc(trail, func(r feed.AuditRecord) bool { return r.Reason == "viewer tries" || r.User == "bob" }) || len(trail) != 2 {
			t.Fatalf("audit trail: %+v", trail)
		}
		// The money question, asked by the viewer: the final records.
		if code, out, errs := calltop(t, "report", "--since", "1h", "--by", "user", "--json", "--nats", viewer); code != 0 ||
			!strings.Contains(out, `"key":"alice"`) || !strings.Contains(out, `"ended_by_operator":1`) {
			t.Fatalf("report as viewer: exit %d, %q %q", code, out, errs)
		}
		// A kill nobody answers is the operator's to record, and it may.
		code, _, errs = calltop(t, "kill", id, "--reason", "again", "--nats", operator)
		if code != 1 || !strings.Contains(errs, "no agent owns this call") {
			t.Fatalf("second kill as operator: exit %d, %q", code, errs)
		}
		waitFor(t, "the unanswered kill in the audit trail", func() bool {
			_, out, _ := calltop(t, "audit", "--json", "--nats", viewer)
			return strings.Contains(out, `"reason":"again"`) && strings.Contains(out, `"outcome":"already ended"`)
		})
	})

	if strings.Contains(agentLog.String(), "permission denied") {
		t.Fatalf("the agent user was refused something:\n%s", agentLog.String())
	}
	// What the server refused, all of it: the viewer's attempts above
	// (kill, the dashboard's terminate, two forged events, three credits
	// changes), and nothing the agent, the operator or a reader needed.
	refused := violations.all()
	for _, line := range refused {
		if !strings.Contains(line, `"$G/user:viewer"`) || strings.Contains(line, "$JS.API") {
			t.Errorf("refused: %s", line)
		}
	}
	if len(refused) != 7 {
		t.Errorf("the server refused %d publishes, want the viewer's 7:\n%s", len(refused), strings.Join(refused, "\n"))
	}
}

// TestAgentWithoutTheAgentRoleSaysSo: an agent connected as a viewer
// fails at once when it cannot create its buckets, and when they exist
// (another agent made them) it starts but its log says plainly that its
// publishes are refused, instead of looking healthy while nothing
// arrives.
func TestAgentWithoutTheAgentRoleSaysSo(t *testing.T) {
	urlOf := rolesNATS(t)
	rt := realtimetest.NewServer(realtimetest.Options{})
	defer rt.Close()
	t.Setenv("OPENAI_API_KEY", rt.APIKey())
	began := time.Now()
	code, _, errs := calltop(t, "agent", "--nats", urlOf("viewer"), "--openai-base-url", rt.BaseURL(), "--listen", freeAddr(t))
	if code != 1 || !strings.Contains(errs, "permission denied") || !strings.Contains(errs, "agent role") || strings.Count(errs, "\n") != 1 {
		t.Fatalf("agent as viewer on a fresh NATS: exit %d, %q", code, errs)
	}
	if took := time.Since(began); took > refusedWithin {
		t.Fatalf("agent as viewer took %s to fail", took)
	}

	// What an agent with the agent role creates on its first start.
	ag, _ := roleClient(t, urlOf("agent"))
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	defer wg.Wait()
	defer cancel()
	for _, ensure := range []func() error{
		func() error { _, err := ag.EnsureStream(ctx); return err },
		func() error { _, err := ag.EnsureFinalStream(ctx); return err },
		func() error { _, err := ag.EnsureHistoryStream(ctx); return err },
		func() error { _, err := ag.EnsureAuditStream(ctx); return err },
		func() error { _, err := ag.Owners(ctx); return err },
		func() error { _, err := ag.Credits(ctx); return err },
	} {
		if err := ensure(); err != nil {
			t.Fatal(err)
		}
	}
	_, log := rolesAgent(t, ctx, &wg, urlOf("viewer"), rt)
	waitFor(t, "the refused heartbeat in the agent's log", func() bool {
		out := log.String()
		return strings.Contains(out, "NATS refused the agent: permission denied") && strings.Contains(out, "calltop.v1.agent.")
	})
}

// TestServerConfigFlag: `calltop server --config` runs the shipped file:
// its users log in, nobody else does.
func TestServerConfigFlag(t *testing.T) {
	t.Setenv("CALLTOP_AGENT_PASSWORD", "agentpw1")
	t.Setenv("CALLTOP_OPERATOR_PASSWORD", "operatorpw1")
	t.Setenv("CALLTOP_VIEWER_PASSWORD", "viewerpw1")
	addr := freeAddr(t)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int)
	var out syncBuffer
	go func() {
		done <- run(ctx, []string{"server", "--config", shippedConf, "--listen", addr, "--store", t.TempDir()}, &out, &out)
	}()
	defer func() {
		cancel()
		<-done
	}()
	waitFor(t, "NATS server", func() bool { return strings.Contains(out.String(), "JetStream on") })
	if nc, err := nats.Connect("nats://"+addr, nats.Timeout(2*time.Second)); err == nil {
		nc.Close()
		t.Fatal("connected without a user")
	} else if !errors.Is(err, nats.ErrAuthorization) {
		t.Fatalf("connect without a user: %v, want an authorization error", err)
	}
	nc, err := nats.Connect("nats://viewer:viewerpw1@" + addr)
	if err != nil {
		t.Fatal(err)
	}
	nc.Close()
	// The server logs to the command's stderr: the refused login is there.
	waitFor(t, "the refused login in the server's log", func() bool { return strings.Contains(out.String(), "authentication error") })

	t.Setenv("CALLTOP_VIEWER_PASSWORD", "") // restored after the test
	os.Unsetenv("CALLTOP_VIEWER_PASSWORD")
	code, _, errs := calltop(t, "server", "--config", shippedConf, "--listen", freeAddr(t))
	if code != 1 || !strings.Contains(errs, "CALLTOP_VIEWER_PASSWORD") {
		t.Fatalf("server without a password variable: exit %d, %q", code, errs)
	}
}

// TestViewerBeforeAnyAgent: on a NATS no agent has used yet, a viewer's
// ls and credits ls cannot create the streams they read, and say so at
// once; the operator's work.
func TestViewerBeforeAnyAgent(t *testing.T) {
	urlOf, violations := rolesNATSLogged(t)
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"ls"}, "start an agent first"},
		{[]string{"credits", "ls"}, "set a balance as the operator first"},
	} {
		began := time.Now()
		code, out, errs := calltop(t, append(c.args, "--nats", urlOf("viewer"))...)
		if code != 1 || out != "" || !strings.Contains(errs, "permission denied") || !strings.Contains(errs, c.want) || strings.Count(errs, "\n") != 1 {
			t.Errorf("%s as viewer: exit %d, out %q, err %q", c.args, code, out, errs)
		}
		if took := time.Since(began); took > refusedWithin {
			t.Errorf("%s as viewer took %s to fail", c.args, took)
		}
		if code, _, errs := calltop(t, append(c.args, "--nats", urlOf("operator"))...); code != 0 {
			t.Errorf("%s as operator: exit %d, %q", c.args, code, errs)
		}
	}
	for _, line := range violations.all() {
		if !strings.Contains(line, `"$G/user:viewer"`) {
			t.Errorf("refused: %s", line)
		}
	}
}
