package feed

import (
	"bytes"
	"encoding/json"
	"os"
	"regexp"
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
	var terminate, reply int
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
			strict := json.NewDecoder(bytes.NewReader(b[1]))
			strict.DisallowUnknownFields()
			if err := strict.Decode(&Event{}); err != nil {
				t.Fatalf("example has a field the schema lacks: %v\n%s", err, b[1])
			}
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
}
