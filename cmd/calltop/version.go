package main

import (
	"fmt"
	"runtime"
	"runtime/debug"

	"github.com/spf13/cobra"
)

// version is set at build time: go build -ldflags "-X main.version=v1.2.0"
// (make build passes git describe). Without it, the module's version from
// the build info stands in: a version for `go install …@v1.2.0`, "devel"
// for a plain go build.
var version string

func versionCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "print calltop's version, the Go it was built with, and the platform",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			_, err := fmt.Fprintln(cmd.OutOrStdout(), versionString())
			return err
		},
	}
}

// versionString is "calltop VERSION (COMMIT) GO OS/ARCH"; the commit is
// there when the Go toolchain recorded it (a build inside a git checkout).
func versionString() string {
	v, commit := version, ""
	if info, ok := debug.ReadBuildInfo(); ok {
		if v == "" {
			v = info.Main.Version
		}
		var dirty bool
		for _, s := range info.Settings {
			switch s.Key {
			case "vcs.revision":
				commit = s.Value[:min(12, len(s.Value))]
			case "vcs.modified":
				dirty = s.Value == "true"
			}
		}
		if commit != "" && dirty {
			commit += "+dirty"
		}
	}
	if v == "" || v == "(devel)" {
		v = "devel"
	}
	if commit != "" {
		v += " (" + commit + ")"
	}
	return fmt.Sprintf("calltop %s %s %s/%s", v, runtime.Version(), runtime.GOOS, runtime.GOARCH)
}
