package agent_test

import (
	"context"
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/calltop/calltop/agent"
	"github.com/calltop/calltop/agent/realtimetest"
	"github.com/calltop/calltop/feed"
	"github.com/calltop/calltop/natsserver"
)

// runCluster starts n embedded nats-servers clustered on loopback, with
// JetStream, and returns them and the URL list clients dial.
func runCluster(t *testing.T, n int) ([]*natsserver.Server, string) {
	t.Helper()
	ports := make([]int, n)
	routes := make([]string, n)
	for i := range n {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		ports[i] = ln.Addr().(*net.TCPAddr).Port
		ln.Close()
		routes[i] = fmt.Sprintf("nats-route://127.0.0.1:%d", ports[i])
	}
	servers := make([]*natsserver.Server, n)
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Add(1)
		go func() { // members wait for each other: start them together
			defer wg.Done()
			servers[i], errs[i] = natsserver.Run(natsserver.Options{Port: -1, Name: fmt.Sprintf("n%d", i+1),
				StoreDir: t.TempDir(), Cluster: &natsserver.ClusterOptions{Name: "calltop", Port: ports[i], Routes: routes}})
		}()
	}
	wg.Wait()
	var urls []string
	for i, s := range servers {
		if errs[i] != nil {
			t.Fatal(errs[i])
		}
		t.Cleanup(func() {
			if s.Running() {
				s.Shutdown()
			}
		})
		urls = append(urls, s.ClientURL())
	}
	return servers, strings.Join(urls, ",")
}

// TestClusterLosesNothing: three nats-servers, every stream and bucket
// with three replicas, two agents and a dashboard; one server is killed
// while calls start, talk and end. Every call's final record is stored
// exactly once, the dashboard sees every call end, and the agents carry
// on.
func TestClusterLosesNothing(t *testing.T) {
	t0 := time.Now()
	servers, urls := runCluster(t, 3)
	t.Logf("cluster up in %s", time.Since(t0).Round(time.Millisecond))
	rt := realtimetest.NewServer(realtimetest.Options{})
	t.Cleanup(rt.Close)
	connect := func(name string) *feed.Client {
		nc, err := feed.Connect(urls, name, nats.DontRandomize())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(nc.Close)
		c, _ := feed.NewClient(nc, "cluster")
		c.Replicas = 3
		return c
	}
	dash := connect("dashboard")
	// JetStream needs its meta leader before the first stream exists.
	waitFor(t, "the cluster's JetStream", func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_, err := dash.EnsureStream(ctx)
		return err == nil
	})
	t.Logf("JetStream ready in %s", time.Since(t0).Round(time.Millisecond))
	var agents []*agent.Agent
	for _, name := range []string{"a1", "a2"} {
		c := connect(name)
		a, err := agent.New(context.Background(), c.NC, agent.Config{APIKey: rt.APIKey(), BaseURL: rt.BaseURL(), Name: name, Prefix: "cluster",
			Replicas: 3, PublishInterval: 20 * time.Millisecond, EvaluateInterval: 20 * time.Millisecond, CountersInterval: 100 * time.Millisecond, CloseGrace: 100 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { a.Close(context.Background()) })
		agents = append(agents, a)
	}
	w, err := dash.Watch(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	board := feed.NewBoard(time.Hour)

	const calls = 24
	var ids []string
	var mu sync.Mutex
	var wg sync.WaitGroup
	for i := range calls {
		if i == calls/2 {
			servers[1].Shutdown() // a node dies mid-run
			t.Log("killed n2")
		}
		id := rt.NewCall(realtimetest.Script{Turns: 2 + i%3, TurnGap: 20 * time.Millisecond, EndAfterTurns: true})
		mu.Lock()
		ids = append(ids, id)
		mu.Unlock()
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			if err := agents[i%2].Track(ctx, id, agent.Meta{User: fmt.Sprintf("u%d", i), Model: "gpt-realtime"}); err != nil {
				t.Errorf("track %s: %v", id, err)
			}
		}()
		time.Sleep(40 * time.Millisecond) // calls start over the run, not at once
	}
	wg.Wait()
	t.Logf("calls started by %s", time.Since(t0).Round(time.Millisecond))

	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
	defer cancel()
	ended := func() int {
		n := 0
		for _, id := range ids {
			if c, ok := board.Get(id); ok && !c.Live() {
				n++
			}
		}
		return n
	}
	for ended() < calls {
		batch, err := w.Next(ctx)
		if err != nil {
			t.Fatalf("dashboard: %d of %d calls ended: %v", ended(), calls, err)
		}
		for _, e := range batch {
			board.Apply(e)
		}
	}
	for _, id := range ids {
		c, _ := board.Get(id)
		if c.End.Reason != feed.ReasonHangup || c.Usage.Responses == 0 {
			t.Fatalf("call %s ended %+v with %d responses", id, c.End, c.Usage.Responses)
		}
	}
	t.Logf("all ended on the dashboard by %s", time.Since(t0).Round(time.Millisecond))
	// Exactly one final record per call.
	fs, err := dash.EnsureFinalStream(ctx)
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "every final record", func() bool {
		info, err := fs.Info(ctx)
		return err == nil && info.State.Msgs >= calls
	})
	info, _ := fs.Info(ctx)
	if info.State.Msgs != calls || info.Config.Replicas != 3 {
		t.Fatalf("final stream holds %d records for %d calls (replicas %d)", info.State.Msgs, calls, info.Config.Replicas)
	}
	for i, id := range ids {
		rec, ok, err := dash.Final(ctx, id)
		if err != nil || !ok || rec.Start == nil || rec.Start.User != fmt.Sprintf("u%d", i) || rec.End.Reason != feed.ReasonHangup {
			t.Fatalf("final record of %s: %+v %v %v", id, rec, ok, err)
		}
	}
	// The agents carry on: a new call after the loss is tracked and ends.
	id := rt.NewCall(realtimetest.Script{Turns: 2, TurnGap: 20 * time.Millisecond, EndAfterTurns: true})
	if err := agents[1].Track(ctx, id, agent.Meta{User: "late"}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the late call's final record", func() bool {
		rec, ok, err := dash.Final(ctx, id)
		return err == nil && ok && rec.Start.User == "late"
	})
}
