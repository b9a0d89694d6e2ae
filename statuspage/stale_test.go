package statuspage_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"linkwatch"

	"github.com/gorilla/mux"

	"linkwatch/hub"
	"linkwatch/statuspage"
	"linkwatch/storage/sqlite/sqlitetest"
)

// outage is a source whose reads fail while down is set (the database
// is out of reach), and, while hold is not nil, say so on held and wait
// for hold to close (or for the read's context to end, as a database
// read does).
type outage struct {
	*source
	down atomic.Bool
	mu   sync.Mutex
	hold chan struct{}
	held chan struct{}
}

func (o *outage) OpenIncidents(ctx context.Context) ([]linkwatch.Incident, error) {
	o.mu.Lock()
	hold, held := o.hold, o.held
	o.mu.Unlock()
	if hold != nil {
		held <- struct{}{}
		select {
		case <-hold:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	if o.down.Load() {
		return nil, errors.New("dial tcp 10.0.0.5:5432: connect: connection refused")
	}
	return o.source.OpenIncidents(ctx)
}

// stepClock is a clock the test moves.
type stepClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *stepClock) Now() time.Time      { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *stepClock) Add(d time.Duration) { c.mu.Lock(); c.now = c.now.Add(d); c.mu.Unlock() }

// outageServer is a status page over an empty database whose reads the
// test makes fail, on a clock the test moves.
func outageServer(t *testing.T) (*httptest.Server, *outage, *stepClock) {
	t.Helper()
	srv, src, clk, _ := outageServerOf(t)
	return srv, src, clk
}

// outageServerOf is outageServer, with its status page server.
func outageServerOf(t *testing.T) (*httptest.Server, *outage, *stepClock, *statuspage.Server) {
	t.Helper()
	cat, err := hub.NewCatalog([]hub.PageSpec{{Slug: "acme", Title: "Acme", Links: []hub.LinkSpec{{Slug: "shop", URL: shopURL}}}}, hub.NewCounter(nil))
	if err != nil {
		t.Fatal(err)
	}
	src := &outage{source: newSource(sqlitetest.MustOpen(t))}
	clk := &stepClock{now: time.Date(2026, 11, 22, 10, 2, 0, 0, time.UTC)}
	sp := statuspage.New(src, statuspage.Options{Name: "Acme status", URL: "https://links.example", CacheFor: time.Minute,
		Catalog: func() *hub.Catalog { return cat }, Log: slog.New(slog.DiscardHandler), Now: clk.Now})
	r := mux.NewRouter()
	sp.Register(r)
	srv := httptest.NewServer(r)
	t.Cleanup(srv.Close)
	return srv, src, clk, sp
}

func fetch(t *testing.T, url string) (*http.Response, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

func updatedAt(t *testing.T, body string) string {
	t.Helper()
	var v struct {
		Page struct {
			UpdatedAt string `json:"updated_at"`
		} `json:"page"`
	}
	if err := json.Unmarshal([]byte(body), &v); err != nil {
		t.Fatalf("%v: %s", err, body)
	}
	return v.Page.UpdatedAt
}

// While the database is out of reach, the status page serves the last
// state it read, saying as of when (the HTML in words, the API's
// updated_at as it is), not a 503; it tries again once per CacheFor, and
// is fresh again once the database answers.
func TestStatusPageServesItsLastSnapshotWhileTheDatabaseIsOut(t *testing.T) {
	t.Parallel()
	srv, src, clk := outageServer(t)
	for _, p := range []string{"/status", "/status/acme", "/api/v2/summary.json"} {
		if resp, body := fetch(t, srv.URL+p); resp.StatusCode != 200 || strings.Contains(body, "Shown as of") {
			t.Fatalf("GET %s before the outage = %d:\n%s", p, resp.StatusCode, body)
		}
	}
	src.down.Store(true)
	clk.Add(time.Minute) // the snapshots have expired: each is rebuilt, and fails
	for _, p := range []string{"/status", "/status/acme"} {
		resp, body := fetch(t, srv.URL+p)
		if resp.StatusCode != 200 || !strings.Contains(body, `Shown as of <time datetime="2026-11-22T10:02:00Z">22 Nov 2026 10:02 UTC</time>`) {
			t.Errorf("GET %s during the outage = %d, want 200 with the state as of 10:02:\n%s", p, resp.StatusCode, body)
		}
		if strings.Contains(body, "Updated 22 Nov 2026") {
			t.Errorf("GET %s during the outage says it was updated:\n%s", p, body)
		}
	}
	resp, body := fetch(t, srv.URL+"/api/v2/summary.json")
	if got := updatedAt(t, body); resp.StatusCode != 200 || got != "2026-11-22T10:02:00.000Z" {
		t.Errorf("summary.json during the outage = %d, page.updated_at %q, want 200 and the time of the state shown, 10:02", resp.StatusCode, got)
	}
	// Within CacheFor of a failure the database is not asked again.
	reads := src.reads.Load()
	clk.Add(30 * time.Second)
	fetch(t, srv.URL+"/status")
	if n := src.reads.Load(); n != reads {
		t.Errorf("%d more reads within CacheFor of a failed one", n-reads)
	}
	src.down.Store(false)
	clk.Add(30 * time.Second)
	resp, body = fetch(t, srv.URL+"/status")
	if resp.StatusCode != 200 || strings.Contains(body, "Shown as of") || !strings.Contains(body, "Updated 22 Nov 2026 10:04 UTC") {
		t.Errorf("GET /status once the database answers = %d, want the state of 10:04:\n%s", resp.StatusCode, body)
	}
	if _, body := fetch(t, srv.URL+"/api/v2/summary.json"); updatedAt(t, body) != "2026-11-22T10:04:00.000Z" {
		t.Errorf("summary.json once the database answers: page.updated_at %q, want 10:04", updatedAt(t, body))
	}
}

// A server that never read the state (started while its database is out
// of reach) answers a clear 503 page with Retry-After, in HTML for the
// page and JSON for the API.
func TestStatusPageWithoutAnySnapshotSaysSo(t *testing.T) {
	t.Parallel()
	srv, src, _ := outageServer(t)
	src.down.Store(true)
	for p, want := range map[string]string{
		"/status":              "Status not available yet",
		"/status/acme":         "Status not available yet",
		"/api/v2/summary.json": `{"error":"Service unavailable","status":503}`,
	} {
		resp, body := fetch(t, srv.URL+p)
		if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") != "5" || !strings.Contains(body, want) {
			t.Errorf("GET %s = %d Retry-After %q:\n%s\nwant 503, Retry-After 5 and %q", p, resp.StatusCode, resp.Header.Get("Retry-After"), body, want)
		}
	}
	if resp, _ := fetch(t, srv.URL+"/status"); !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") {
		t.Errorf("the 503 page is %s, want HTML", resp.Header.Get("Content-Type"))
	}
}

