package feed

import (
	"errors"
	"math"
	"math/big"
	"strings"
	"testing"
)

func TestMicrosFromUSD(t *testing.T) {
	for _, tc := range []struct {
		usd  float64
		want Micros
	}{
		{0, 0}, {1, Dollar}, {-2.5, -2_500_000}, {0.1 + 0.2, 300_000},
		{0.000001, 1}, {0.0000005, 1}, {-0.0000005, -1}, {0.00000049, 0}, {-0.00000049, 0},
		{1.0000015, 1_000_002}, {1.2345675, 1_234_568}, {5e-324, 0},
		{9e12, MaxMicros}, {-9e12, -MaxMicros},
	} {
		got, err := MicrosFromUSD(tc.usd)
		if err != nil || got != tc.want {
			t.Errorf("MicrosFromUSD(%v) = %d, %v; want %d", tc.usd, got, err, tc.want)
		}
	}
	for _, bad := range []float64{math.NaN(), math.Inf(1), math.Inf(-1), 9.000000000001e12, -1e13, 1e308} {
		if got, err := MicrosFromUSD(bad); err == nil {
			t.Errorf("MicrosFromUSD(%v) = %d, want an error", bad, got)
		}
	}
	if _, err := MicrosFromUSD(1e13); !errors.Is(err, ErrMicrosRange) || !strings.Contains(err.Error(), "9000000000000") {
		t.Errorf("out of range: %v", err)
	}
}

func TestParseMicros(t *testing.T) {
	for in, want := range map[string]Micros{
		"5": 5 * Dollar, "0.25": 250_000, "$1.50": 1_500_000, "-2": -2 * Dollar, "-$2": -2 * Dollar,
		"$-2": -2 * Dollar, "+.5": 500_000, "5.": 5 * Dollar, "0.000001": 1, "-$0.000001": -1,
		" 3 ": 3 * Dollar, "1.5000000": 1_500_000, "007": 7 * Dollar, "-0": 0,
		"9000000000000": MaxMicros, "-$9000000000000.000000": -MaxMicros, "1.234567": 1_234_567,
	} {
		got, err := ParseMicros(in)
		if err != nil || got != want {
			t.Errorf("ParseMicros(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for in, want := range map[string]string{
		"":                            "empty amount",
		" ":                           "empty amount",
		"1e3":                         `bad amount "1e3": exponents are not accepted`,
		"1e308":                       "exponents are not accepted",
		"0.0000001":                   `bad amount "0.0000001": more than 6 decimals`,
		"1.23456789":                  "more than 6 decimals",
		"9000000000000.01":            "beyond ±$9000000000000",
		"99999999999999999":           "beyond",
		"1" + strings.Repeat("0", 40): "beyond",
		"five":                        "want a number of USD",
		"NaN":                         "want a number",
		"Inf":                         "want a number",
		"0x10":                        "want a number",
		"1,000":                       "want a number",
		"1_000":                       "want a number",
		"$":                           "want a number",
		".":                           "want a number",
		"--1":                         "want a number",
		"-$-1":                        "want a number",
		"$$1":                         "want a number",
		"1.2.3":                       "want a number",
		"1 000":                       "want a number",
		"٣":                           "want a number",
		"\x1b[31m1":                   `"\x1b[31m1"`,
	} {
		got, err := ParseMicros(in)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("ParseMicros(%q) = %d, %v; want an error with %q", in, got, err, want)
		}
	}
	long := strings.Repeat("x", 1000)
	if _, err := ParseMicros(long); err == nil || len(err.Error()) > 200 {
		t.Errorf("a long input is quoted in full: %d bytes", len(err.Error()))
	}
}

func TestMicrosString(t *testing.T) {
	for m, want := range map[Micros]string{
		0: "$0.00", 1: "$0.000001", -1: "-$0.000001", 1_500_000: "$1.50", -2 * Dollar: "-$2.00",
		1_234_567: "$1.234567", 1_230_000: "$1.23", 1_234_000: "$1.234", 100: "$0.0001",
		MaxMicros: "$9000000000000.00", math.MinInt64: "-$9223372036854.775808",
	} {
		if got := m.String(); got != want {
			t.Errorf("Micros(%d).String() = %q, want %q", int64(m), got, want)
		}
	}
	if got := Micros(1_500_000).USD(); got != 1.5 {
		t.Errorf("USD() = %v", got)
	}
}

func TestAddMicros(t *testing.T) {
	if got, err := AddMicros(Dollar, -3*Dollar); got != -2*Dollar || err != nil {
		t.Fatalf("1 - 3: %d %v", got, err)
	}
	if got, err := AddMicros(MaxMicros-1, 1); got != MaxMicros || err != nil {
		t.Fatalf("up to the bound: %d %v", got, err)
	}
	for _, tc := range [][2]Micros{
		{MaxMicros, 1}, {-MaxMicros, -1}, {MaxMicros, MaxMicros}, {-MaxMicros, -MaxMicros},
		{math.MaxInt64, -1}, {0, math.MinInt64}, {1, math.MaxInt64},
	} {
		if got, err := AddMicros(tc[0], tc[1]); !errors.Is(err, ErrMicrosRange) {
			t.Errorf("AddMicros(%d, %d) = %d, %v; want ErrMicrosRange", tc[0], tc[1], got, err)
		}
	}
}

// FuzzParseMicros checks ParseMicros against exact rational arithmetic:
// whatever it accepts is exactly the decimal written, within the bound, and
// String reads back to the same value.
func FuzzParseMicros(f *testing.F) {
	for _, s := range []string{"5", "-$2.50", "$-0.000001", "1e3", "0.0000001", "1.5000000", "9000000000000", ".5", "5.", "+$1", "", "-", "$", "x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		m, err := ParseMicros(s)
		if err != nil {
			return
		}
		if m > MaxMicros || m < -MaxMicros {
			t.Fatalf("%q parsed beyond the bound: %d", s, m)
		}
		num := strings.TrimSpace(s)
		num = strings.Replace(strings.Replace(num, "$", "", 1), "+", "", 1)
		if strings.HasSuffix(num, ".") {
			num += "0"
		}
		want, ok := new(big.Rat).SetString(num)
		if !ok {
			t.Fatalf("%q accepted but is not a decimal (%q)", s, num)
		}
		want.Mul(want, big.NewRat(int64(Dollar), 1))
		if !want.IsInt() || want.Num().Int64() != int64(m) {
			t.Fatalf("%q parsed to %d micro-dollars, want %s", s, m, want)
		}
		back, err := ParseMicros(m.String())
		if err != nil || back != m {
			t.Fatalf("%q -> %d -> %q -> %d, %v", s, m, m.String(), back, err)
		}
	})
}

// FuzzMicrosString checks that every amount in range prints to a string
// ParseMicros reads back exactly.
func FuzzMicrosString(f *testing.F) {
	for _, v := range []int64{0, 1, -1, 999_999, 1_000_000, -1_500_000, int64(MaxMicros), -int64(MaxMicros), math.MaxInt64, math.MinInt64} {
		f.Add(v)
	}
	f.Fuzz(func(t *testing.T, v int64) {
		m := Micros(v)
		s := m.String()
		back, err := ParseMicros(s)
		if m > MaxMicros || m < -MaxMicros {
			if err == nil {
				t.Fatalf("%d beyond the bound printed as %q and read back as %d", v, s, back)
			}
			return
		}
		if err != nil || back != m {
			t.Fatalf("%d -> %q -> %d, %v", v, s, back, err)
		}
	})
}
