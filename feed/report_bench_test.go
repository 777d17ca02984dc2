package feed

import (
	"context"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/calltop/calltop/natsserver"
)

// benchRecords is how many final records BenchmarkReport reads: the goal
// is a report of 100,000 calls in at most 2 s.
const benchRecords = 100_000

// reportBench is the embedded NATS holding benchRecords final records,
// made once per test binary (storing them takes seconds) and shut down by
// TestMain.
var reportBench struct {
	once sync.Once
	srv  *natsserver.Server
	c    *Client
	err  error
}

func reportBenchClient(b *testing.B) *Client {
	b.Helper()
	rb := &reportBench
	rb.once.Do(func() {
		// CALLTOP_REPORT_STORE keeps the store, for timing `calltop
		// report` against `calltop server --store` (docs/BENCHMARKS.md).
		dir := os.Getenv("CALLTOP_REPORT_STORE")
		rb.srv, rb.err = natsserver.Run(natsserver.Options{Port: -1, StoreDir: dir})
		if rb.err != nil {
			return
		}
		nc, err := Connect(rb.srv.ClientURL(), "report-bench")
		if err != nil {
			rb.err = err
			return
		}
		rb.c, _ = NewClient(nc, "")
		s, err := rb.c.EnsureFinalStream(context.Background())
		if err != nil {
			rb.err = err
			return
		}
		if s.CachedInfo().State.Msgs >= benchRecords {
			return // a kept store
		}
		evs := make([]Event, benchRecords)
		start := time.Now().Add(-benchRecords * time.Second)
		for i := range evs {
			evs[i] = billRecord(i, start.Add(time.Duration(i)*time.Second))
		}
		publishFinals(b, rb.c, evs)
	})
	if rb.err != nil {
		b.Fatal(rb.err)
	}
	return rb.c
}

// TestMain shuts down BenchmarkReport's server, if one ran.
func TestMain(m *testing.M) {
	code := m.Run()
	if reportBench.srv != nil {
		reportBench.c.NC.Close()
		reportBench.srv.Shutdown()
	}
	os.Exit(code)
}

// BenchmarkReport reads 100,000 final records from an embedded JetStream
// into a report by user, three ways, interleaved in every iteration: the
// report (batched direct gets without headers, the lean decoder, exact
// sums); the same with the ordered consumer it falls back on; and the
// naive way (an ordered consumer with default pulls, Decode of every
// record, a Board and Summarize, as `ls --json` does). All see the same
// store; s/report is wall time, cpu-s/report the process's CPU (the
// embedded server's included).
//
//	go test -run '^$' -bench BenchmarkReport -benchtime 3x ./feed
func BenchmarkReport(b *testing.B) {
	c := reportBenchClient(b)
	ctx := context.Background()
	var lean, naive, cons, leanCPU, naiveCPU, consCPU time.Duration
	b.ResetTimer()
	for range b.N {
		t0, c0 := time.Now(), cpuTime()
		r, err := c.Report(ctx, ReportOptions{By: ReportByUser})
		if err != nil {
			b.Fatal(err)
		}
		lean += time.Since(t0)
		leanCPU += cpuTime() - c0

		t0, c0 = time.Now(), cpuTime()
		agg, err := consumeFinalsOf(ctx, c)
		if err != nil {
			b.Fatal(err)
		}
		cons += time.Since(t0)
		consCPU += cpuTime() - c0

		t0, c0 = time.Now(), cpuTime()
		calls, micro, err := naiveReport(ctx, c)
		if err != nil {
			b.Fatal(err)
		}
		naive += time.Since(t0)
		naiveCPU += cpuTime() - c0
		viaConsumer, total := agg.report().Total, r.Total
		viaConsumer.BackendTokens, total.BackendTokens = nil, nil // pointers
		if r.Total.Calls != benchRecords || calls != benchRecords || r.Total.micro != micro || viaConsumer != total {
			b.Fatalf("report: %d calls, %d µ$; naive: %d calls, %d µ$; consumer: %d calls, %d µ$; want %d calls",
				r.Total.Calls, r.Total.micro, calls, micro, viaConsumer.Calls, viaConsumer.micro, benchRecords)
		}
	}
	n := float64(b.N)
	b.ReportMetric(lean.Seconds()/n, "s/report")
	b.ReportMetric(leanCPU.Seconds()/n, "cpu-s/report")
	b.ReportMetric(naive.Seconds()/n, "naive-s/report")
	b.ReportMetric(naiveCPU.Seconds()/n, "naive-cpu-s/report")
	b.ReportMetric(cons.Seconds()/n, "consumer-s/report")
	b.ReportMetric(consCPU.Seconds()/n, "consumer-cpu-s/report")
	b.ReportMetric(naive.Seconds()/lean.Seconds(), "x-faster")
	b.ReportMetric(0, "ns/op")
}

