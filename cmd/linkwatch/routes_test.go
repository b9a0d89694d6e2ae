package main

import (
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"

	"linkwatch/cmd/linkwatch/web"
)

// Every route of the table answers through serve's real handler stack,
// none with the hub's 404 page: /chart/{page}/{link}.svg once did, as the
// front handler's own list of non-hub paths lacked it.
func TestEveryRouteAnswersThroughServe(t *testing.T) {
	t.Parallel()
	const token = "0123456789abcdef0123"
	cfg := strings.Replace(e2eConfig, "server:\n", "server:\n  rate_limit: {per_second: 1000, burst: 1000}\n", 1)
	app := startApp(t, cfg, map[string]string{"ADMIN_TOKEN": token})
	vars := regexp.MustCompile(`\{([a-z]+)(:[^}]*)?\}`)
	sample := map[string]string{"page": "ada", "link": "go", "ext": "svg", "id": "1"}
	paths := []string{"/api/admin/clicks"} // the admin API's extras, which serve adds
	for _, tpl := range web.Templates() {
		paths = append(paths, vars.ReplaceAllStringFunc(tpl, func(v string) string {
			name, _, _ := strings.Cut(strings.Trim(v, "{}"), ":")
			if s, ok := sample[name]; ok {
				return s
			}
			t.Fatalf("route %s: no sample value for {%s}", tpl, name)
			return ""
		}))
	}
	seen := map[string]bool{}
	for _, p := range paths {
		if seen[p] {
			continue
		}
		seen[p] = true
		req, err := http.NewRequest("GET", app.URL+p, nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := noRedirect.Do(req)
		if err != nil {
			t.Fatalf("GET %s: %v", p, err)
		}
		b, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			t.Fatalf("GET %s: %v", p, err)
		}
		body := string(b)
		if strings.Contains(body, "Nothing lives at") {
			t.Errorf("GET %s = %d: the hub's 404 page", p, resp.StatusCode)
		}
		if resp.StatusCode >= 500 {
			t.Errorf("GET %s = %d:\n%s", p, resp.StatusCode, body)
		}
		t.Logf("GET %s = %d", p, resp.StatusCode)
	}
	for _, p := range []string{"/chart/ada/go.svg", "/badge/ada.svg", "/ada/qr.svg", "/history.rss", "/healthz", "/api/admin/incidents"} {
		if !seen[p] {
			t.Errorf("%s is not among the table's routes", p)
		}
	}
}
