package natsserver

import (
	"os/exec"
	"strings"
	"testing"
)

// TestEmbeddersDoNotLinkServer keeps the promise this package exists for:
// a backend that imports the agent (or feed) links the NATS client only.
func TestEmbeddersDoNotLinkServer(t *testing.T) {
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("no go command on PATH")
	}
	for _, pkg := range []string{"github.com/calltop/calltop/agent", "github.com/calltop/calltop/feed"} {
		out, err := exec.Command("go", "list", "-deps", pkg).CombinedOutput()
		if err != nil {
			t.Fatalf("go list -deps %s: %v\n%s", pkg, err, out)
		}
		for _, dep := range strings.Fields(string(out)) {
			if strings.HasPrefix(dep, "github.com/nats-io/nats-server") {
				t.Errorf("%s links %s: embedding it would link the NATS server", pkg, dep)
			}
		}
	}
}