// A rebuild that hangs (a database that drops packets) holds no visitor
// who has a page to be shown: the last one serves meanwhile.
func TestStatusPageSlowRebuildHoldsNoVisitor(t *testing.T) {
	t.Parallel()
	srv, src, clk := outageServer(t)
	fetch(t, srv.URL+"/status")
	hold, held := make(chan struct{}), make(chan struct{}, 1)
	src.mu.Lock()
	src.hold, src.held = hold, held
	src.mu.Unlock()
	clk.Add(time.Minute)
	first := make(chan int, 1)
	go func() {
		resp, _ := fetch(t, srv.URL+"/status")
		first <- resp.StatusCode
	}()
	<-held
	src.mu.Lock()
	src.hold = nil
	src.mu.Unlock()
	// The first visitor's rebuild now waits on the database; each later
	// visitor is answered at once.
	for range 3 {
		done := make(chan int, 1)
		go func() {
			resp, _ := fetch(t, srv.URL+"/status")
			done <- resp.StatusCode
		}()
		select {
		case code := <-done:
			if code != 200 {
				t.Errorf("a visitor during a slow rebuild got %d", code)
			}
		case <-time.After(10 * time.Second):
			close(hold)
			t.Fatal("a visitor waited for another's rebuild")
		}
	}
	close(hold)
	if code := <-first; code != 200 {
		t.Errorf("the visitor whose rebuild was slow got %d", code)
	}
}

// A rebuild slower than a visitor waits for it (a page of thousands of
// links on a loaded machine, a database slow but answering) is not thrown
// away, which made every rebuild of such a page time out alike and the
// page never shown: the visitor is answered after the wait (a 503 without
// a last state, the last state as of when it was read with one), and the
// rebuild, once it finishes, serves the next visitor without another.
func TestStatusPageRebuildSlowerThanTheWaitServesOnceDone(t *testing.T) {
	t.Parallel()
	srv, src, clk, sp := outageServerOf(t)
	sp.SetBuildWait(50 * time.Millisecond)
	hold := func() (release func()) {
		h, held := make(chan struct{}), make(chan struct{}, 1)
		src.mu.Lock()
		src.hold, src.held = h, held
		src.mu.Unlock()
		return func() {
			<-held // the rebuild is waiting on the database
			src.mu.Lock()
			src.hold = nil
			src.mu.Unlock()
			close(h)
		}
	}
	// waitServed fetches path until its rebuild has finished and served:
	// a 200 without "Shown as of".
	waitServed := func(path string) string {
		t.Helper()
		for range 200 {
			resp, body := fetch(t, srv.URL+path)
			if resp.StatusCode == 200 && !strings.Contains(body, "Shown as of") {
				return body
			}
			time.Sleep(10 * time.Millisecond) // the rebuild ends in another goroutine
		}
		t.Fatalf("GET %s: the rebuild never served", path)
		return ""
	}

	// No last state: the first visitor gets the 503 after the wait.
	release := hold()
	resp, body := fetch(t, srv.URL+"/status")
	if resp.StatusCode != http.StatusServiceUnavailable || !strings.Contains(body, "Status not available yet") {
		t.Fatalf("GET /status while the first rebuild is late = %d, want 503:\n%s", resp.StatusCode, body)
	}
	reads := src.reads.Load()
	release()
	if body := waitServed("/status"); !strings.Contains(body, "Updated 22 Nov 2026 10:02 UTC") {
		t.Errorf("GET /status once the late rebuild ended, want the state of 10:02:\n%s", body)
	}
	if n := src.reads.Load() - reads; n > 1 {
		t.Errorf("the late rebuild's page served after %d more reads, want it served as built", n)
	}

	// A last state: the visitor gets it after the wait, as of when it was
	// read, and the next visitor the new one.
	clk.Add(time.Minute)
	release = hold()
	resp, body = fetch(t, srv.URL+"/status")
	if resp.StatusCode != 200 || !strings.Contains(body, `Shown as of <time datetime="2026-11-22T10:02:00Z">`) {
		t.Fatalf("GET /status while a rebuild is late = %d, want the state of 10:02, as of then:\n%s", resp.StatusCode, body)
	}
	release()
	if body := waitServed("/status"); !strings.Contains(body, "Updated 22 Nov 2026 10:03 UTC") {
		t.Errorf("GET /status once the late rebuild ended, want the state of 10:03:\n%s", body)
	}
}
