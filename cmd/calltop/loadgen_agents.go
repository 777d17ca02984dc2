package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/calltop/calltop/feed"
)

// The load generator's agents are `calltop agent` processes of their own,
// as in production: their CPU and memory are theirs alone, and calls reach
// them through the HTTP API a backend uses.

// procStats is what /proc says about a process.
type procStats struct {
	CPU  time.Duration // user + system time so far
	RSS  int64         // resident bytes now
	Peak int64         // resident bytes at most, so far
}

// agentProc is one `calltop agent` child process.
type agentProc struct {
	name string
	api  string // http://127.0.0.1:PORT
	cmd  *exec.Cmd
	log  *agentLog
	done chan struct{} // closed when the process has exited
	err  error         // its exit, once done is closed
}

// agentEnvDrop are settings of the generator's environment that must not
// reach its agents: each gets its own on the command line or below.
var agentEnvDrop = []string{"OPENAI_API_KEY=", "OPENAI_BASE_URL=", "NATS_URL=", "CALLTOP_PREFIX=",
	"CALLTOP_REPLICAS=", "CALLTOP_AGENT_TOKEN=", "CALLTOP_AGENT_TOKENS=", "OPENAI_WEBHOOK_SECRET=", "GODEBUG=",
	// The generator's NATS is its own, with no security: the credentials
	// and TLS settings of a real one would keep its agents out.
	"NATS_CREDS=", "NATS_NKEY=", "NATS_CA=", "NATS_CERT=", "NATS_KEY="}

// startAgentProc runs `exe agent` against NATS and the stand-in, with its
// API on a free loopback port, and waits until the API answers.
func startAgentProc(exe, name, natsURL, prefix, openaiKey, openaiBase string) (*agentProc, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("agent %s: a free port: %w", name, err)
	}
	addr := ln.Addr().String()
	ln.Close()
	cmd := exec.Command(exe, "agent", "--name", name, "--nats", natsURL, "--prefix", prefix, "--listen", addr)
	env := []string{}
	for _, kv := range os.Environ() {
		if !slicesHasPrefix(agentEnvDrop, kv) {
			env = append(env, kv)
		}
	}
	godebug := "gctrace=1" // one line per GC on stderr: the live heap, for free
	if v := os.Getenv("GODEBUG"); v != "" {
		godebug = v + "," + godebug
	}
	cmd.Env = append(env, "OPENAI_API_KEY="+openaiKey, "OPENAI_BASE_URL="+openaiBase, "GODEBUG="+godebug)
	p := &agentProc{name: name, api: "http://" + addr, cmd: cmd, log: &agentLog{}, done: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = p.log, p.log
	cmd.SysProcAttr = childAttr()
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("agent %s: start %s: %w", name, exe, err)
	}
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	client := &http.Client{Timeout: time.Second}
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := client.Get(p.api + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return p, nil
			}
		}
		select {
		case <-p.done:
			return nil, fmt.Errorf("agent %s exited before its API answered (%v):\n%s", name, p.err, p.log.tail())
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			p.stop(time.Second)
			return nil, fmt.Errorf("agent %s: its API did not answer within 30s:\n%s", name, p.log.tail())
		}
	}
}

func slicesHasPrefix(prefixes []string, s string) bool {
	for _, p := range prefixes {
		if strings.HasPrefix(s, p) {
			return true
		}
	}
	return false
}

// pid is the agent's process ID.
func (p *agentProc) pid() int { return p.cmd.Process.Pid }

// stop asks the agent to stop (SIGTERM: it detaches from its calls and
// says goodbye), and kills it if it has not within wait.
func (p *agentProc) stop(wait time.Duration) {
	select {
	case <-p.done:
		return
	default:
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(wait):
		_ = p.cmd.Process.Kill()
		<-p.done
	}
}

// agentLog takes an agent's output: it counts warnings and errors, keeps
// the last lines for an error message, and reads the Go runtime's GC
// trace for the live heap.
type agentLog struct {
	mu       sync.Mutex
	partial  []byte
	last     []string
	warnings int
	errors   int
	heapMB   int // live heap after the newest GC (gctrace)
	gcs      int
}

const agentLogTail = 30

// gcLine matches gctrace's "… 4->5->2 MB, …": heap at the start of a GC,
// at its end, and live after it.
var gcLine = regexp.MustCompile(`^gc \d+ @.* (\d+)->(\d+)->(\d+) MB`)

