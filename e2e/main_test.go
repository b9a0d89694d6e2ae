package e2e

import (
	"crypto/sha256"
	"encoding/hex"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"linkwatch/storage/postgres/pgtest"
)

// linkwatchBin is the linkwatch binary the tests run, built by TestMain.
var linkwatchBin string

// TestMain builds linkwatch once for every test of the package (not with
// -short, which skips them), then runs them on one throwaway PostgreSQL
// server and one Chromium (each started on first use).
func TestMain(m *testing.M) {
	moreParallel()
	if !testing.Short() {
		linkwatchBin = binPath()
		build := exec.Command("go", "build", "-o", linkwatchBin, "linkwatch/cmd/linkwatch")
		build.Stdout, build.Stderr = os.Stderr, os.Stderr
		if err := build.Run(); err != nil {
			fmt.Fprintln(os.Stderr, "e2e: go build linkwatch:", err)
			os.Exit(1)
		}
	}
	pgtest.Main(runner(func() int {
		defer stopBrowser()
		return m.Run()
	}))
}

// runner is a test run as pgtest.Main takes it.
type runner func() int

func (r runner) Run() int { return r() }

// binPath is where TestMain builds linkwatch: a path of this checkout's
// own in the user's cache directory, kept between runs, so that go build
// finds the binary up to date and links it again (seconds of CPU, cgo's
// external linker included) only when the code changed. Without a cache
// directory, beside the test binary: go test runs it from a work
// directory of its own and removes that directory afterwards.
func binPath() string {
	cache, err := os.UserCacheDir()
	wd, err2 := os.Getwd() // the package's directory: one per checkout
	if err != nil || err2 != nil {
		return filepath.Join(filepath.Dir(os.Args[0]), "linkwatch-e2e")
	}
	sum := sha256.Sum256([]byte(wd))
	dir := filepath.Join(cache, "linkwatch-e2e", hex.EncodeToString(sum[:8]))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return filepath.Join(filepath.Dir(os.Args[0]), "linkwatch-e2e")
	}
	return filepath.Join(dir, "linkwatch")
}

// endToEnd marks a test of this package: it runs beside the others, and
// not at all with -short.
func endToEnd(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("-short: starts linkwatch processes")
	}
	t.Parallel()
}

// moreParallel lets 8 tests run at once unless -test.parallel says
// otherwise: these tests mostly wait on processes, timers and the network,
// and go test's default (GOMAXPROCS, 2 on a small machine) would run them
// nearly one after another.
func moreParallel() {
	flag.Parse()
	set := false
	flag.Visit(func(f *flag.Flag) { set = set || f.Name == "test.parallel" })
	if !set {
		_ = flag.Set("test.parallel", "8")
	}
}
