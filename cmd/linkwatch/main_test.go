package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"linkwatch"

	"go.yaml.in/yaml/v3"

	"linkwatch/cmd/linkwatch/config"
	"linkwatch/hub"
	"linkwatch/storage"
	"linkwatch/storage/postgres/pgtest"
	"linkwatch/storage/sqlite"
)

// lockedBuffer is an io.Writer safe to read while run writes to it.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// TestMain lets 8 tests run at once unless -test.parallel says otherwise:
// the serve tests mostly wait on timers and the network, and go test's
// default (GOMAXPROCS, 2 on a small machine) would run them nearly one
// after another. Not more: at 16 (13 s for the package, against 20 s at 8)
// two hub self-checks timed out under -race with two suites at once.
// Then it stops the throwaway PostgreSQL the tests started.
func TestMain(m *testing.M) {
	flag.Parse()
	set := false
	flag.Visit(func(f *flag.Flag) { set = set || f.Name == "test.parallel" })
	if !set {
		_ = flag.Set("test.parallel", "8")
	}
	pgtest.Main(m)
}

// servedApp is a linkwatch serve running in-process on a loopback port.
type servedApp struct {
	URL    string
	DBPath string
	stderr *lockedBuffer
	cancel context.CancelFunc
	done   chan struct{} // closed when run has returned
	err    error         // run's result, set before done is closed
}

// stop shuts the app down the way SIGTERM does and returns run's error.
func (a *servedApp) stop(t *testing.T) error {
	t.Helper()
	a.cancel()
	select {
	case <-a.done:
		return a.err
	case <-time.After(15 * time.Second):
		t.Fatalf("run did not return after shutdown; stderr:\n%s", a.stderr)
		return nil
	}
}

// startApp writes cfg to a temp dir and runs `linkwatch serve` on 127.0.0.1:0.
func startApp(t *testing.T, cfg string, env map[string]string) *servedApp {
	t.Helper()
	return startAppAt(t, cfg, env, "127.0.0.1:0")
}

// noDrainDelay sets server.drain_delay to 0s in a config that does not
// set it: a test stopping serve need not wait for load balancers.
func noDrainDelay(t *testing.T, cfg string) string {
	t.Helper()
	if strings.Contains(cfg, "drain_delay") {
		return cfg
	}
	var doc yaml.Node
	if err := yaml.Unmarshal([]byte(cfg), &doc); err != nil || len(doc.Content) == 0 || doc.Content[0].Kind != yaml.MappingNode {
		return cfg // a bad config is the test's point: leave it as it is
	}
	root := doc.Content[0]
	var server *yaml.Node
	for i := 0; i+1 < len(root.Content); i += 2 {
		if root.Content[i].Value == "server" {
			server = root.Content[i+1]
		}
	}
	if server == nil {
		server = &yaml.Node{Kind: yaml.MappingNode}
		root.Content = append(root.Content, &yaml.Node{Kind: yaml.ScalarNode, Value: "server"}, server)
	}
	if server.Kind != yaml.MappingNode {
		return cfg
	}
	server.Content = append(server.Content, &yaml.Node{Kind: yaml.ScalarNode, Value: "drain_delay"}, &yaml.Node{Kind: yaml.ScalarNode, Value: "0s"})
	out, err := yaml.Marshal(&doc)
	if err != nil {
		t.Fatal(err)
	}
	return string(out)
}

// startAppAt is startApp listening on addr. A test that must know its
// address before serve listens (public_url names it) reserves a port,
// closes it and hands it here; should another socket take the port
// meanwhile, serve is started again on a new port, every mention of addr
// in cfg changed to it (read the address from the app's URL).
func startAppAt(t *testing.T, cfg string, env map[string]string, addr string) *servedApp {
	t.Helper()
	for attempt := 1; ; attempt++ {
		app, err := tryStartAppAt(t, cfg, env, addr)
		if err == nil {
			return app
		}
		host, port, _ := net.SplitHostPort(addr)
		if !errors.Is(err, syscall.EADDRINUSE) || port == "0" || attempt == 3 {
			t.Fatal(err)
		}
		ln, lerr := net.Listen("tcp", net.JoinHostPort(host, "0"))
		if lerr != nil {
			t.Fatal(lerr)
		}
		next := ln.Addr().String()
		ln.Close()
		t.Logf("%s was taken before serve listened on it: serve again on %s", addr, next)
		cfg, addr = strings.ReplaceAll(cfg, addr, next), next
	}
}

