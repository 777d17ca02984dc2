package agent_test

import (
	"bytes"
	"encoding/json"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/calltop/calltop/feed"
)

// TestWebhookDocExample decodes the call.ended example of docs/AGENT.md
// strictly, so the payload documented for apps cannot drift from the
// one sent.
func TestWebhookDocExample(t *testing.T) {
	doc, err := os.ReadFile("../docs/AGENT.md")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile("(?s)```http\n(.*?)```").FindSubmatch(doc)
	if m == nil {
		t.Fatal("docs/AGENT.md has no webhook example")
	}
	head, body, ok := strings.Cut(string(m[1]), "\n\n")
	if !ok {
		t.Fatalf("example has no body:\n%s", m[1])
	}
	for _, h := range []string{"webhook-id: ended_", "webhook-timestamp: ", "webhook-signature: v1,", "Content-Type: application/json"} {
		if !strings.Contains(head, h) {
			t.Errorf("example headers lack %q", h)
		}
	}
	var env struct {
		Type      string          `json:"type"`
		Timestamp string          `json:"timestamp"`
		Data      json.RawMessage `json:"data"`
	}
	if err := json.Unmarshal([]byte(strings.ReplaceAll(body, "\n", "")), &env); err != nil {
		t.Fatalf("example body is not JSON: %v", err)
	}
	var s feed.Summary
	dec := json.NewDecoder(bytes.NewReader(env.Data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&s); err != nil || env.Type != "call.ended" || s.State != feed.StateEnded || s.EndedAt == nil {
		t.Fatalf("example data is not an ended call's summary: %v %+v", err, s)
	}
	if !strings.Contains(head, "ended_"+s.CallID) {
		t.Errorf("example webhook-id does not name its call %s", s.CallID)
	}
}
