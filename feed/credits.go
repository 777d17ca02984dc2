package feed

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// ChargeRetention is how long the record of a charged call is kept. Within
// it, charging the same call again (an agent restarted, a second agent, a
// retry after a timeout) changes nothing; after it the record is gone and
// the call would be charged anew. A month covers any sane restart or retry.
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
	User       string    `json:"user"`
	BalanceUSD float64   `json:"balance_usd"`
	UpdatedAt  time.Time `json:"updated_at"`
}

// creditDoc is the JSON value of a balance key (feed.UserKey(user)).
// Pending lists calls whose charge is in the balance but whose charge
// record is not yet marked applied: it is what makes a resumed charge see
// that the debit already happened. It holds only in-flight charges (and
// those of a charger that crashed mid-way, until the next Charge of the
// call completes them), so it stays small.
type creditDoc struct {
	User       string               `json:"user"`
	BalanceUSD float64              `json:"balance_usd"`
	UpdatedAt  time.Time            `json:"updated_at"`
	Pending    map[string]time.Time `json:"pending,omitempty"`
}

// chargeDoc is the JSON value of a charge record (key: the call ID).
// Creating it is the commit point of a charge: only one writer can.
type chargeDoc struct {
	CallID  string    `json:"call_id"`
	User    string    `json:"user"`
	USD     float64   `json:"usd"`
	At      time.Time `json:"at"`
	Applied bool      `json:"applied"`
}

// CreditStore is calltop's built-in per-user credit ledger on JetStream
// KV, for the sidecar and for apps without a billing system of their own.
// Balances are in USD and may go negative: a call is admitted while its
// user has credit left, and its final cost can overshoot what was left.
// Every change is an optimistic-concurrency update, so any number of agents
// and operators can share one store. Its methods are safe for concurrent
// use.
type CreditStore struct {
	balances jetstream.KeyValue
	charges  jetstream.KeyValue
	now      func() time.Time
}

// Credits opens the credit store, creating its buckets if they do not
// exist (existing buckets are used as they are).
func (c *Client) Credits(ctx context.Context) (*CreditStore, error) {
	js, err := jetstream.New(c.NC)
	if err != nil {
		return nil, fmt.Errorf("credits: jetstream: %w", err)
	}
	balances, err := ensureKV(ctx, js, jetstream.KeyValueConfig{
		Bucket:      c.Subjects.CreditsBucket(),
		Description: "calltop user credits in USD (key: feed.UserKey(user))",
		History:     8, // `nats kv history` shows recent changes of a balance
		Storage:     jetstream.FileStorage,
	})
	if err != nil {
		return nil, err
	}
	charges, err := ensureKV(ctx, js, jetstream.KeyValueConfig{
		Bucket:      c.Subjects.ChargesBucket(),
		Description: "calltop charged calls (key: call id), so each is charged once",
		History:     1,
		TTL:         ChargeRetention,
		Storage:     jetstream.FileStorage,
	})
	if err != nil {
		return nil, err
	}
	return &CreditStore{balances: balances, charges: charges, now: time.Now}, nil
}

func ensureKV(ctx context.Context, js jetstream.JetStream, cfg jetstream.KeyValueConfig) (jetstream.KeyValue, error) {
	kv, err := js.KeyValue(ctx, cfg.Bucket)
	if err == nil {
		return kv, nil
	}
	if !errors.Is(err, jetstream.ErrBucketNotFound) {
		return nil, fmt.Errorf("credits: look up bucket %s (is JetStream enabled on the server?): %w", cfg.Bucket, err)
	}
	kv, err = js.CreateKeyValue(ctx, cfg)
	if errors.Is(err, jetstream.ErrBucketExists) {
		return js.KeyValue(ctx, cfg.Bucket) // another process created it first
	}
	if err != nil {
		return nil, fmt.Errorf("credits: create bucket %s: %w", cfg.Bucket, err)
	}
	return kv, nil
}

func checkUSD(usd float64) error {
	if math.IsNaN(usd) || math.IsInf(usd, 0) {
		return fmt.Errorf("amount %v is not a finite number of USD", usd)
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
func (s *CreditStore) Balance(ctx context.Context, user string) (usd float64, ok bool, err error) {
	doc, _, err := s.get(ctx, user)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, err
	}
	return doc.BalanceUSD, true, nil
}

// Set makes user's balance usd (negative allowed: a debt), creating the
// entry if needed. Charges in flight are kept: a call being charged while
// the balance is set is still charged once, after or before the set.
func (s *CreditStore) Set(ctx context.Context, user string, usd float64) (CreditEntry, error) {
	if err := checkUSD(usd); err != nil {
		return CreditEntry{}, fmt.Errorf("credits set %s: %w", user, err)
	}
	return s.change(ctx, "set", user, func(d *creditDoc) { d.BalanceUSD = usd })
}

// Add adds usd to user's balance (negative to deduct), creating the entry
// at usd if there is none, and returns the new entry.
func (s *CreditStore) Add(ctx context.Context, user string, usd float64) (CreditEntry, error) {
	if err := checkUSD(usd); err != nil {
		return CreditEntry{}, fmt.Errorf("credits add %s: %w", user, err)
	}
	return s.change(ctx, "add", user, func(d *creditDoc) { d.BalanceUSD += usd })
}

// List returns every user's balance, sorted by user.
func (s *CreditStore) List(ctx context.Context) ([]CreditEntry, error) {
	w, err := s.balances.WatchAll(ctx, jetstream.IgnoreDeletes())
	if err != nil {
		return nil, fmt.Errorf("credits list: %w", err)
	}
	defer w.Stop()
	var out []CreditEntry
	for {
		select {
		case e, open := <-w.Updates():
			if !open {
				return nil, fmt.Errorf("credits list: watcher closed after %d entries", len(out))
			}
			if e == nil { // every current value has been delivered
				slices.SortFunc(out, func(a, b CreditEntry) int { return strings.Compare(a.User, b.User) })
				return out, nil
			}
			var d creditDoc
			if err := json.Unmarshal(e.Value(), &d); err != nil {
				return nil, fmt.Errorf("credits list: key %s: %w", e.Key(), err)
			}
			out = append(out, d.entry())
		case <-ctx.Done():
			return nil, fmt.Errorf("credits list: %w (read %d entries)", ctx.Err(), len(out))
		}
	}
}

func (d *creditDoc) entry() CreditEntry {
	return CreditEntry{User: d.User, BalanceUSD: d.BalanceUSD, UpdatedAt: d.UpdatedAt}
}

// get reads user's balance document and its revision.
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
	var d creditDoc
	if err := json.Unmarshal(e.Value(), &d); err != nil {
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
// is created from a zero balance.
func (s *CreditStore) change(ctx context.Context, op, user string, mutate func(*creditDoc)) (CreditEntry, error) {
	for try := 0; try < casTries; try++ {
		d, rev, err := s.get(ctx, user)
		missing := errors.Is(err, jetstream.ErrKeyNotFound)
		if err != nil && !missing {
			return CreditEntry{}, fmt.Errorf("credits %s: %w", op, err)
		}
		if missing {
			d = creditDoc{User: user}
		}
		mutate(&d)
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
	data, err := json.Marshal(d)
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
