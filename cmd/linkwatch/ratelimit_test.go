package main

import (
	"fmt"
	"net/http"
	"testing"
)

// Through serve, behind a trusted proxy: the 40 addresses of one IPv6 /64
// are one client (they once got 40 redirects through a burst of 5);
// another /64, and an IPv4 client, are not limited by it.
func TestRateLimitPerIPv6Network(t *testing.T) {
	t.Parallel()
	app := startApp(t, `
server:
  public_url: http://127.0.0.1:9
  rate_limit: {per_second: 0.001, burst: 5}
  trusted_proxies: [127.0.0.1/32]
storage:
  path: DBPATH
probe: {self_check: false}
pages:
  - slug: ada
    links:
      - {slug: go, url: "https://127.0.0.1:9/go/"}
`, nil)
	from := func(client string) int {
		t.Helper()
		req, err := http.NewRequest("GET", app.URL+"/ada/go", nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("X-Forwarded-For", client)
		resp, err := noRedirect.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	redirects := 0
	for i := range 40 {
		if from(fmt.Sprintf("2001:db8:7:1:%x::%x", i, i+1)) == http.StatusFound {
			redirects++
		}
	}
	if redirects != 5 {
		t.Errorf("40 addresses of one /64: %d redirects, want the burst of 5", redirects)
	}
	if code := from("2001:db8:7:2::1"); code != http.StatusFound {
		t.Errorf("another /64: %d, want 302", code)
	}
	if code := from("192.0.2.9"); code != http.StatusFound {
		t.Errorf("an IPv4 client: %d, want 302", code)
	}
}
