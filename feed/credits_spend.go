package feed

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Live spend. A balance in the store is what a user had before their live
// calls; what each live call has spent so far is a distributed counter
// (Subjects.CountSpend, integer micro-dollars), raised as the call spends
// (Spend) by whichever agent follows the call. What the user has left now
// is the balance minus the spend of their live calls (Available). When a
// call ends, Settle charges its total to the balance exactly once (Charge)
// and only then purges its counter, so at every moment the call's spend
// is in the balance, in its counter, or (for a moment) both: never
// neither. Readers read the counters first, then the balance, and so
// never see less spent than there was.

// spendBook is what this process knows it added to each call's counter.
type spendBook struct {
	mu    sync.Mutex
	known map[string]Micros // call ID → the counter's value after our last add
}

// Spend says that callID, a live call of user, has spent total so far (a
// running total). The call's counter is raised to total if it is below:
// a lower or equal total adds nothing. The first Spend of a call in this
// process reads the counter, so an agent that adopted a call carries on
// from what the former owner added, never adding it twice. Each add's
// message ID is the call and the total ("rtc_1:250000"), so a retry after
// a lost answer is counted once.
func (s *CreditStore) Spend(ctx context.Context, user, callID string, total Micros) error {
	if err := ValidateCallID(callID); err != nil {
		return fmt.Errorf("spend: %w", err)
	}
	if total < 0 || total > MaxMicros {
		return fmt.Errorf("spend %s: total %s is no amount", callID, total)
	}
	subject := s.c.Subjects.CountSpend(user, callID)
	s.spent.mu.Lock()
	known, ok := s.spent.known[callID]
	s.spent.mu.Unlock()
	if !ok {
		v, err := s.counts.Load(ctx, subject)
		if err != nil {
			return fmt.Errorf("spend %s: %w", callID, err)
		}
		known = Micros(v)
	}
	if total <= known {
		s.remember(callID, known)
		return nil
	}
	v, err := s.counts.Add(ctx, subject, int64(total-known), callID+":"+strconv.FormatInt(int64(total), 10))
	if err != nil {
		return fmt.Errorf("spend %s of %s: %w", total, callID, err)
	}
	s.remember(callID, Micros(v))
	return nil
}

func (s *CreditStore) remember(callID string, v Micros) {
	s.spent.mu.Lock()
	if s.spent.known == nil {
		s.spent.known = make(map[string]Micros)
	}
	s.spent.known[callID] = v
	s.spent.mu.Unlock()
}

// LiveSpend is what user's live calls have spent so far, call by call
// (call ID → micro-dollars), as their counters hold it.
func (s *CreditStore) LiveSpend(ctx context.Context, user string) (map[string]Micros, error) {
	vs, err := s.counts.Values(ctx, s.c.Subjects.CountSpendOf(user))
	if err != nil {
		return nil, fmt.Errorf("live spend of %s: %w", user, err)
	}
	out := make(map[string]Micros, len(vs))
	prefix := len(s.c.Subjects.CountSpendOf(user)) - 1
	for subj, v := range vs {
		out[subj[prefix:]] = Micros(v)
	}
	return out, nil
}

// Available is what user has left now: the balance minus the spend of
// their live calls. ok is false when the user has no entry (no credit
// limit). It reads the counters, then the charge records of their calls,
// then the balance: a call whose record says its settle reached the
// balance already (applied at least its spend) is not deducted twice.
// Between the settle's debit and its record a call is deducted twice for
// a moment, never zero times.
func (s *CreditStore) Available(ctx context.Context, user string) (left Micros, ok bool, err error) {
	spent, err := s.LiveSpend(ctx, user)
	if err != nil {
		return 0, false, err
	}
	for callID, v := range spent {
		rec, _, err := s.record(ctx, callID)
		if errors.Is(err, jetstream.ErrKeyNotFound) {
			continue
		}
		if err != nil {
			return 0, false, fmt.Errorf("credits of %s: %w", user, err)
		}
		if rec.User == user && rec.Applied >= v {
			delete(spent, callID) // settled: in the balance now
		}
	}
	b, ok, err := s.Balance(ctx, user)
	if err != nil || !ok {
		return 0, ok, err
	}
	for _, v := range spent {
		if b, err = AddMicros(b, -v); err != nil {
			return 0, false, fmt.Errorf("credits of %s: %w", user, err)
		}
	}
	return b, true, nil
}

// Settle ends a call's live spend: it charges total to user's balance
// (Charge: exactly once per call, however often it is repeated) and then
// purges the call's spend counter. Repeating it is safe.
func (s *CreditStore) Settle(ctx context.Context, user, callID string, total Micros) error {
	if _, err := s.Charge(ctx, user, callID, total); err != nil {
		return err
	}
	if err := s.counts.Purge(ctx, s.c.Subjects.CountSpend(user, callID)); err != nil {
		return fmt.Errorf("settle %s: %w", callID, err)
	}
	s.spent.mu.Lock()
	delete(s.spent.known, callID)
	s.spent.mu.Unlock()
	return nil
}

// WatchChanges calls changed with a user key (UserKey) whenever the
// balance or the live spend of that user may have changed, as any agent
// or operator changes it: a plain subscription to the writes, no state on
// the server. It can miss a change while the connection is down: readers
// also re-read on a timer. stop ends it.
func (s *CreditStore) WatchChanges(changed func(userKey string)) (stop func(), err error) {
	spends, err := s.c.NC.Subscribe(s.c.Subjects.CountSpends(), func(m *nats.Msg) {
		if k := s.c.Subjects.UserKeyOfCount(m.Subject); k != "" {
			changed(k)
		}
	})
	if err != nil {
		return nil, fmt.Errorf("watch spend: %w", err)
	}
	prefix := "$KV." + s.c.Subjects.CreditsBucket() + "."
	balances, err := s.c.NC.Subscribe(prefix+"*", func(m *nats.Msg) {
		changed(m.Subject[len(prefix):])
	})
	if err != nil {
		_ = spends.Unsubscribe()
		return nil, fmt.Errorf("watch balances: %w", err)
	}
	return func() { _ = spends.Unsubscribe(); _ = balances.Unsubscribe() }, nil
}
