package console_test

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/mux"

	"linkwatch"
	"linkwatch/console"
	"linkwatch/hub/middleware"
	"linkwatch/storage"
	"linkwatch/storage/postgres/pgtest"
	"linkwatch/storage/sqlite/sqlitetest"
)

const token = "s3cret-admin-token-0123456789"

func TestMain(m *testing.M) { pgtest.Main(m) }

// clock is a settable clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time      { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Add(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

// env is a console served over a database, as serve mounts it.
type env struct {
	db  *storage.DB
	clk *clock
	log *bytes.Buffer
	srv *httptest.Server
}

func newEnv(t *testing.T, opts console.Options) *env {
	t.Helper()
	return newEnvOn(t, sqlitetest.MustOpen(t).DB, opts)
}

// newEnvOn is newEnv over db, whose clock it sets.
func newEnvOn(t *testing.T, db *storage.DB, opts console.Options) *env {
	t.Helper()
	clk := &clock{t: time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC)}
	db.SetClock(clk.Now)
	return serveOn(t, db, clk, opts)
}

// serveOn serves a console over db: another replica, when db is shared.
func serveOn(t *testing.T, db *storage.DB, clk *clock, opts console.Options) *env {
	t.Helper()
	var buf bytes.Buffer
	if opts.Token == "" {
		opts.Token = token
	}
	if opts.Now == nil {
		opts.Now = clk.Now
	}
	opts.Log = slog.New(slog.NewTextHandler(&syncWriter{w: &buf}, nil))
	r := mux.NewRouter()
	console.New(db, opts).Register(r)
	srv := httptest.NewServer(middleware.SecurityHeaders(r, console.Path+"/"))
	t.Cleanup(srv.Close)
	return &env{db: db, clk: clk, log: &buf, srv: srv}
}

type syncWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (s *syncWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(p)
}

// browser is a client with its own cookies that follows no redirect.
type browser struct {
	t   *testing.T
	c   *http.Client
	hdr http.Header // sent with every request
}

