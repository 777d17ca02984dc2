package agentprom_test

import (
	"os/exec"
	"strings"
	"testing"
)

// TestAgentDoesNotLinkPrometheus keeps the seam this package exists for:
// an app that embeds the agent and wants no metrics links no Prometheus.
func TestAgentDoesNotLinkPrometheus(t *testing.T) {
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("no go command on PATH")
	}
	out, err := exec.Command("go", "list", "-deps", "github.com/calltop/calltop/agent").CombinedOutput()
	if err != nil {
		t.Fatalf("go list -deps: %v\n%s", err, out)
	}
	for _, dep := range strings.Fields(string(out)) {
		if strings.HasPrefix(dep, "github.com/prometheus/") {
			t.Errorf("agent links %s", dep)
		}
	}
}
