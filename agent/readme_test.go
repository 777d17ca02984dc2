package agent_test

import (
	"os"
	"strings"
	"testing"
)

// TestREADMESnippetIsAnExample: the Go snippet of the README's "Go
// backends: embed the agent" is the body of ExampleAgent_Track, verbatim,
// so what a newcomer copies compiles and runs (go test runs the example
// against the OpenAI stand-in); change both together.
func TestREADMESnippetIsAnExample(t *testing.T) {
	src, err := os.ReadFile("example_test.go")
	if err != nil {
		t.Fatal(err)
	}
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	want := exampleBody(t, string(src), "ExampleAgent_Track")
	got := goBlockAfter(t, string(readme), "### Go backends: embed the agent")
	if got != want {
		t.Errorf("README.md's Go snippet differs from ExampleAgent_Track's body (first difference at line %d).\nREADME:\n%s\nexample:\n%s",
			firstDiff(got, want), got, want)
	}
}

// exampleBody is the body of func name in src, one tab less indented,
// without its // Output: comment.
func exampleBody(t *testing.T, src, name string) string {
	t.Helper()
	_, rest, ok := strings.Cut(src, "\nfunc "+name+"() {\n")
	if !ok {
		t.Fatalf("example_test.go has no %s", name)
	}
	body, _, ok := strings.Cut(rest, "\n}\n")
	if !ok {
		t.Fatalf("%s has no end", name)
	}
	body, _, _ = strings.Cut(body, "\t// Output:")
	lines := strings.Split(strings.TrimRight(body, "\n"), "\n")
	for i, l := range lines {
		lines[i] = strings.TrimPrefix(l, "\t")
	}
	return strings.Join(lines, "\n")
}

// goBlockAfter is the first ```go block after heading in doc.
func goBlockAfter(t *testing.T, doc, heading string) string {
	t.Helper()
	_, rest, ok := strings.Cut(doc, "\n"+heading+"\n")
	if !ok {
		t.Fatalf("README.md has no %q", heading)
	}
	_, rest, ok = strings.Cut(rest, "```go\n")
	if !ok {
		t.Fatalf("README.md has no Go block after %q", heading)
	}
	block, _, ok := strings.Cut(rest, "```")
	if !ok {
		t.Fatalf("README.md's Go block after %q does not end", heading)
	}
	return strings.TrimRight(block, "\n")
}

// firstDiff is the first line (1-based) where a and b differ.
func firstDiff(a, b string) int {
	al, bl := strings.Split(a, "\n"), strings.Split(b, "\n")
	for i := range min(len(al), len(bl)) {
		if al[i] != bl[i] {
			return i + 1
		}
	}
	return min(len(al), len(bl)) + 1
}
