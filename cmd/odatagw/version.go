package main

import (
	"fmt"
	"regexp"
	"runtime"
	"runtime/debug"
	"strings"
)

// Version and Commit are stamped by the image build and the release
// scripts:
//
//	go build -ldflags "-X main.Version=1.2.0 -X main.Commit=$(git rev-parse HEAD)" ./cmd/odatagw
//
// Without them the version is the module's (go install ...@v1.2.0) or
// "dev", and the commit is the one Go records when it builds in a git
// checkout (go build's -buildvcs=auto, its default; scripts/run asks for
// it, since go run does not record one).
var (
	Version = ""
	Commit  = ""
)

// version is the gateway's version, for `odatagw version`, --version, the
// log, traces and the admin page.
func version() string {
	if Version != "" {
		return Version
	}
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" && !pseudoVersion.MatchString(bi.Main.Version) {
		return bi.Main.Version
	}
	return "dev"
}

// pseudoVersion is the version Go gives a build in a checkout
// (v0.0.0-20261206101641-34c1d6254459+dirty): not a release, but a
// commit, which the version line names apart.
var pseudoVersion = regexp.MustCompile(`^v[0-9]+\.[0-9]+\.[0-9]+-(?:[0-9a-z.]+\.)?[0-9]{14}-[0-9a-f]{12}(\+dirty)?$`)

// commit is the source revision built, "" when unknown; "-dirty" marks a
// build from a checkout with changes not committed.
func commit() string {
	if Commit != "" {
		return Commit
	}
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return ""
	}
	var rev, dirty string
	for _, s := range bi.Settings {
		switch {
		case s.Key == "vcs.revision":
			rev = s.Value
		case s.Key == "vcs.modified" && s.Value == "true":
			dirty = "-dirty"
		}
	}
	if rev == "" {
		return ""
	}
	return rev + dirty
}

// versionLine is what `odatagw version` and --version print.
func versionLine() string {
	line := "odatagw " + version()
	if c := commit(); c != "" {
		rev, dirty := strings.CutSuffix(c, "-dirty")
		if len(rev) > 12 {
			rev = rev[:12]
		}
		if dirty {
			rev += ", with changes not committed"
		}
		line += " (commit " + rev + ")"
	}
	return fmt.Sprintf("%s, %s %s/%s", line, runtime.Version(), runtime.GOOS, runtime.GOARCH)
}