func (l *agentLog) Write(b []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.partial = append(l.partial, b...)
	for {
		i := bytes.IndexByte(l.partial, '\n')
		if i < 0 {
			break
		}
		l.line(string(l.partial[:i]))
		l.partial = l.partial[i+1:]
	}
	if len(l.partial) > 64<<10 { // a line that never ends
		l.line(string(l.partial))
		l.partial = nil
	}
	return len(b), nil
}

func (l *agentLog) line(s string) {
	if m := gcLine.FindStringSubmatch(s); m != nil {
		l.heapMB, _ = strconv.Atoi(m[3])
		l.gcs++
		return
	}
	switch {
	case strings.Contains(s, "level=WARN"):
		l.warnings++
	case strings.Contains(s, "level=ERROR"):
		l.errors++
	}
	l.last = append(l.last, s)
	if len(l.last) > agentLogTail {
		l.last = l.last[len(l.last)-agentLogTail:]
	}
}

// tail is the last lines the agent wrote (GC trace aside), safe to print.
func (l *agentLog) tail() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	lines := make([]string, len(l.last))
	for i, s := range l.last {
		lines[i] = "  " + feed.Printable(s)
	}
	return strings.Join(lines, "\n")
}

// counts returns warnings and errors logged, and the live heap after the
// newest GC (ok false before the first).
func (l *agentLog) counts() (warnings, errors, heapMB int, ok bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.warnings, l.errors, l.heapMB, l.gcs > 0
}

// registrar tells the agents about each new call through their API
// (POST /v1/calls), round robin, as a backend would. Posting happens on a
// goroutine per agent so the simulation never waits for HTTP.
type registrar struct {
	queues []chan callReg
	wg     sync.WaitGroup
	closed sync.Once
	client *http.Client
	next   atomic.Int64

	mu        sync.Mutex
	ok        map[string]int // call → index of the agent that took it
	failed    int
	firstFail string
}

type callReg struct{ id, user, model string }

func newRegistrar(agents []*agentProc) *registrar {
	r := &registrar{client: &http.Client{Timeout: 10 * time.Second}, ok: map[string]int{}}
	for i, a := range agents {
		q := make(chan callReg, 4096)
		r.queues = append(r.queues, q)
		r.wg.Add(1)
		go func() {
			defer r.wg.Done()
			for c := range q {
				r.post(i, a, c)
			}
		}()
	}
	return r
}

// add is Simulate's OnCall.
func (r *registrar) add(id, user, model string) {
	i := int(r.next.Add(1)-1) % len(r.queues)
	select {
	case r.queues[i] <- callReg{id, user, model}:
	default:
		r.fail(fmt.Sprintf("call %s: agent %d's queue is full", id, i+1))
	}
}

func (r *registrar) post(i int, a *agentProc, c callReg) {
	body, _ := json.Marshal(map[string]string{"call_id": c.id, "user": c.user, "model": c.model})
	resp, err := r.client.Post(a.api+"/v1/calls", "application/json", bytes.NewReader(body))
	if err != nil {
		r.fail(fmt.Sprintf("POST %s/v1/calls: %v", a.api, err))
		return
	}
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		r.fail(fmt.Sprintf("POST %s/v1/calls: %d %s", a.api, resp.StatusCode, feed.Printable(string(msg))))
		return
	}
	r.mu.Lock()
	r.ok[c.id] = i
	r.mu.Unlock()
}

func (r *registrar) fail(why string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.failed++
	if r.firstFail == "" {
		r.firstFail = why
	}
}

// close waits until every queued call has been posted. Call it once
// nothing calls add any more (Simulate has returned); calls after the
// first do nothing.
func (r *registrar) close() {
	r.closed.Do(func() {
		for _, q := range r.queues {
			close(q)
		}
		r.wg.Wait()
		r.client.CloseIdleConnections()
	})
}

// registered returns the calls the agents accepted, with the agent of
// each, and the failures.
func (r *registrar) registered() (ok map[string]int, failed int, firstFail string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	ok = make(map[string]int, len(r.ok))
	for id, i := range r.ok {
		ok[id] = i
	}
	return ok, r.failed, r.firstFail
}

// errAgentExited says an agent process died during the run.
var errAgentExited = errors.New("agent exited during the run")
