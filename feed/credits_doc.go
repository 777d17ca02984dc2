package feed

import (
	"encoding/json"
	"fmt"
	"time"
)

// The credit store's KV values and how documents written by earlier
// versions (float USD) are read. Each value is decoded into the in-memory
// form (creditDoc, chargeDoc) and always written in the current form.

// creditDoc is one user's balance document (key: UserKey(user)).
type creditDoc struct {
	User      string
	Balance   Micros
	UpdatedAt time.Time
	// Pending maps a call to the running total whose debit is in Balance
	// but not yet in the call's charge record: see Charge. It holds only
	// in-flight charges (and those of a charger that crashed mid-way,
	// until the call's next Charge completes them), so it stays small.
	Pending map[string]Micros
	// legacyPending is an earlier version's pending set (call → time):
	// the call's whole recorded amount was debited. Kept as it was until
	// the call's next Charge settles it.
	legacyPending map[string]time.Time
	// bad is set when a stored float balance is no amount (beyond ±$9e12,
	// e.g. from `credits add bob 1e308` before balances were integers):
	// reading, adding and charging fail with it; Set overwrites it.
	bad error
}

// creditJSON is the stored form of a creditDoc.
//
// balance_micros is the balance. balance_usd is its float mirror, written
// only for agents of earlier versions, which read nothing else (without it
// they would see every user at $0 and refuse every call during a rolling
// upgrade); it is read only when balance_micros is absent, as in documents
// those versions wrote.
type creditJSON struct {
	User          string               `json:"user"`
	BalanceMicros *Micros              `json:"balance_micros,omitempty"`
	BalanceUSD    *float64             `json:"balance_usd,omitempty"`
	UpdatedAt     time.Time            `json:"updated_at"`
	Pending       map[string]Micros    `json:"pending_micros,omitempty"`
	LegacyPending map[string]time.Time `json:"pending,omitempty"`
}

func decodeCreditDoc(data []byte) (creditDoc, error) {
	var j creditJSON
	if err := json.Unmarshal(data, &j); err != nil {
		return creditDoc{}, err
	}
	d := creditDoc{User: j.User, UpdatedAt: j.UpdatedAt, Pending: j.Pending, legacyPending: j.LegacyPending}
	switch {
	case j.BalanceMicros != nil:
		d.Balance = *j.BalanceMicros
		if d.Balance > MaxMicros || d.Balance < -MaxMicros {
			d.Balance, d.bad = 0, fmt.Errorf("balance of %d micro-dollars: %w (fix it with `calltop credits set`)", int64(*j.BalanceMicros), ErrMicrosRange)
		}
	case j.BalanceUSD != nil:
		m, err := MicrosFromUSD(*j.BalanceUSD)
		if err != nil {
			d.bad = fmt.Errorf("stored balance: %w (fix it with `calltop credits set`)", err)
		}
		d.Balance = m
	}
	return d, nil
}

func (d *creditDoc) encode() ([]byte, error) {
	b, usd := d.Balance, d.Balance.USD()
	return json.Marshal(creditJSON{User: d.User, BalanceMicros: &b, BalanceUSD: &usd, UpdatedAt: d.UpdatedAt,
		Pending: d.Pending, LegacyPending: d.legacyPending})
}

func (d *creditDoc) entry() CreditEntry {
	return CreditEntry{User: d.User, Balance: d.Balance, UpdatedAt: d.UpdatedAt}
}

// pendingFor is the running total of callID whose debit is in the balance
// but not yet in rec, if there is one: a current pending entry, or an
// earlier version's pending call whose record it never marked applied.
func (d *creditDoc) pendingFor(rec chargeDoc) (Micros, bool) {
	if p, ok := d.Pending[rec.CallID]; ok {
		return p, true
	}
	if _, ok := d.legacyPending[rec.CallID]; ok && rec.legacyUnapplied {
		return rec.legacyAmount, true
	}
	return 0, false
}

// settle drops callID's pending entries once its record holds the debit.
func (d *creditDoc) settle(callID string) {
	delete(d.Pending, callID)
	delete(d.legacyPending, callID)
}

// chargeDoc is one call's charge record (key: the call ID).
type chargeDoc struct {
	CallID string
	User   string
	// Applied is the call's running total debited from the balance and
	// settled here; see Charge for how it relates to the balance's Pending.
	Applied   Micros
	At        time.Time // first charged
	UpdatedAt time.Time
	// An earlier version recorded a call's whole amount up front and
	// marked it applied after the debit; a record it had not marked yet
	// was debited exactly when the balance's legacy pending set names it.
	legacyUnapplied bool
	legacyAmount    Micros
}

// chargeJSON is the stored form of a chargeDoc. usd and applied are
// fields of records written by earlier versions: read, never written.
type chargeJSON struct {
	CallID        string    `json:"call_id"`
	User          string    `json:"user"`
	AppliedMicros *Micros   `json:"applied_micros,omitempty"`
	At            time.Time `json:"at"`
	UpdatedAt     time.Time `json:"updated_at,omitzero"`
	LegacyUSD     *float64  `json:"usd,omitempty"`
	LegacyApplied bool      `json:"applied,omitempty"`
}

func decodeChargeDoc(data []byte) (chargeDoc, error) {
	var j chargeJSON
	if err := json.Unmarshal(data, &j); err != nil {
		return chargeDoc{}, err
	}
	rec := chargeDoc{CallID: j.CallID, User: j.User, At: j.At, UpdatedAt: j.UpdatedAt}
	switch {
	case j.AppliedMicros != nil:
		rec.Applied = *j.AppliedMicros
	case j.LegacyUSD != nil:
		m, err := MicrosFromUSD(*j.LegacyUSD)
		if err != nil {
			return chargeDoc{}, fmt.Errorf("amount of an earlier version's record: %w", err)
		}
		if j.LegacyApplied {
			rec.Applied = m
		} else {
			rec.legacyUnapplied, rec.legacyAmount = true, m
		}
	}
	if rec.Applied < 0 || rec.Applied > MaxMicros {
		return chargeDoc{}, fmt.Errorf("applied total of %d micro-dollars is no amount", int64(rec.Applied))
	}
	return rec, nil
}

func (rec *chargeDoc) encode() ([]byte, error) {
	applied := rec.Applied
	return json.Marshal(chargeJSON{CallID: rec.CallID, User: rec.User, AppliedMicros: &applied, At: rec.At, UpdatedAt: rec.UpdatedAt})
}
