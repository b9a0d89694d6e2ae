package main

import (
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"
)

// consoleBrowser is a client of serve's console with its own cookies.
type consoleBrowser struct {
	t    *testing.T
	c    *http.Client
	base string
}

func newConsoleBrowser(t *testing.T, base string) *consoleBrowser {
	jar, _ := cookiejar.New(nil)
	return &consoleBrowser{t: t, base: base, c: &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

func (b *consoleBrowser) do(method, path string, form url.Values) (*http.Response, string) {
	b.t.Helper()
	var resp *http.Response
	var err error
	if form == nil {
		resp, err = b.c.Get(b.base + path)
	} else {
		resp, err = b.c.PostForm(b.base+path, form)
	}
	if err != nil {
		b.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp, string(body)
}

func (b *consoleBrowser) signIn(name, token string) *http.Response {
	b.t.Helper()
	_, page := b.do("GET", "/admin/signin", nil)
	m := regexp.MustCompile(`name="csrf" value="([^"]+)"`).FindStringSubmatch(page)
	if m == nil {
		b.t.Fatalf("no CSRF token on the sign-in page:\n%s", page)
	}
	resp, _ := b.do("POST", "/admin/signin", url.Values{"csrf": {m[1]}, "name": {name}, "token": {token}})
	return resp
}

// The console through serve's whole stack: /admin sends to sign in; the
// console's pages may post forms to this origin and no other page may;
// a sign-in opens the incidents and is in the audit log; the sixth
// attempt in a row from one client is 429; the token is never logged;
// over https (public_url) the cookie is Secure; without a token the
// console is off.
func TestConsoleThroughServe(t *testing.T) {
	t.Parallel()
	const token = "console-token-0123456789"
	app := startApp(t, e2eConfig, map[string]string{"ADMIN_TOKEN": token})
	if resp, _ := get(t, "GET", app.URL+"/admin"); resp.StatusCode != http.StatusSeeOther {
		t.Errorf("GET /admin = %d, want 303", resp.StatusCode)
	}
	resp, _ := get(t, "GET", app.URL+"/admin/incidents")
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/admin/signin" {
		t.Errorf("signed out, GET /admin/incidents = %d to %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	resp, _ = get(t, "GET", app.URL+"/admin/signin")
	if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "form-action 'self'") {
		t.Errorf("the console's CSP %q lets no form post", csp)
	}
	resp, _ = get(t, "GET", app.URL+"/")
	if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "form-action 'none'") {
		t.Errorf("the hub's CSP %q lets forms post (only the console and the status pages have forms)", csp)
	}

	b := newConsoleBrowser(t, app.URL)
	resp = b.signIn("Ada", token)
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/admin/incidents" {
		t.Fatalf("sign in = %d to %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	for _, ck := range resp.Cookies() {
		if ck.Name == "linkwatch_console" && (ck.Secure || !ck.HttpOnly || ck.SameSite != http.SameSiteStrictMode) {
			t.Errorf("session cookie over http: %+v", ck)
		}
	}
	if resp, body := b.do("GET", "/admin/incidents", nil); resp.StatusCode != 200 || !strings.Contains(body, "signed in as <strong>Ada</strong>") {
		t.Errorf("GET /admin/incidents = %d:\n%s", resp.StatusCode, body)
	}
	if _, body := b.do("GET", "/admin/audit", nil); !strings.Contains(body, "<td>signin</td>") {
		t.Errorf("the audit log lacks the sign-in:\n%s", body)
	}

	// Ada's was the client's first attempt: four more, then 429.
	guesser := newConsoleBrowser(t, app.URL)
	codes := []int{}
	for range 5 {
		codes = append(codes, guesser.signIn("guess", "not-the-token").StatusCode)
	}
	if codes[3] != http.StatusUnauthorized || codes[4] != http.StatusTooManyRequests {
		t.Errorf("sign-ins 2 to 6 from one client: %v, want four 401s, then 429", codes)
	}
	if strings.Contains(app.stderr.String(), token) {
		t.Error("the admin token is in serve's log")
	}

	https := startApp(t, strings.Replace(e2eConfig, "public_url: http://127.0.0.1:9", "public_url: https://links.example", 1), map[string]string{"ADMIN_TOKEN": token})
	secure := false
	for _, ck := range newConsoleBrowser(t, https.URL).signIn("Ada", token).Cookies() {
		secure = secure || ck.Name == "linkwatch_console" && ck.Secure
	}
	if !secure {
		t.Error("over https (public_url), the session cookie is not Secure")
	}

	off := startApp(t, strings.Replace(e2eConfig, "  admin_token: ${ADMIN_TOKEN}\n", "", 1), nil)
	if resp, body := get(t, "GET", off.URL+"/admin/signin"); resp.StatusCode != 404 || !strings.Contains(body, "set server.admin_token") {
		t.Errorf("without a token, GET /admin/signin = %d:\n%s", resp.StatusCode, body)
	}
}

// The console's clicks and subscriptions pages through serve: the clicks
// page reads the clicks serve stores (a process without them would say
// it counts none), and a subscription made in the console goes through
// serve's own URL check, the SSRF guard, which refuses a loopback
// receiver (no probe.allow_private here) with its reason: 400, nothing
// made.
func TestConsoleClicksAndSubscriptionsThroughServe(t *testing.T) {
	t.Parallel()
	const token = "console-token-0123456789"
	app := startApp(t, e2eConfig, map[string]string{"ADMIN_TOKEN": token})
	b := newConsoleBrowser(t, app.URL)
	if resp := b.signIn("Ada", token); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("sign in = %d", resp.StatusCode)
	}
	if resp, body := b.do("GET", "/admin/clicks", nil); resp.StatusCode != 200 || !strings.Contains(body, `<title id="clicks-chart-t">Clicks on every link over the last 7 days</title>`) {
		t.Errorf("GET /admin/clicks = %d:\n%s", resp.StatusCode, body)
	}
	_, page := b.do("GET", "/admin/subscriptions", nil)
	m := regexp.MustCompile(`name="csrf" value="([^"]+)"`).FindStringSubmatch(page)
	if m == nil {
		t.Fatalf("no CSRF token on the subscriptions page:\n%s", page)
	}
	resp, body := b.do("POST", "/admin/subscriptions", url.Values{"csrf": {m[1]}, "url": {"http://127.0.0.1:9/hook"}})
	if resp.StatusCode != http.StatusBadRequest || !strings.Contains(body, `role="alert"`) || !strings.Contains(body, "127.0.0.1") {
		t.Errorf("a loopback receiver = %d:\n%s", resp.StatusCode, body)
	}
	if _, body := b.do("GET", "/admin/subscriptions", nil); !strings.Contains(body, "No webhook subscription yet.") {
		t.Errorf("a refused subscription was made:\n%s", body)
	}
}
