package feed

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// ChargeRetention is how long the record of a charged call is kept after
// its last change. Within it, charging the call again (an agent restarted,
// a second agent, a retry after a timeout) debits only what a higher
// running total adds; after it the record is gone and the call would be
// charged its whole total anew. A month covers any sane restart or retry.
const ChargeRetention = 30 * 24 * time.Hour

// Errors of the credit store, for errors.Is.
var (
	// ErrChargeConflict: a call was already charged to another user. The
	// first charge stands; the second is a bug in the caller.
	ErrChargeConflict = errors.New("call already charged to another user")
	// ErrCreditContention: too many writers updated one user's balance at
	// once and a change gave up retrying; retrying later is safe.
	ErrCreditContention = errors.New("credit balance: too many concurrent updates")
)

// casTries bounds optimistic-concurrency retries of one balance change.
const casTries = 64

// CreditsBucket is the KV bucket holding user balances: "CALLTOP_CREDITS"
// for the default prefix, so installs sharing one NATS keep apart.
func (s Subjects) CreditsBucket() string { return s.Stream() + "_CREDITS" }

// ChargesBucket is the KV bucket recording charged calls:
// "CALLTOP_CHARGES" for the default prefix. Its entries expire after
// ChargeRetention.
func (s Subjects) ChargesBucket() string { return s.Stream() + "_CHARGES" }

// CreditEntry is one user's balance as the store holds it.
type CreditEntry struct {
	User      string    `json:"user"`
	Balance   Micros    `json:"balance_micros"`
	UpdatedAt time.Time `json:"updated_at"`
	// LiveSpend is what the user's live calls spent so far, not yet
	// settled into Balance (List fills it in): the user has Balance −
	// LiveSpend left now.
	LiveSpend Micros `json:"live_spend_micros,omitempty"`
}

// CreditStore is calltop's built-in per-user credit ledger on JetStream
// KV, for the sidecar and for apps without a billing system of their own.
// Balances are integer micro-dollars (Micros) and may go negative: a call
// is admitted while its user has credit left, and its cost can overshoot
// what was left.
// Every change is an optimistic-concurrency update, so any number of agents
// and operators can share one store. Its methods are safe for concurrent
// use.
type CreditStore struct {
	c        *Client
	balances jetstream.KeyValue
	charges  jetstream.KeyValue
	counts   *Counters // live spend (credits_spend.go)
	spent    spendBook
	now      func() time.Time
	// wrote, when set (by tests), is called after each write a Charge
	// makes ("recorded", "debited", "applied", "settled"); an error stops
	// the Charge there, as a crash would.
	wrote func(step string) error
}

// Credits opens the credit store, creating its buckets if they do not
// exist (existing buckets are used as they are).
func (c *Client) Credits(ctx context.Context) (*CreditStore, error) {
	s := &CreditStore{c: c, now: time.Now}
	if err := s.Ensure(ctx); err != nil {
		return nil, err
	}
	return s, nil
}

// Ensure creates the store's buckets if they are missing: after a NATS
// that came back without its data (balances are then lost: restore them
// with `calltop credits set`, or run NATS as a cluster).
func (s *CreditStore) Ensure(ctx context.Context) error {
	js, err := jetstream.New(s.c.NC)
	if err != nil {
		return fmt.Errorf("credits: jetstream: %w", err)
	}
	balances, err := ensureKV(ctx, js, jetstream.KeyValueConfig{
		Bucket:      s.c.Subjects.CreditsBucket(),
		Description: "calltop user credits in micro-dollars (key: feed.UserKey(user))",
		History:     8, // `nats kv history` shows recent changes of a balance
		Storage:     jetstream.FileStorage,
		Replicas:    s.c.replicas(),
	})
	if err != nil {
		return fmt.Errorf("credits: %w", err)
	}
	charges, err := ensureKV(ctx, js, jetstream.KeyValueConfig{
		Bucket:      s.c.Subjects.ChargesBucket(),
		Description: "calltop charged calls (key: call id): what each call was charged so far",
		History:     1,
		TTL:         ChargeRetention,
		Storage:     jetstream.FileStorage,
		Replicas:    s.c.replicas(),
	})
	if err != nil {
		return fmt.Errorf("credits: %w", err)
	}
	counts := s.counts
	if counts == nil {
		if counts, err = s.c.Counters(ctx); err != nil {
			return fmt.Errorf("credits: %w", err)
		}
	} else if err := counts.Ensure(ctx); err != nil {
		return fmt.Errorf("credits: %w", err)
	}
	if s.balances == nil {
		s.counts = counts
		// Set once, by Credits: a handle names its bucket, so it works
		// on a bucket recreated later, and other goroutines read it.
		s.balances, s.charges = balances, charges
	}
	return nil
}

func checkAmount(m Micros) error {
	if m > MaxMicros || m < -MaxMicros {
		return fmt.Errorf("amount of %d micro-dollars: %w", int64(m), ErrMicrosRange)
	}
	return nil
}

func checkUser(user string) error {
	if strings.TrimSpace(user) == "" {
		return errors.New("empty user")
	}
	return nil
}

// Balance returns what user has left; ok is false when the user has no
// entry, which means no credit limit.
func (s *CreditStore) Balance(ctx context.Context, user string) (balance Micros, ok bool, err error) {
	doc, _, err := s.get(ctx, user)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return 0, false, nil
	}
	if err == nil {
		err = doc.bad
	}
	if err != nil {
		return 0, false, fmt.Errorf("credits of %s: %w", user, err)
	}
	return doc.Balance, true, nil
}

