package feed

import (
	"bytes"
	"encoding/json"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// TestEventsDocExamples decodes every JSON example in docs/EVENTS.md, so
// the contract documented for other languages cannot drift from the code.
func TestEventsDocExamples(t *testing.T) {
	doc, err := os.ReadFile("../docs/EVENTS.md")
	if err != nil {
		t.Fatal(err)
	}
	blocks := regexp.MustCompile("(?s)```json\n(.*?)```").FindAllSubmatch(doc, -1)
	kinds := map[Kind]bool{}
	records := map[string]Event{} // schema 1 examples by subject
	var terminate, reply, audits int
	for _, b := range blocks {
		var probe map[string]any
		if err := json.Unmarshal(b[1], &probe); err != nil {
			t.Fatalf("example is not JSON: %v\n%s", err, b[1])
		}
		switch {
		case probe["kind"] != nil:
			e, err := Decode(b[1])
			if err != nil {
				t.Fatalf("example does not decode: %v\n%s", err, b[1])
			}
			kinds[e.Kind] = true
			records[Subjects{}.Of(&e)] = e
			strict := json.NewDecoder(bytes.NewReader(b[1]))
			strict.DisallowUnknownFields()
			if err := strict.Decode(&Event{}); err != nil {
				t.Fatalf("example has a field the schema lacks: %v\n%s", err, b[1])
			}
		case probe["action"] != nil:
			var r AuditRecord
			strict := json.NewDecoder(bytes.NewReader(b[1]))
			strict.DisallowUnknownFields()
			if err := strict.Decode(&r); err != nil || r.check() != nil || r.V != AuditVersion {
				t.Fatalf("audit example: %v %v\n%s", err, r.check(), b[1])
			}
			audits++
		case probe["ok"] != nil:
			var r TerminateReply
			if err := json.Unmarshal(b[1], &r); err != nil || !r.OK {
				t.Fatalf("reply example: %v", err)
			}
			reply++
		default:
			var r TerminateRequest
			if err := json.Unmarshal(b[1], &r); err != nil || ValidateCallID(r.CallID) != nil {
				t.Fatalf("request example: %v", err)
			}
			terminate++
		}
	}
	for _, k := range Kinds {
		if !kinds[k] {
			t.Errorf("docs/EVENTS.md has no example of %q", k)
		}
	}
	if terminate != 1 || reply != 1 {
		t.Errorf("terminate examples: %d requests, %d replies", terminate, reply)
	}
	if audits != 2 {
		t.Errorf("audit record examples: %d, want a terminate and a credits change", audits)
	}
}

// TestEventsDocWire checks the schema 2 examples of docs/EVENTS.md: each
// decodes, is exactly what an agent writes for that event (re-encoding it
// gives the same bytes), and says what the schema 1 example of the same
// subject says.
func TestEventsDocWire(t *testing.T) {
	doc, err := os.ReadFile("../docs/EVENTS.md")
	if err != nil {
		t.Fatal(err)
	}
	block := regexp.MustCompile("(?s)```nats\n(.*?)```").FindSubmatch(doc)
	if block == nil {
		t.Fatal("docs/EVENTS.md has no schema 2 (```nats) block")
	}
	records := map[string]Event{}
	for _, b := range regexp.MustCompile("(?s)```json\n(.*?)```").FindAllSubmatch(doc, -1) {
		if e, err := Decode(b[1]); err == nil {
			records[Subjects{}.Of(&e)] = e
		}
	}
	kinds := map[Kind]bool{}
	for _, line := range strings.Split(strings.TrimSpace(string(block[1])), "\n") {
		subject, data, ok := strings.Cut(line, " ")
		if !ok {
			t.Fatalf("not a subject and a payload: %q", line)
		}
		e, err := Subjects{}.DecodeMsg(subject, []byte(data))
		if err != nil {
			t.Fatalf("%s: %v", subject, err)
		}
		kinds[e.Kind] = true
		record := strings.Contains(data, `"kind":`+strconv.Quote(string(e.Kind)))
		var again []byte
		switch {
		case record && e.Kind == KindEnded:
			msg, err := (&Client{}).FinalMessage(e)
			if err != nil || msg.Subject != subject {
				t.Errorf("%s: a final record goes on %v (%v)", subject, msg, err)
			}
			again = msg.Data
		case record:
			msg, err := (&Client{}).NotifyMessage(e)
			if err != nil || msg.Subject != subject {
				t.Errorf("%s: a notify copy goes on %v (%v)", subject, msg, err)
			}
			again = msg.Data
		default:
			again, err = compact(&e)
		}
		if err != nil || string(again) != data {
			t.Errorf("%s: an agent writes\n%s\nthe doc says\n%s", subject, again, data)
		}
		if record {
			if d, err := Decode([]byte(data)); err != nil || d.CallID != e.CallID || d.Kind != e.Kind {
				t.Errorf("%s: a record does not read on its own: %v", subject, err)
			}
		}
		v1, ok := records[Subjects{}.Of(&e)]
		if !ok {
			t.Errorf("%s: no schema 1 example of the same event", subject)
			continue
		}
		// What schema 2 leaves to the reader: a live call's seconds, the
		// owner on call events other than started and ended, term 1.
		if v1.Usage != nil && v1.Kind != KindEnded {
			v1.Usage.Seconds = 0
		}
		if v1.Scope() == ScopeCall {
			if !record && v1.Kind != KindStarted && v1.Kind != KindEnded {
				v1.Agent = ""
			}
			if record {
				v1.User = e.User // a copy names the call's user
			}
			v1.Term = max(v1.Term, 1)
		}
		v1.V = e.V
		want, _ := json.Marshal(v1)
		got, _ := json.Marshal(e)
		if !bytes.Equal(want, got) {
			t.Errorf("%s: schema 2 says\n%s\nschema 1 says\n%s", subject, got, want)
		}
	}
	for _, k := range Kinds {
		if !kinds[k] {
			t.Errorf("the schema 2 block has no example of %q", k)
		}
	}
}
