package main

import (
	"net/http"
	"testing"
)

// Every public answer carries the security headers the README promises:
// redirects, method and rate-limit refusals and health checks too.
func TestSecurityHeadersOnEveryAnswer(t *testing.T) {
	t.Parallel()
	app := startApp(t, `
server:
  public_url: http://127.0.0.1:9
  rate_limit: {per_second: 0.001, burst: 5}
storage:
  path: DBPATH
probe: {self_check: false}
pages:
  - slug: ada
    links:
      - {slug: go, url: "https://127.0.0.1:9/go/"}
`, nil)
	check := func(method, path string, want int) {
		t.Helper()
		resp, _ := get(t, method, app.URL+path)
		if resp.StatusCode != want {
			t.Errorf("%s %s = %d, want %d", method, path, resp.StatusCode, want)
		}
		for _, h := range []string{"Content-Security-Policy", "X-Content-Type-Options", "Referrer-Policy"} {
			if resp.Header.Get(h) == "" {
				t.Errorf("%s %s (%d) lacks %s", method, path, resp.StatusCode, h)
			}
		}
	}
	check("GET", "/healthz", http.StatusOK)
	check("GET", "/readyz", http.StatusOK)
	check("GET", "/ada/go", http.StatusFound)
	check("GET", "/status/./", http.StatusMovedPermanently)
	check("POST", "/ada", http.StatusMethodNotAllowed)
	check("DELETE", "/status", http.StatusMethodNotAllowed)
	check("GET", "/ada", http.StatusOK)
	check("GET", "/ada", http.StatusTooManyRequests) // the sixth limited request, past a burst of 5
}