// consumeFinalsOf reads every record with the ordered consumer the report
// falls back on.
func consumeFinalsOf(ctx context.Context, c *Client) (*reportAgg, error) {
	js, err := jetstream.New(c.NC)
	if err != nil {
		return nil, err
	}
	s, err := js.Stream(ctx, c.Subjects.FinalStream())
	if err != nil {
		return nil, err
	}
	return c.consumeFinals(ctx, js, s.CachedInfo(), time.Time{}, time.Time{}, ReportOptions{By: ReportByUser})
}

// naiveReport is the report as one would write it from what `ls --json`
// does: every record decoded into an Event, folded into a Board, each call
// summarized and its user's sums added. It returns the calls and their
// cost in micro-dollars.
func naiveReport(ctx context.Context, c *Client) (calls, micro int64, err error) {
	js, err := jetstream.New(c.NC)
	if err != nil {
		return 0, 0, err
	}
	s, err := js.Stream(ctx, c.Subjects.FinalStream())
	if err != nil {
		return 0, 0, err
	}
	last := s.CachedInfo().State.LastSeq
	cons, err := js.OrderedConsumer(ctx, s.CachedInfo().Config.Name, jetstream.OrderedConsumerConfig{FilterSubjects: []string{c.Subjects.Finals()}})
	if err != nil {
		return 0, 0, err
	}
	it, err := cons.Messages()
	if err != nil {
		return 0, 0, err
	}
	defer it.Stop()
	b := NewBoard(0)
	for {
		m, err := it.Next()
		if err != nil {
			return 0, 0, err
		}
		if e, err := Decode(m.Data()); err == nil {
			b.Apply(e)
		}
		if md, err := m.Metadata(); err == nil && md.Sequence.Stream >= last {
			break
		}
	}
	type sums struct {
		calls          int64
		seconds, cost  float64
		tokens         Tokens
		policy, byOper int
	}
	users := map[string]*sums{}
	now := time.Now()
	for _, call := range b.Calls() {
		s := call.Summarize(now)
		u := users[s.User]
		if u == nil {
			u = &sums{}
			users[s.User] = u
		}
		u.calls++
		u.seconds += s.Seconds
		u.cost += s.CostUSD
		u.tokens = u.tokens.Add(s.Tokens)
	}
	for _, u := range users {
		calls += u.calls
		micro += Micro(u.cost)
	}
	return calls, micro, nil
}

// BenchmarkBillLine is the cost of reading one final record: the lean
// decoder against Decode.
//
//	go test -run '^$' -bench BenchmarkBillLine ./feed
func BenchmarkBillLine(b *testing.B) {
	data := encodeRecord(b, &Client{}, billRecord(7, time.Now()))
	b.Run("lean", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(data)))
		var l billLine
		for range b.N {
			if !readBillLine(data, &l) {
				b.Fatal("fast path gave up")
			}
		}
	})
	b.Run("decode", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(data)))
		var l billLine
		for range b.N {
			if !billLineOf(data, &l) {
				b.Fatal("general path refused")
			}
		}
	})
}