// Set makes user's balance amount (negative allowed: a debt), creating
// the entry if needed. Charges in flight are kept: a call being charged
// while the balance is set is still charged once, after or before the set.
// Set also replaces a stored balance that is unreadable (out of range).
func (s *CreditStore) Set(ctx context.Context, user string, amount Micros) (CreditEntry, error) {
	if err := checkAmount(amount); err != nil {
		return CreditEntry{}, fmt.Errorf("credits set %s: %w", user, err)
	}
	return s.change(ctx, "set", user, func(d *creditDoc) error {
		d.Balance, d.bad = amount, nil
		return nil
	})
}

// Add adds amount to user's balance (negative to deduct), creating the
// entry at amount if there is none, and returns the new entry. A balance
// that would leave ±MaxMicros is an error (ErrMicrosRange) and nothing is
// written.
func (s *CreditStore) Add(ctx context.Context, user string, amount Micros) (CreditEntry, error) {
	if err := checkAmount(amount); err != nil {
		return CreditEntry{}, fmt.Errorf("credits add %s: %w", user, err)
	}
	return s.change(ctx, "add", user, func(d *creditDoc) error {
		if d.bad != nil {
			return d.bad
		}
		b, err := AddMicros(d.Balance, amount)
		if err != nil {
			return err
		}
		d.Balance = b
		return nil
	})
}

// List returns every user's balance, sorted by user.
func (s *CreditStore) List(ctx context.Context) ([]CreditEntry, error) {
	var out []CreditEntry
	err := eachValue(ctx, s.balances, func(e jetstream.KeyValueEntry) error {
		d, err := decodeCreditDoc(e.Value())
		if err == nil {
			err = d.bad
		}
		if err != nil {
			return fmt.Errorf("key %s (user %q): %w", e.Key(), d.User, err)
		}
		out = append(out, d.entry())
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("credits list: %w", err)
	}
	spends, err := s.counts.Values(ctx, s.c.Subjects.CountSpends())
	if err != nil {
		return nil, fmt.Errorf("credits list: %w", err)
	}
	byKey := make(map[string]Micros)
	for subj, v := range spends {
		byKey[s.c.Subjects.UserKeyOfCount(subj)] += Micros(v)
	}
	for i := range out {
		out[i].LiveSpend = byKey[UserKey(out[i].User)]
	}
	slices.SortFunc(out, func(a, b CreditEntry) int { return strings.Compare(a.User, b.User) })
	return out, nil
}

// get reads user's balance document and its revision. A stored balance
// out of range is no error here but d.bad, so that Set can replace it.
func (s *CreditStore) get(ctx context.Context, user string) (creditDoc, uint64, error) {
	if err := checkUser(user); err != nil {
		return creditDoc{}, 0, fmt.Errorf("credits: %w", err)
	}
	e, err := s.balances.Get(ctx, UserKey(user))
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return creditDoc{}, 0, err
	}
	if err != nil {
		return creditDoc{}, 0, fmt.Errorf("credits: read %s: %w", user, err)
	}
	d, err := decodeCreditDoc(e.Value())
	if err != nil {
		return creditDoc{}, 0, fmt.Errorf("credits: entry of %s (key %s): %w", user, e.Key(), err)
	}
	if d.User != user {
		// Two users hashing to one key: refuse rather than mix balances.
		return creditDoc{}, 0, fmt.Errorf("credits: key %s holds %q, not %q", e.Key(), d.User, user)
	}
	return d, e.Revision(), nil
}

// change applies mutate to user's balance with optimistic concurrency:
// read, mutate, write if nobody wrote since, else retry. A missing entry
// is created from a zero balance. When mutate fails nothing is written.
func (s *CreditStore) change(ctx context.Context, op, user string, mutate func(*creditDoc) error) (CreditEntry, error) {
	for try := 0; try < casTries; try++ {
		d, rev, err := s.get(ctx, user)
		missing := errors.Is(err, jetstream.ErrKeyNotFound)
		if err != nil && !missing {
			return CreditEntry{}, fmt.Errorf("credits %s: %w", op, err)
		}
		if missing {
			d = creditDoc{User: user}
		}
		if err := mutate(&d); err != nil {
			return CreditEntry{}, fmt.Errorf("credits %s %s: %w", op, user, err)
		}
		d.UpdatedAt = s.now().UTC()
		conflict, err := s.put(ctx, &d, rev, missing)
		if err != nil {
			return CreditEntry{}, fmt.Errorf("credits %s %s: %w", op, user, err)
		}
		if !conflict {
			return d.entry(), nil
		}
		if err := backoff(ctx, try); err != nil {
			return CreditEntry{}, fmt.Errorf("credits %s %s: %w", op, user, err)
		}
	}
	return CreditEntry{}, fmt.Errorf("credits %s %s: %w", op, user, ErrCreditContention)
}

// put writes d at rev (create when missing); conflict reports that another
// writer got there first.
func (s *CreditStore) put(ctx context.Context, d *creditDoc, rev uint64, missing bool) (conflict bool, err error) {
	data, err := d.encode()
	if err != nil {
		return false, err
	}
	if missing {
		_, err = s.balances.Create(ctx, UserKey(d.User), data)
		if errors.Is(err, jetstream.ErrKeyExists) {
			return true, nil
		}
		return false, err
	}
	_, err = s.balances.Update(ctx, UserKey(d.User), data, rev)
	if errors.Is(err, jetstream.ErrKeyRevisionMismatch) {
		return true, nil
	}
	return false, err
}

// backoff sleeps a little, more with every try and with jitter, so
// conflicting writers spread out.
func backoff(ctx context.Context, try int) error {
	d := time.Duration(rand.Int64N(int64(time.Millisecond)*int64(min(try+1, 20)))) + 100*time.Microsecond
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
