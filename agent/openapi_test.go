package agent

import (
	"os"
	"reflect"
	"slices"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/calltop/calltop/feed"
)

// spec is the part of docs/openapi.yaml the contract test reads.
type spec struct {
	Paths      map[string]map[string]any `yaml:"paths"`
	Components struct {
		Schemas map[string]struct {
			Properties map[string]any `yaml:"properties"`
		} `yaml:"schemas"`
	} `yaml:"components"`
}

func loadSpec(t *testing.T) spec {
	t.Helper()
	data, err := os.ReadFile("../docs/openapi.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var s spec
	if err := yaml.Unmarshal(data, &s); err != nil {
		t.Fatalf("docs/openapi.yaml: %v", err)
	}
	return s
}

// TestOpenAPIMatchesRoutes: every route the sidecar serves is in
// docs/openapi.yaml, and every operation there is served, so clients
// generated from the spec call what exists.
func TestOpenAPIMatchesRoutes(t *testing.T) {
	s := loadSpec(t)
	a := &Agent{}
	served := map[string]bool{}
	for _, rt := range a.routes(SidecarConfig{WebhookSecret: "whsec_x"}) {
		method, path, _ := strings.Cut(rt.pattern, " ")
		served[strings.ToLower(method)+" "+path] = true
	}
	documented := map[string]bool{}
	for path, ops := range s.Paths {
		for method := range ops {
			switch method {
			case "get", "post", "put", "patch", "delete":
				documented[method+" "+path] = true
			}
		}
	}
	for op := range served {
		if !documented[op] {
			t.Errorf("%s is served but not in docs/openapi.yaml", op)
		}
	}
	for op := range documented {
		if !served[op] {
			t.Errorf("%s is in docs/openapi.yaml but not served", op)
		}
	}
}

// TestOpenAPISchemasMatchTypes: each schema lists exactly the JSON fields
// of the Go type that is encoded or decoded for it.
func TestOpenAPISchemasMatchTypes(t *testing.T) {
	s := loadSpec(t)
	for name, v := range map[string]any{
		"Call":          feed.Summary{},
		"Tokens":        feed.Tokens{},
		"Policy":        feed.EffectivePolicy{},
		"Warning":       feed.Warning{},
		"Flag":          feed.Flag{},
		"TrackRequest":  trackRequest{},
		"MintRequest":   mintRequest{},
		"HangupRequest": hangupRequest{},
		"CallList":      listReply{},
		"Alert":         alertData{},
		"Refusal":       feed.Refusal{},
		"AlertWebhook":  envelope{},
	} {
		schema, ok := s.Components.Schemas[name]
		if !ok {
			t.Errorf("no schema %s", name)
			continue
		}
		var doc []string
		for p := range schema.Properties {
			doc = append(doc, p)
		}
		slices.Sort(doc)
		if code := jsonFields(reflect.TypeOf(v)); !slices.Equal(doc, code) {
			t.Errorf("schema %s has %v, the code %v", name, doc, code)
		}
	}
}

// jsonFields lists a struct's JSON field names, sorted.
func jsonFields(t reflect.Type) []string {
	var out []string
	for f := range t.Fields() {
		tag, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if tag == "-" || !f.IsExported() {
			continue
		}
		if tag == "" {
			tag = f.Name
		}
		out = append(out, tag)
	}
	slices.Sort(out)
	return out
}