func newBrowser(t *testing.T) *browser {
	jar, _ := cookiejar.New(nil)
	return &browser{t: t, hdr: http.Header{}, c: &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

type answer struct {
	code int
	body string
	hdr  http.Header
}

func (b *browser) do(method, u string, form url.Values) answer {
	b.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, u, body)
	if err != nil {
		b.t.Fatal(err)
	}
	for k, v := range b.hdr {
		req.Header[k] = v
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	resp, err := b.c.Do(req)
	if err != nil {
		b.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	return answer{resp.StatusCode, string(raw), resp.Header}
}

var csrfField = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// csrf is the CSRF token of the forms on the page at u.
func (b *browser) csrf(u string) string {
	b.t.Helper()
	a := b.do("GET", u, nil)
	m := csrfField.FindStringSubmatch(a.body)
	if a.code != 200 || m == nil {
		b.t.Fatalf("GET %s = %d, no CSRF token:\n%s", u, a.code, a.body)
	}
	return m[1]
}

// signIn signs in as name with tok and returns the answer.
func (b *browser) signIn(e *env, name, tok string) answer {
	b.t.Helper()
	csrf := b.csrf(e.srv.URL + "/admin/signin")
	return b.do("POST", e.srv.URL+"/admin/signin", url.Values{"csrf": {csrf}, "name": {name}, "token": {tok}})
}

func (b *browser) mustSignIn(e *env, name string) {
	b.t.Helper()
	if a := b.signIn(e, name, token); a.code != http.StatusSeeOther {
		b.t.Fatalf("sign in = %d:\n%s", a.code, a.body)
	}
}

func auditLog(t *testing.T, db *storage.DB) []linkwatch.AuditEntry {
	t.Helper()
	list, err := db.AuditLog(context.Background(), linkwatch.AuditQuery{})
	if err != nil {
		t.Fatal(err)
	}
	return list
}

// The whole way through: signed out, a page sends to sign in; signed in,
// the cookie is HttpOnly, SameSite=Strict and for /admin only, the audit
// log shows the sign-in; signed out, the cookie opens nothing. The token
// is never in a page, a header or the log.
func TestSignInAndOut(t *testing.T) {
	t.Parallel()
	e := newEnv(t, console.Options{})
	b := newBrowser(t)
	if a := b.do("GET", e.srv.URL+"/admin/audit", nil); a.code != http.StatusSeeOther || a.hdr.Get("Location") != "/admin/signin" {
		t.Fatalf("signed out, GET /admin/audit = %d to %q, want 303 to /admin/signin", a.code, a.hdr.Get("Location"))
	}
	a := b.signIn(e, "Ada Lovelace", token)
	if a.code != http.StatusSeeOther {
		t.Fatalf("sign in = %d:\n%s", a.code, a.body)
	}
	var session *http.Cookie
	for _, ck := range (&http.Response{Header: a.hdr}).Cookies() {
		if ck.Name == "linkwatch_console" && ck.Value != "" {
			session = ck
		}
	}
	if session == nil || !session.HttpOnly || session.SameSite != http.SameSiteStrictMode || session.Path != "/admin" || session.Secure {
		t.Fatalf("session cookie = %+v, want HttpOnly, SameSite=Strict, Path=/admin, not Secure over http", session)
	}
	page := b.do("GET", e.srv.URL+"/admin/audit", nil)
	if page.code != 200 || !strings.Contains(page.body, "signed in as <strong>Ada Lovelace</strong>") || !strings.Contains(page.body, "<td>signin</td>") {
		t.Fatalf("audit page = %d:\n%s", page.code, page.body)
	}
	if csp := page.hdr.Get("Content-Security-Policy"); !strings.Contains(csp, "form-action 'self'") || strings.Contains(csp, "script-src") {
		t.Errorf("CSP %q: want forms to post to this origin, and no script", csp)
	}
	if page.hdr.Get("Cache-Control") != "no-store" {
		t.Errorf("Cache-Control %q, want no-store", page.hdr.Get("Cache-Control"))
	}
	log := auditLog(t, e.db)
	if len(log) != 1 || log[0].Actor != "Ada Lovelace" || log[0].Action != "signin" || log[0].Outcome != "ok" || log[0].Client != "127.0.0.1" {
		t.Errorf("audit log = %+v", log)
	}
	csrf := b.csrf(e.srv.URL + "/admin/audit")
	if a := b.do("POST", e.srv.URL+"/admin/signout", url.Values{"csrf": {csrf}}); a.code != http.StatusSeeOther || a.hdr.Get("Location") != "/admin/signin?done=signedout" {
		t.Fatalf("sign out = %d to %q", a.code, a.hdr.Get("Location"))
	}
	// The old cookie, sent again (a copy kept elsewhere), opens nothing.
	old := newBrowser(t)
	old.hdr.Set("Cookie", session.Name+"="+session.Value)
	if a := old.do("GET", e.srv.URL+"/admin/audit", nil); a.code != http.StatusSeeOther {
		t.Errorf("a signed-out session's cookie: GET = %d, want 303 to sign in", a.code)
	}
	if log := auditLog(t, e.db); len(log) != 2 || log[0].Action != "signout" || log[0].Actor != "Ada Lovelace" {
		t.Errorf("audit log after sign-out = %+v", log)
	}
	if strings.Contains(e.log.String(), token) {
		t.Errorf("the token is in the log:\n%s", e.log.String())
	}
}

// A session is kept in the database: another replica (another console
// over the same database) honours it, and refuses it once it is signed
// out on the first, or has expired, idle or absolutely; on SQLite (two
// consoles over one file) and on PostgreSQL (as replicas share it).
func TestSessionOnAnotherReplica(t *testing.T) {
	t.Parallel()
	t.Run("sqlite", func(t *testing.T) { sessionOnAnotherReplica(t, sqlitetest.MustOpen(t).DB) })
	t.Run("postgres", func(t *testing.T) { sessionOnAnotherReplica(t, pgtest.MustOpen(t).DB) })
}

func sessionOnAnotherReplica(t *testing.T, db *storage.DB) {
	a := newEnvOn(t, db, console.Options{Idle: 10 * time.Minute, Lifetime: time.Hour})
	b := serveOn(t, a.db, a.clk, console.Options{Idle: 10 * time.Minute, Lifetime: time.Hour})
	onB := func(br *browser, path string) int {
		t.Helper()
		// The cookie was set by A: send it to B (another host, for the jar).
		req, _ := http.NewRequest("GET", b.srv.URL+path, nil)
		for _, ck := range br.c.Jar.Cookies(mustURL(a.srv.URL + "/admin/")) {
			req.AddCookie(ck)
		}
		resp, err := br.c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}

	signedOut := newBrowser(t)
	signedOut.mustSignIn(a, "ada")
	if code := onB(signedOut, "/admin/audit"); code != 200 {
		t.Fatalf("a session made on A, on B = %d, want 200", code)
	}
	csrf := signedOut.csrf(a.srv.URL + "/admin/audit")
	signedOut.do("POST", a.srv.URL+"/admin/signout", url.Values{"csrf": {csrf}})
	if code := onB(signedOut, "/admin/audit"); code != http.StatusSeeOther {
		t.Errorf("signed out on A, on B = %d, want 303 to sign in", code)
	}

	idle := newBrowser(t)
	idle.mustSignIn(a, "bo")
	a.clk.Add(9 * time.Minute)
	if code := onB(idle, "/admin/audit"); code != 200 { // a request: the idle expiry starts again
		t.Fatalf("after 9 idle minutes, on B = %d, want 200", code)
	}
	a.clk.Add(9 * time.Minute)
	if code := onB(idle, "/admin/audit"); code != 200 {
		t.Fatalf("9 minutes after the last request, on B = %d, want 200", code)
	}
	a.clk.Add(10 * time.Minute)
	if code := onB(idle, "/admin/audit"); code != http.StatusSeeOther {
		t.Errorf("10 idle minutes, on B = %d, want 303 to sign in", code)
	}

	busy := newBrowser(t)
	busy.mustSignIn(a, "cy")
	for range 6 { // busy, never idle, for an hour
		a.clk.Add(9 * time.Minute)
		if code := onB(busy, "/admin/audit"); code != 200 {
			t.Fatalf("within its lifetime, on B = %d", code)
		}
	}
	a.clk.Add(6 * time.Minute)
	if code := onB(busy, "/admin/audit"); code != http.StatusSeeOther {
		t.Errorf("past its absolute expiry, on B = %d, want 303 to sign in", code)
	}
}

func mustURL(s string) *url.URL {
	u, err := url.Parse(s)
	if err != nil {
		panic(err)
	}
	return u
}

// A form without its CSRF token, or with another session's, is 403 and
// changes nothing; so is a sign-in form without its own.
func TestCSRFRefused(t *testing.T) {
	t.Parallel()
	e := newEnv(t, console.Options{})
	victim, attacker := newBrowser(t), newBrowser(t)
	victim.mustSignIn(e, "ada")
	attacker.mustSignIn(e, "mallory")
	forged := attacker.csrf(e.srv.URL + "/admin/audit")
	before := len(auditLog(t, e.db))
	for name, form := range map[string]url.Values{
		"missing":        {},
		"empty":          {"csrf": {""}},
		"another's":      {"csrf": {forged}},
		"two, one wrong": {"csrf": {"x", victim.csrf(e.srv.URL + "/admin/audit")}},
	} {
		a := victim.do("POST", e.srv.URL+"/admin/signout", form)
		if a.code != http.StatusForbidden || !strings.Contains(a.body, "nothing was changed") {
			t.Errorf("%s CSRF token: sign out = %d, want 403:\n%s", name, a.code, a.body)
		}
	}
	if a := victim.do("GET", e.srv.URL+"/admin/audit", nil); a.code != 200 {
		t.Errorf("after forged sign-outs, the session = %d, want still signed in", a.code)
	}
	if n := len(auditLog(t, e.db)); n != before {
		t.Errorf("forged forms wrote %d audit entries", n-before)
	}

	// Sign-in: the form's token must match its cookie.
	fresh := newBrowser(t)
	tok := fresh.csrf(e.srv.URL + "/admin/signin")
	other := newBrowser(t) // a forged form: the token of another browser, no cookie
	if a := other.do("POST", e.srv.URL+"/admin/signin", url.Values{"csrf": {tok}, "name": {"x"}, "token": {token}}); a.code != http.StatusForbidden {
		t.Errorf("a sign-in without its cookie = %d, want 403", a.code)
	}
	if a := fresh.do("POST", e.srv.URL+"/admin/signin", url.Values{"name": {"x"}, "token": {token}}); a.code != http.StatusForbidden {
		t.Errorf("a sign-in without its token = %d, want 403", a.code)
	}
	if a := fresh.do("GET", e.srv.URL+"/admin/audit", nil); a.code != http.StatusSeeOther {
		t.Errorf("a refused sign-in signed in: GET = %d", a.code)
	}
}

// Sign-in attempts are limited per client: the sixth in a row is 429, even
// with the right token, while another client signs in.
func TestSignInRateLimited(t *testing.T) {
	t.Parallel()
	e := newEnv(t, console.Options{SignIns: console.NewSignInLimiter(64), Trusted: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}})
	guesser := newBrowser(t)
	guesser.hdr.Set("X-Forwarded-For", "203.0.113.9")
	for i := range 5 {
		if a := guesser.signIn(e, "guess", "wrong"+string(rune('a'+i))); a.code != http.StatusUnauthorized {
			t.Fatalf("attempt %d = %d, want 401", i+1, a.code)
		}
	}
	a := guesser.signIn(e, "guess", token)
	if a.code != http.StatusTooManyRequests || a.hdr.Get("Retry-After") == "" {
		t.Fatalf("sixth attempt = %d (Retry-After %q), want 429", a.code, a.hdr.Get("Retry-After"))
	}
	if a := guesser.do("GET", e.srv.URL+"/admin/audit", nil); a.code != http.StatusSeeOther {
		t.Error("a limited attempt with the right token signed in")
	}
	other := newBrowser(t)
	other.hdr.Set("X-Forwarded-For", "198.51.100.7")
	other.mustSignIn(e, "ada")
	var wrong int
	for _, e := range auditLog(t, e.db) {
		if e.Action == "signin" && e.Outcome != "ok" {
			wrong++
			if e.Client != "203.0.113.9" || strings.Contains(e.Detail, "wrong") {
				t.Errorf("failed sign-in entry = %+v", e)
			}
		}
	}
	if wrong != 5 {
		t.Errorf("%d failed sign-ins in the audit log, want 5", wrong)
	}
}

// Bad input at sign-in: a clear error, the name kept, no session, and the
// token typed never shown back.
func TestSignInBadInput(t *testing.T) {
	t.Parallel()
	e := newEnv(t, console.Options{})
	for _, tc := range []struct {
		name, tok, want string
		code            int
	}{
		{"", token, "Your name is required", 400},
		{"   ", token, "Your name is required", 400},
		{strings.Repeat("n", 101), token, "at most 100 bytes", 400},
		{"ada\nforged line", token, "one line of text", 400},
		{"ada\x00", token, "one line of text", 400},
		{"ada", "", "not the admin token", 401},
		{"ada", token + "x", "not the admin token", 401},
		{"ada", "wrong", "not the admin token", 401},
	} {
		b := newBrowser(t)
		a := b.signIn(e, tc.name, tc.tok)
		if a.code != tc.code || !strings.Contains(a.body, tc.want) || !strings.Contains(a.body, `role="alert"`) {
			t.Errorf("sign in as %q: %d, want %d saying %q:\n%s", tc.name, a.code, tc.code, tc.want, a.body)
		}
		if tc.tok != "" && strings.Contains(a.body, tc.tok) {
			t.Errorf("sign in as %q: the token typed is shown back", tc.name)
		}
		if a := b.do("GET", e.srv.URL+"/admin/audit", nil); a.code != http.StatusSeeOther {
			t.Errorf("sign in as %q: signed in", tc.name)
		}
	}
	for _, entry := range auditLog(t, e.db) {
		if entry.Outcome == "ok" {
			t.Errorf("a refused sign-in is recorded as ok: %+v", entry)
		}
	}
}

// Without a token the console is off, and says how to turn it on; before
// the database is reached, it says so.
func TestConsoleOffAndUnavailable(t *testing.T) {
	t.Parallel()
	db := sqlitetest.MustOpen(t).DB
	clk := &clock{t: time.Now()}
	r := mux.NewRouter()
	console.New(db, console.Options{}).Register(r)
	rec := httptest.NewRecorder()
	r.ServeHTTP(rec, httptest.NewRequest("GET", "/admin/signin", nil))
	if rec.Code != 404 || !strings.Contains(rec.Body.String(), "set server.admin_token") {
		t.Errorf("without a token: %d:\n%s", rec.Code, rec.Body)
	}
	e := serveOn(t, db, clk, console.Options{Unavailable: "not reached yet"})
	if a := newBrowser(t).do("GET", e.srv.URL+"/admin/signin", nil); a.code != 503 || !strings.Contains(a.body, "not reached yet") {
		t.Errorf("unavailable: %d:\n%s", a.code, a.body)
	}
	if a := newBrowser(t).do("GET", e.srv.URL+"/admin/nope", nil); a.code != 503 {
		t.Errorf("unavailable, any path: %d", a.code)
	}
}

// An audit log page with a bad ?before= says what is wrong.
func TestAuditPageBadInput(t *testing.T) {
	t.Parallel()
	e := newEnv(t, console.Options{})
	b := newBrowser(t)
	b.mustSignIn(e, "ada")
	for _, q := range []string{"x", "-1", "0", "1e3"} {
		if a := b.do("GET", e.srv.URL+"/admin/audit?before="+q, nil); a.code != 400 || !strings.Contains(a.body, "positive entry id") {
			t.Errorf("?before=%s: %d", q, a.code)
		}
	}
	if a := b.do("GET", e.srv.URL+"/admin/nowhere", nil); a.code != 404 || !strings.Contains(a.body, "no console page") {
		t.Errorf("an unknown console path: %d:\n%s", a.code, a.body)
	}
}
