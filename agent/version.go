package agent

import (
	"regexp"
	"runtime/debug"
	"strings"
	"sync"
)

// module is calltop's module path, looked up in the build's information.
const module = "github.com/calltop/calltop"

// semver is the form NATS micro requires of a service's version.
var semver = regexp.MustCompile(`^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:-((?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)(?:\.(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*))?(?:\+([0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*))?$`)

// version, when set at build time (go build -ldflags "-X
// github.com/calltop/calltop/agent.version=1.4.0"), is the version the
// agent announces, so a release's `calltop version` and its agents'
// NATS micro version agree. Empty: read from the build info.
var version string

// buildVersion is the version of calltop this program was built with:
// see versionOf.
var buildVersion = sync.OnceValue(func() string {
	bi, _ := debug.ReadBuildInfo()
	return versionOf(version, bi)
})

// versionOf is set if not empty, else calltop's version as the Go
// toolchain recorded it in bi: the module's tag or pseudo-version whether
// calltop is the main module (the calltop binary, built in a git checkout
// or with go install) or a dependency (an app embedding the agent).
// It is SemVer without the "v", as NATS micro wants: what is not (a
// bare commit from git describe) becomes a pre-release of 0.0.0, and
// without any (a test, a build outside version control) it is
// "0.0.0-dev".
func versionOf(set string, bi *debug.BuildInfo) string {
	v := set
	if v == "" && bi != nil {
		if bi.Main.Path == module {
			v = bi.Main.Version
		}
		for _, d := range bi.Deps {
			if d.Path == module {
				v = d.Version
				if d.Replace != nil && d.Replace.Version != "" {
					v = d.Replace.Version
				}
			}
		}
	}
	v = strings.TrimPrefix(v, "v")
	switch {
	case semver.MatchString(v):
		return v
	case semver.MatchString("0.0.0-" + v):
		return "0.0.0-" + v // a bare commit (git describe --always), "devel"
	}
	return "0.0.0-dev"
}
