package agent

import (
	"runtime/debug"
	"testing"
)

func TestVersionOf(t *testing.T) {
	main := func(v string) *debug.BuildInfo {
		return &debug.BuildInfo{Main: debug.Module{Path: module, Version: v}}
	}
	dep := func(v, replaced string) *debug.BuildInfo {
		d := &debug.Module{Path: module, Version: v}
		if replaced != "" {
			d.Replace = &debug.Module{Path: "../calltop", Version: replaced}
		}
		return &debug.BuildInfo{Main: debug.Module{Path: "example.com/app", Version: "v9.9.9"}, Deps: []*debug.Module{d}}
	}
	for _, tc := range []struct {
		set  string
		bi   *debug.BuildInfo
		want string
	}{
		{"1.4.0", main("v1.2.3"), "1.4.0"},
		{"v1.4.0", nil, "1.4.0"},
		{"", main("v1.2.3"), "1.2.3"},
		{"", main("v0.0.0-20261202141208-86a4727d1e2f+dirty"), "0.0.0-20261202141208-86a4727d1e2f+dirty"},
		{"", main("(devel)"), "0.0.0-dev"},
		{"", dep("v1.5.0", ""), "1.5.0"},
		{"", dep("v1.5.0", "v1.5.1-rc.1"), "1.5.1-rc.1"},
		{"", dep("v1.5.0", ""), "1.5.0"},
		{"", &debug.BuildInfo{Main: debug.Module{Path: "example.com/app", Version: "v9.9.9"}}, "0.0.0-dev"},
		{"", nil, "0.0.0-dev"},
		{"not a version", nil, "0.0.0-dev"},
		{"86a4727-dirty", nil, "0.0.0-86a4727-dirty"},
		{"devel", nil, "0.0.0-devel"},
		{"v1.2.0-3-g86a4727-dirty", nil, "1.2.0-3-g86a4727-dirty"},
	} {
		if got := versionOf(tc.set, tc.bi); got != tc.want {
			t.Errorf("versionOf(%q, %+v) = %q, want %q", tc.set, tc.bi, got, tc.want)
		}
	}
}
