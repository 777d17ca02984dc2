package feed

import (
	"context"
	"encoding/json"
	"fmt"
	"math/big"
	"strconv"
	"sync"
	"sync/atomic"

	"github.com/nats-io/nats.go"
)

// batchReader reads the last value of many counters in one batched direct
// get ({"multi_last": [filter]}, nats-server 2.11+), over one subscription
// kept for the life of the Counters. orbit.go's GetMultiple does the same
// request but subscribes and unsubscribes an inbox per call, which cost
// about 1 ms a read on loopback (docs/BENCHMARKS.md): admission reads two
// batches per call.
type batchReader struct {
	nc      *nats.Conn
	subject string // $JS.API.DIRECT.GET.<stream>

	once   sync.Once
	err    error
	prefix string // <inbox>.
	sub    *nats.Subscription
	mu     sync.Mutex
	wait   map[string]chan *nats.Msg
	next   atomic.Uint64
}

func (r *batchReader) start() error {
	r.once.Do(func() {
		inbox := r.nc.NewRespInbox()
		r.prefix = inbox + "."
		r.wait = make(map[string]chan *nats.Msg)
		r.sub, r.err = r.nc.Subscribe(r.prefix+"*", func(m *nats.Msg) {
			r.mu.Lock()
			ch := r.wait[m.Subject]
			r.mu.Unlock()
			if ch != nil {
				select {
				case ch <- m:
				default: // a reader that gave up
				}
			}
		})
	})
	return r.err
}

// values reads every counter matching filter.
func (r *batchReader) values(ctx context.Context, filter string) (map[string]int64, error) {
	if err := r.start(); err != nil {
		return nil, fmt.Errorf("counts %s: %w", filter, err)
	}
	reply := r.prefix + strconv.FormatUint(r.next.Add(1), 10)
	ch := make(chan *nats.Msg, 64)
	r.mu.Lock()
	r.wait[reply] = ch
	r.mu.Unlock()
	defer func() {
		r.mu.Lock()
		delete(r.wait, reply)
		r.mu.Unlock()
	}()
	req, _ := json.Marshal(map[string][]string{"multi_last": {filter}})
	if err := r.nc.PublishRequest(r.subject, reply, req); err != nil {
		return nil, fmt.Errorf("counts %s: %w", filter, err)
	}
	out := make(map[string]int64)
	for {
		var m *nats.Msg
		select {
		case m = <-ch:
		case <-ctx.Done():
			return nil, fmt.Errorf("counts %s: %w", filter, ctx.Err())
		}
		if len(m.Data) == 0 {
			switch status := m.Header.Get("Status"); status {
			case "204": // end of batch
				return out, nil
			case "404": // nothing matches
				return out, nil
			default:
				return nil, fmt.Errorf("counts %s: status %s %s", filter, status, m.Header.Get("Description"))
			}
		}
		subj := m.Header.Get(nats.JSSubject)
		var payload struct {
			Val string `json:"val"`
		}
		if subj == "" || json.Unmarshal(m.Data, &payload) != nil {
			return nil, fmt.Errorf("counts %s: a reply that is no counter", filter)
		}
		v, ok := new(big.Int).SetString(payload.Val, 10)
		if ok && v.IsInt64() {
			out[subj] = v.Int64()
		}
	}
}
