package deploy

import (
	"go/version"
	"os"
	"regexp"
	"testing"
)

// TestDockerfileGoVersion: the image builds with a Go at least as new as
// go.mod asks for; the golang images do not fetch a newer toolchain
// (GOTOOLCHAIN=local), so a go.mod bump alone would break the image.
func TestDockerfileGoVersion(t *testing.T) {
	find := func(file string, re *regexp.Regexp) string {
		t.Helper()
		data, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		m := re.FindSubmatch(data)
		if m == nil {
			t.Fatalf("%s: no match for %s", file, re)
		}
		return "go" + string(m[1])
	}
	image := find("Dockerfile", regexp.MustCompile(`(?m)^ARG GO_VERSION=(\S+)$`))
	module := find("../go.mod", regexp.MustCompile(`(?m)^go (\S+)$`))
	if !version.IsValid(image) || version.Compare(image, module) < 0 {
		t.Errorf("deploy/Dockerfile builds with %s; linkwatch's go.mod needs %s", image, module)
	}
}
