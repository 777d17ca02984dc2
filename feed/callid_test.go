package feed

import (
	"errors"
	"strings"
	"testing"
)

func TestValidateCallID(t *testing.T) {
	good := []string{"rtc_u1_ETYJSp3oMdsOb7HW9eMflgesrIs0XaTn", "rtc_479a275623b54bdb9b6fbae2f7cbd408", "a", "A-b_9", strings.Repeat("x", MaxCallIDLen)}
	for _, id := range good {
		if err := ValidateCallID(id); err != nil {
			t.Errorf("ValidateCallID(%q) = %v, want nil", id, err)
		}
	}
	bad := []string{"", "rtc.x", "rtc*", "rtc>", "a/b", "a?b=c", "a b", "é", "rtc_\n", strings.Repeat("x", MaxCallIDLen+1), "../etc"}
	for _, id := range bad {
		err := ValidateCallID(id)
		if !errors.Is(err, ErrInvalidCallID) {
			t.Errorf("ValidateCallID(%q) = %v, want ErrInvalidCallID", id, err)
		}
	}
}

func TestNewSubjects(t *testing.T) {
	s, err := NewSubjects("")
	if err != nil || s.Call("rtc_1", KindUsage) != "calltop.v1.call.rtc_1.usage" || s.Terminate("rtc_1") != "calltop.v1.ctl.rtc_1.terminate" || s.Stream() != "CALLTOP" {
		t.Fatalf("default subjects: %+v %v", s, err)
	}
	s, err = NewSubjects("acme.prod-eu")
	if err != nil || s.Stored()[0] != "acme.prod-eu.v1.call.>" || s.Stream() != "ACME_PROD_EU" {
		t.Fatalf("custom prefix: %+v %v", s, err)
	}
	for _, p := range []string{"a..b", "a.*", ">", "a b"} {
		if _, err := NewSubjects(p); err == nil {
			t.Errorf("NewSubjects(%q) accepted", p)
		}
	}
}

func TestDecodeRejects(t *testing.T) {
	for name, in := range map[string]string{
		"not json":     `{"v":1,`,
		"version":      `{"v":3,"kind":"usage","call_id":"rtc_1","usage":{}}`,
		"live v2":      `{"v":2,"seq":1,"at":1,"usage":{}}`,
		"v2 bad id":    `{"v":2,"kind":"usage","call_id":"rtc.1","usage":{}}`,
		"v2 no usage":  `{"v":2,"kind":"usage","call_id":"rtc_1"}`,
		"v2 no kind":   `{ "v": 2, "call_id":"rtc_1","usage":{}}`,
		"bad id":       `{"v":1,"kind":"usage","call_id":"rtc.1","usage":{}}`,
		"no payload":   `{"v":1,"kind":"usage","call_id":"rtc_1"}`,
		"unknown kind": `{"v":1,"kind":"nope","call_id":"rtc_1"}`,
		"array":        `[1,2]`,
	} {
		if _, err := Decode([]byte(in)); err == nil {
			t.Errorf("%s: Decode accepted %s", name, in)
		}
	}
	rec, err := Decode([]byte(`{ "v": 2, "kind":"usage","call_id":"rtc_1","seq":3,"usage":{"cost":1500}}`))
	if err != nil || rec.CallID != "rtc_1" || rec.Usage.CostUSD != 0.0015 || rec.Term != 1 {
		t.Fatalf("Decode record of schema 2, spaced: %+v %v", rec, err)
	}
	e, err := Decode([]byte(`{"v":1,"kind":"ended","call_id":"rtc_1","seq":4,"end":{"reason":"operator","ended_at":"2026-11-29T10:00:00Z"}}`))
	if err != nil || e.End.Reason != ReasonOperator || e.Seq != 4 {
		t.Fatalf("Decode good ended: %+v %v", e, err)
	}
}