// tryStartAppAt starts serve once; its error wraps serve's when serve
// exited before listening.
func tryStartAppAt(t *testing.T, cfg string, env map[string]string, addr string) (*servedApp, error) {
	t.Helper()
	dir := t.TempDir()
	dbPath := filepath.Join(dir, "linkwatch.db")
	cfg = noDrainDelay(t, strings.ReplaceAll(cfg, "DBPATH", dbPath))
	cfgPath := filepath.Join(dir, "config.yaml")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	stdoutR, stdoutW := io.Pipe()
	app := &servedApp{DBPath: dbPath, stderr: &lockedBuffer{}, cancel: cancel, done: make(chan struct{})}
	getenv := func(k string) string {
		if v, ok := env[k]; ok {
			return v
		}
		// The shortest probe.interval, for tests only (see the README):
		// tests whose destinations fail at once (refused, unresolvable)
		// check every 600ms. Those that assert what a healthy
		// destination's checks found keep 1s with a 900ms timeout, which
		// a machine at a load of 15 still answers on loopback.
		if k == config.TestMinIntervalEnv {
			return "100ms"
		}
		return ""
	}
	go func() {
		err := run(ctx, []string{"linkwatch", "serve", "-config", cfgPath, "-addr", addr}, getenv, stdoutW, app.stderr)
		stdoutW.CloseWithError(io.EOF)
		app.err = err
		close(app.done)
	}()
	line := make(chan string, 1)
	go func() {
		var buf [256]byte
		n, _ := stdoutR.Read(buf[:])
		line <- string(buf[:n])
		_, _ = io.Copy(io.Discard, stdoutR)
	}()
	select {
	case l := <-line:
		const prefix = "linkwatch listening on "
		if !strings.HasPrefix(l, prefix) {
			cancel()
			<-app.done
			return nil, fmt.Errorf("unexpected first stdout line %q (serve: %w); stderr:\n%s", l, app.err, app.stderr)
		}
		app.URL = strings.TrimSpace(strings.TrimPrefix(l, prefix))
	case <-time.After(30 * time.Second):
		cancel()
		<-app.done
		return nil, fmt.Errorf("server did not start; stderr:\n%s", app.stderr)
	}
	t.Cleanup(func() {
		cancel()
		<-app.done
	})
	return app, nil
}

const e2eConfig = `
server:
  public_url: http://127.0.0.1:9
  admin_token: ${ADMIN_TOKEN}
storage:
  path: DBPATH
pages:
  - slug: ada
    title: Ada Lovelace
    links:
      - slug: go
        title: Go
        url: https://127.0.0.1:9/go/
      - slug: notes
        title: Notes
        url: https://127.0.0.1:9/notes?from=hub
`

// noRedirect is a client that reports redirects instead of following them.
var noRedirect = &http.Client{
	Timeout:       5 * time.Second,
	CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
}

func get(t *testing.T, method, url string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := noRedirect.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp, string(body)
}

func TestServeEndToEnd(t *testing.T) {
	t.Parallel()
	for _, b := range testBackends {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			serveEndToEnd(t, b)
		})
	}
}

