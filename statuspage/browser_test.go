package statuspage_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// chromium returns the headless browser, or skips the test where it is not
// installed; CI installs it (.ci/run), so there a missing browser fails.
func chromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("CI") != "" {
		t.Fatal("chromium is not installed; .ci/run installs Debian's chromium package")
	}
	t.Skip("chromium not installed")
	return ""
}

// browse runs headless Chromium on url with the given extra flags and
// returns what it printed.
func browse(t *testing.T, bin, url string, flags ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	args := append([]string{"--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--user-data-dir=" + t.TempDir(), "--window-size=1280,2400"}, flags...)
	out, err := exec.CommandContext(ctx, bin, append(args, url)...).Output()
	if err != nil {
		t.Fatalf("chromium %v: %v", flags, err)
	}
	return string(out)
}

// artifactDir is where screenshots go: $ARTIFACTS_DIR, or testdata/artifacts.
func artifactDir(t *testing.T) string {
	t.Helper()
	dir := os.Getenv("ARTIFACTS_DIR")
	if dir == "" {
		dir = filepath.Join("..", "testdata", "artifacts")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestStatusPageInBrowser(t *testing.T) {
	bin := chromium(t)
	srv, _ := seeded(t)
	dom := browse(t, bin, srv.URL+"/status", "--dump-dom")
	for _, want := range []string{
		`id="banner"`, "Partial System Outage", // the banner
		`class="component"`,                                                    // a component row
		"acme/shop is down (http_5xx)", "The shop's payment provider is down.", // an incident with its update
	} {
		if !strings.Contains(dom, want) && !strings.Contains(dom, strings.ReplaceAll(want, "'", "&#39;")) {
			t.Errorf("rendered DOM lacks %q", want)
		}
	}
	shot := filepath.Join(artifactDir(t), "status.png")
	browse(t, bin, srv.URL+"/status", "--screenshot="+shot)
	if fi, err := os.Stat(shot); err != nil || fi.Size() < 10_000 {
		t.Errorf("screenshot %s: %v", shot, err)
	}
	t.Logf("screenshot saved to %s", shot)

	dom = browse(t, bin, srv.URL+"/acme", "--dump-dom")
	if !strings.Contains(dom, `href="/acme/shop"`) || !strings.Contains(dom, "Acme &lt;script&gt;") {
		t.Errorf("hub page DOM lacks its links or an escaped title:\n%.2000s", dom)
	}
	browse(t, bin, srv.URL+"/acme", "--screenshot="+filepath.Join(artifactDir(t), "hub-page.png"), "--window-size=412,915")
}
