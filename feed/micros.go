package feed

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Micros is an amount of money in millionths of a US dollar. Credit
// balances and charges are kept in it, not in float64 USD: a ledger adds
// and subtracts millions of small amounts, and integers do that exactly
// (0.1 + 0.2 is 0.3), never reach Inf, and compare equal when they should.
// A micro-dollar is well below a call's smallest cost step (a few tokens),
// so no precision that matters is lost. Call costs stay float64 USD on
// events; MicrosFromUSD converts at the ledger's edge.
type Micros int64

const (
	// Microdollar is the smallest amount: $0.000001.
	Microdollar Micros = 1
	// Dollar is one US dollar in micro-dollars. It is untyped, so that
	// amounts read as dollars: 5*Dollar, and 0.08*Dollar for 8 cents.
	Dollar = 1_000_000
	// MaxMicros bounds every amount and balance in either direction:
	// ±$9,000,000,000,000. That is far beyond any real balance and keeps
	// the sum of two amounts in range of int64, so checks are simple.
	MaxMicros Micros = maxUSD * Dollar

	maxUSD = 9_000_000_000_000
)

// ErrMicrosRange: an amount or a balance would leave ±MaxMicros.
var ErrMicrosRange = errors.New("beyond ±$9000000000000")

// MicrosFromUSD converts a float amount of USD, rounding to the nearest
// micro-dollar, half away from zero. It rounds the float's shortest decimal
// form (what strconv and JSON print), so 0.0000005 is 1 micro-dollar even
// though the float is a hair below it. NaN, ±Inf and magnitudes beyond
// $9e12 are errors.
func MicrosFromUSD(usd float64) (Micros, error) {
	if math.IsNaN(usd) || math.IsInf(usd, 0) {
		return 0, fmt.Errorf("amount %v is not a finite number of USD", usd)
	}
	if math.Abs(usd) > maxUSD {
		return 0, fmt.Errorf("amount %g USD: %w", usd, ErrMicrosRange)
	}
	s := strconv.FormatFloat(math.Abs(usd), 'f', -1, 64)
	m, err := parseMagnitude(s, true)
	if err != nil { // cannot happen for a finite float in range
		return 0, fmt.Errorf("amount %g USD: %w", usd, err)
	}
	if usd < 0 {
		m = -m
	}
	return m, nil
}

// ParseMicros reads an exact amount of USD as people and scripts write
// it: a plain decimal number with an optional sign and an optional '$'
// ("5", "0.25", "$1.50", "-2", "-$2", "$-2", "+.5"), surrounding spaces
// ignored. It never rounds: more than 6 decimals are refused unless the
// extra ones are zeros. Exponents ("1e3"), digit separators ("1,000",
// "1_000"), hex, "NaN" and "Inf" are refused, and so is anything beyond
// ±$9e12. The error quotes the input (escaped) and says what to write.
func ParseMicros(s string) (Micros, error) {
	t := strings.TrimSpace(s)
	neg, signed := false, false
	sign := func() {
		if t != "" && (t[0] == '-' || t[0] == '+') {
			neg, signed, t = t[0] == '-', true, t[1:]
		}
	}
	sign()
	t = strings.TrimPrefix(t, "$")
	if !signed {
		sign()
	}
	m, err := parseMagnitude(t, false)
	if err != nil {
		if strings.TrimSpace(s) == "" {
			return 0, errors.New("empty amount: want a number of USD such as 5, 0.25 or -2.50")
		}
		return 0, fmt.Errorf("bad amount %s: %w", quoteShort(s), err)
	}
	if neg {
		m = -m
	}
	return m, nil
}

// parseMagnitude reads "123", "123.45", ".5" or "5." into micro-dollars.
// Past the sixth decimal it rounds half away from zero when round is set
// and otherwise accepts only zeros.
func parseMagnitude(t string, round bool) (Micros, error) {
	whole, frac, _ := strings.Cut(t, ".")
	if whole == "" && frac == "" {
		return 0, errWantNumber
	}
	for _, part := range []string{whole, frac} {
		for i := 0; i < len(part); i++ {
			if c := part[i]; c < '0' || c > '9' {
				if c == 'e' || c == 'E' {
					return 0, errors.New("exponents are not accepted: write the number out, such as 1000 or 0.001")
				}
				return 0, errWantNumber
			}
		}
	}
	up := false
	if len(frac) > 6 {
		rest := frac[6:]
		switch {
		case round:
			up = rest[0] >= '5'
		case strings.Trim(rest, "0") != "":
			return 0, errors.New("more than 6 decimals: amounts are whole micro-dollars ($0.000001)")
		}
		frac = frac[:6]
	}
	var m Micros
	for i := 0; i < len(whole); i++ {
		if m > (MaxMicros/Dollar)/10 {
			return 0, ErrMicrosRange
		}
		m = m*10 + Micros(whole[i]-'0')
	}
	if m > MaxMicros/Dollar {
		return 0, ErrMicrosRange
	}
	m *= Dollar
	scale := Micros(Dollar / 10)
	for i := 0; i < len(frac); i++ {
		m += Micros(frac[i]-'0') * scale
		scale /= 10
	}
	if up {
		m++
	}
	if m > MaxMicros {
		return 0, ErrMicrosRange
	}
	return m, nil
}

var errWantNumber = errors.New("want a number of USD such as 5, 0.25, $1.50 or -2")

// quoteShort quotes s for an error message: escaped (no control character
// reaches a terminal) and cut to a readable length.
func quoteShort(s string) string {
	const most = 40
	if len(s) <= most {
		return strconv.Quote(s)
	}
	cut := most
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return strconv.Quote(s[:cut]) + "…"
}

// USD is m as a float amount of USD, for events and arithmetic with costs.
func (m Micros) USD() float64 { return float64(m) / float64(Dollar) }

// String shows m as dollars with every significant decimal and at least
// two: "$1.50", "$0.000001", "-$2.00", "$1.234567". ParseMicros reads it
// back to the same value.
func (m Micros) String() string {
	u := uint64(m)
	sign := "$"
	if m < 0 {
		u, sign = -u, "-$" // two's complement: right for math.MinInt64 too
	}
	frac := strconv.FormatUint(u%uint64(Dollar)+uint64(Dollar), 10)[1:] // six digits
	frac = strings.TrimRight(frac, "0")
	for len(frac) < 2 {
		frac += "0"
	}
	return sign + strconv.FormatUint(u/uint64(Dollar), 10) + "." + frac
}

// AddMicros returns a + b, or ErrMicrosRange when the sum (or an operand)
// lies beyond ±MaxMicros: a balance never wraps around or saturates.
func AddMicros(a, b Micros) (Micros, error) {
	if a > MaxMicros || a < -MaxMicros || b > MaxMicros || b < -MaxMicros ||
		(b > 0 && a > MaxMicros-b) || (b < 0 && a < -MaxMicros-b) {
		return 0, fmt.Errorf("%s + %s: %w", a, b, ErrMicrosRange)
	}
	return a + b, nil
}