func serveEndToEnd(t *testing.T, backend testBackend) {
	section, env, open := backend.fresh(t, t.TempDir())
	env = maps.Clone(env)
	if env == nil {
		env = map[string]string{}
	}
	env["ADMIN_TOKEN"] = "0123456789abcdef0123"
	app := startApp(t, strings.Replace(e2eConfig, "storage:\n  path: DBPATH", "storage: "+section, 1), env)

	resp, body := get(t, "GET", app.URL+"/ada")
	if resp.StatusCode != 200 || !strings.Contains(body, "Ada Lovelace") || !strings.Contains(body, `href="/ada/notes"`) {
		t.Errorf("GET /ada = %d:\n%s", resp.StatusCode, body)
	}
	for range 3 {
		resp, _ = get(t, "GET", app.URL+"/ada/go")
		if resp.StatusCode != http.StatusFound || resp.Header.Get("Location") != "https://127.0.0.1:9/go/" {
			t.Fatalf("GET /ada/go = %d Location %q, want 302 to https://127.0.0.1:9/go/", resp.StatusCode, resp.Header.Get("Location"))
		}
	}
	resp, _ = get(t, "HEAD", app.URL+"/ada/notes")
	if resp.StatusCode != http.StatusFound || resp.Header.Get("Location") != "https://127.0.0.1:9/notes?from=hub" {
		t.Errorf("HEAD /ada/notes = %d Location %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	get(t, "GET", app.URL+"/ada/notes")
	resp, body = get(t, "GET", app.URL+"/ada/missing")
	if resp.StatusCode != 404 || !strings.Contains(body, "Not found") {
		t.Errorf("GET /ada/missing = %d:\n%s", resp.StatusCode, body)
	}
	for _, p := range []string{"/healthz", "/readyz"} {
		if resp, body := get(t, "GET", app.URL+p); resp.StatusCode != 200 || body != "ok\n" {
			t.Errorf("GET %s = %d %q", p, resp.StatusCode, body)
		}
	}

	// Clicks are counted in memory; a clean shutdown must flush them.
	if err := app.stop(t); err != nil {
		t.Fatalf("run returned %v; stderr:\n%s", err, app.stderr)
	}
	db := open(t)
	totals, err := db.ClickTotals(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	want := map[hub.LinkKey]int64{{Page: "ada", Link: "go"}: 3, {Page: "ada", Link: "notes"}: 1}
	if len(totals) != len(want) || totals[hub.LinkKey{Page: "ada", Link: "go"}] != 3 || totals[hub.LinkKey{Page: "ada", Link: "notes"}] != 1 {
		t.Errorf("persisted clicks = %v, want %v (HEAD is not a click)", totals, want)
	}
	secrets := slices.Collect(maps.Values(env))
	if u, err := url.Parse(env["LINKWATCH_TEST_DSN"]); err == nil && u.User != nil {
		pw, _ := u.User.Password()
		secrets = append(secrets, pw)
	}
	for _, secret := range secrets {
		if secret != "" && strings.Contains(app.stderr.String(), secret) {
			t.Errorf("a secret (the admin token or the DSN) appears in the log:\n%s", app.stderr)
		}
	}
}

func TestServeFailsOnBadConfig(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path := filepath.Join(dir, "c.yaml")
	if err := os.WriteFile(path, []byte("pages: []\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	var stdout, stderr bytes.Buffer
	err := run(context.Background(), []string{"linkwatch", "serve", "-config", path}, func(string) string { return "" }, &stdout, &stderr)
	if err == nil || !strings.Contains(err.Error(), "pages: at least one page is required") {
		t.Errorf("serve with no pages: err = %v", err)
	}
}

func TestCommandLine(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.yaml")
	bad := filepath.Join(dir, "bad.yaml")
	mustWrite(t, good, "pages:\n  - slug: a\n    links:\n      - {slug: x, url: 'https://example.com/'}\n")
	mustWrite(t, bad, `pages:
  - slug: status
    links:
      - {slug: x, url: 'ftp://example.com/'}
      - {slug: x, url: 'https://u:p@example.com/', tittle: X}
`)
	tests := []struct {
		name       string
		args       []string
		wantCode   int // -1: no error
		wantOut    string
		wantErrMsg []string
	}{
		{"version", []string{"version"}, -1, "linkwatch ", nil},
		{"help", []string{"help"}, -1, "Usage:", nil},
		{"no command", nil, 2, "", []string{"no command given"}},
		{"unknown command", []string{"frobnicate"}, 2, "", []string{`unknown command "frobnicate"`}},
		{"validate ok", []string{"validate", "-config", good}, -1, "OK (1 page, 1 link)", nil},
		{"validate without config", []string{"validate"}, 2, "", []string{"-config is required"}},
		{"validate missing file", []string{"validate", "-config", filepath.Join(dir, "nope.yaml")}, 1, "", []string{"no such file"}},
		{"validate bad flag", []string{"validate", "-bogus"}, 2, "", []string{"flag provided but not defined"}},
		{"validate extra arg", []string{"validate", "-config", good, "extra"}, 2, "", []string{`unexpected argument "extra"`}},
		{"validate prints every error", []string{"validate", "-config", bad}, 1, "", []string{
			"5 config error(s)",
			`pages[0].links[1].tittle: unknown field (did you mean "title"?)`,
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			err := run(context.Background(), append([]string{"linkwatch"}, tt.args...), func(string) string { return "" }, &stdout, &stderr)
			if tt.wantCode < 0 {
				if err != nil {
					t.Fatalf("err = %v", err)
				}
			} else if err == nil || exitCode(err) != tt.wantCode {
				t.Fatalf("err = %v (exit %d), want exit %d", err, exitCode(err), tt.wantCode)
			}
			if !strings.Contains(stdout.String(), tt.wantOut) {
				t.Errorf("stdout %q lacks %q", stdout.String(), tt.wantOut)
			}
			for _, m := range tt.wantErrMsg {
				if !strings.Contains(err.Error(), m) {
					t.Errorf("error lacks %q:\n%v", m, err)
				}
			}
		})
	}
}

func mustWrite(t *testing.T, path, s string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(s), 0o600); err != nil {
		t.Fatal(err)
	}
}

func TestServeProbesDestinationsAndItself(t *testing.T) {
	t.Parallel()
	dest := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/gone" {
			http.NotFound(w, r)
			return
		}
		_, _ = w.Write([]byte("hello"))
	}))
	defer dest.Close()
	// public_url is where the prober reaches the hub: the test learns the
	// port only once it is listening, so it reserves one first.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	cfg := `
server: {addr: "` + addr + `", public_url: "http://` + addr + `", rate_limit: {per_second: 1, burst: 1}}
storage: {path: DBPATH}
probe: {interval: 1s, timeout: 900ms, allow_private: [127.0.0.1/32]}
pages:
  - slug: ada
    links:
      - {slug: ok, url: "` + dest.URL + `/ok"}
      - {slug: gone, url: "` + dest.URL + `/gone"}
`
	app := startAppAt(t, cfg, nil, addr)
	db, err := sqlite.Open(context.Background(), app.DBPath)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	want := map[string]linkwatch.Cause{
		dest.URL + "/ok":   linkwatch.CauseNone,
		dest.URL + "/gone": linkwatch.CauseHTTP4xx,
		"self:/ada/ok":     linkwatch.CauseNone,
		"self:/ada/gone":   linkwatch.CauseNone, // the hub's redirect is right even if the destination is not
	}
	// The rate limit (1/s) is below the self-check rate (2/s): self-checks
	// must be exempt, or the hub would look broken.
	deadline := time.Now().Add(10 * time.Second)
	for key, cause := range want {
		for {
			checks, err := db.RecentChecks(context.Background(), []string{key}, time.Time{}, 1)
			res := checks[key]
			if err != nil {
				t.Fatal(err)
			}
			if len(res) == 1 {
				if res[0].Cause != cause {
					t.Errorf("%s: cause %q (%s), want %q", key, res[0].Cause, res[0].Summary, cause)
				}
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("no result for %s within 10s; stderr:\n%s", key, app.stderr)
			}
			time.Sleep(100 * time.Millisecond) // a poll of a running serve: real time
		}
	}
	if err := app.stop(t); err != nil {
		t.Fatal(err)
	}
	// Self-checks are not clicks.
	totals, err := db.ClickTotals(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(totals) != 0 {
		t.Errorf("self-checks were counted as clicks: %v", totals)
	}
}

// TestReloadOnSIGHUP is not parallel: the SIGHUP it sends reaches every
// serve of the test process, and parallel tests never run beside one that
// is not.
func TestReloadOnSIGHUP(t *testing.T) {
	app := startApp(t, e2eConfig, map[string]string{"ADMIN_TOKEN": "0123456789abcdef0123"})
	cfgPath := filepath.Join(filepath.Dir(app.DBPath), "config.yaml")
	reload := func(cfg string) {
		t.Helper()
		mustWrite(t, cfgPath, strings.ReplaceAll(cfg, "DBPATH", app.DBPath))
		if err := syscall.Kill(os.Getpid(), syscall.SIGHUP); err != nil {
			t.Fatal(err)
		}
	}
	// A broken config is refused; the running one keeps serving.
	reload("pages: [{slug: status}]\n")
	waitUntil(t, 5*time.Second, "the reload error in the log", func() bool {
		return strings.Contains(app.stderr.String(), "config reload failed")
	})
	if resp, _ := get(t, "GET", app.URL+"/ada/go"); resp.StatusCode != http.StatusFound {
		t.Fatalf("after a broken reload /ada/go = %d", resp.StatusCode)
	}
	// A good one: a new link appears, a removed one is gone, a changed one moves.
	reload(strings.Replace(strings.Replace(e2eConfig, "https://127.0.0.1:9/go/", "https://127.0.0.1:9/go/doc/", 1),
		"      - slug: notes\n        title: Notes\n        url: https://127.0.0.1:9/notes?from=hub\n",
		"      - slug: new\n        url: https://127.0.0.1:9/new/\n", 1))
	waitUntil(t, 5*time.Second, "the new link", func() bool {
		resp, _ := get(t, "GET", app.URL+"/ada/new")
		return resp.StatusCode == http.StatusFound && resp.Header.Get("Location") == "https://127.0.0.1:9/new/"
	})
	if resp, _ := get(t, "GET", app.URL+"/ada/go"); resp.Header.Get("Location") != "https://127.0.0.1:9/go/doc/" {
		t.Errorf("/ada/go after reload → %q", resp.Header.Get("Location"))
	}
	if resp, _ := get(t, "GET", app.URL+"/ada/notes"); resp.StatusCode != http.StatusNotFound {
		t.Errorf("removed link answers %d", resp.StatusCode)
	}
}

// waitUntil polls cond until it holds, or fails the test after limit: a
// bound on something that does not happen, never a measure of speed.
func waitUntil(t *testing.T, limit time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", limit, what)
		}
		time.Sleep(100 * time.Millisecond) // a poll of a running serve: real time
	}
}

// incidentKeys lists every incident's correlation key.
func incidentKeys(t *testing.T, db storage.Store) []string {
	t.Helper()
	list, err := db.ListIncidents(context.Background(), linkwatch.IncidentQuery{Limit: 500})
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	for _, inc := range list {
		keys = append(keys, inc.Key)
	}
	return keys
}
