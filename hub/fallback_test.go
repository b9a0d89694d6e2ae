package hub

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http/httptest"
	"strings"
	"testing"

	"linkwatch"
)

const (
	shopURL     = "https://shop.example/buy"
	fallbackURL = "https://backup.example/buy"
)

func newFallbackServer(t *testing.T, store ClickStore) (*Server, *Counter) {
	t.Helper()
	counter := NewCounter(store)
	cat, err := NewCatalog([]PageSpec{{Slug: "acme", Links: []LinkSpec{
		{Slug: "shop", Title: "Shop", URL: shopURL, Fallback: fallbackURL},
		{Slug: "blog", Title: "Blog", URL: "https://blog.example/"},
	}}}, counter)
	if err != nil {
		t.Fatal(err)
	}
	return NewServer(cat, slog.New(slog.NewTextHandler(io.Discard, nil))), counter
}

func location(t *testing.T, srv *Server, path string) string {
	t.Helper()
	rec := httptest.NewRecorder()
	srv.ServeHTTP(rec, httptest.NewRequest("GET", path, nil))
	if rec.Code != 302 {
		t.Fatalf("GET %s = %d, want 302", path, rec.Code)
	}
	return rec.Header().Get("Location")
}

func pageBody(t *testing.T, srv *Server) string {
	t.Helper()
	rec := httptest.NewRecorder()
	srv.ServeHTTP(rec, httptest.NewRequest("GET", "/acme", nil))
	return rec.Body.String()
}

const note = "may be unavailable right now"

// The redirect follows the health swapped in: the fallback while the
// engine says so, the destination again as soon as it says otherwise.
func TestRedirectFollowsHealth(t *testing.T) {
	srv, counter := newFallbackServer(t, &memStore{})
	shop := LinkKey{"acme", "shop"}
	if got := location(t, srv, "/acme/shop"); got != shopURL {
		t.Errorf("without health: Location = %q, want the destination", got)
	}
	srv.ObserveHealth(healthOf(map[LinkKey]linkwatch.LinkHealth{shop: {Down: true, Fallback: fallbackURL}}))
	if got := location(t, srv, "/acme/shop"); got != fallbackURL {
		t.Errorf("on fallback: Location = %q, want %q", got, fallbackURL)
	}
	if body := pageBody(t, srv); strings.Contains(body, note) {
		t.Errorf("a link on its fallback carries the note:\n%s", body)
	}
	// HEAD is neither click nor fallback click; a self-check neither.
	srv.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("HEAD", "/acme/shop", nil))
	self := httptest.NewRequest("GET", "/acme/shop", nil)
	self.Header.Set(SelfCheckHeader, "1")
	srv.ServeHTTP(httptest.NewRecorder(), self)

	srv.ObserveHealth(linkwatch.Health{})
	if got := location(t, srv, "/acme/shop"); got != shopURL {
		t.Errorf("after recovery: Location = %q, want the destination", got)
	}
	want := map[LinkKey]ClickCount{shop: {Clicks: 3, Fallback: 1}}
	if got := counter.Pending(); !equalCounts(got, want) {
		t.Errorf("pending = %v, want %v", got, want)
	}
}

// Health made for a fallback that a reload has since changed does not
// send visitors to the old one.
func TestRedirectIgnoresStaleFallback(t *testing.T) {
	srv, _ := newFallbackServer(t, &memStore{})
	srv.ObserveHealth(healthOf(map[LinkKey]linkwatch.LinkHealth{{"acme", "shop"}: {Down: true, Fallback: "https://old.example/"}}))
	if got := location(t, srv, "/acme/shop"); got != shopURL {
		t.Errorf("Location = %q, want the destination, not a fallback no longer configured", got)
	}
}

// A link whose destination is down and that is not on a fallback keeps
// its button, with a visible note inside the link (its accessible name).
func TestPageNotesUnavailableLinks(t *testing.T) {
	srv, _ := newFallbackServer(t, &memStore{})
	if body := pageBody(t, srv); strings.Contains(body, note) {
		t.Errorf("healthy page carries the note:\n%s", body)
	}
	srv.ObserveHealth(healthOf(map[LinkKey]linkwatch.LinkHealth{
		{"acme", "blog"}: {Down: true},
		{"acme", "shop"}: {Down: true}, // its fallback is down too: not diverted
	}))
	body := pageBody(t, srv)
	for _, l := range []string{"blog", "shop"} {
		want := `href="/acme/` + l + `" rel="noopener">` + strings.ToUpper(l[:1]) + l[1:] + ` <span class="note">` + note + `</span></a>`
		if !strings.Contains(body, want) {
			t.Errorf("page lacks %s", want)
		}
	}
	if got := location(t, srv, "/acme/shop"); got != shopURL {
		t.Errorf("Location = %q, want the destination while the fallback is down too", got)
	}
}

func TestFlushSplitsFallbackClicks(t *testing.T) {
	store := &memStore{fail: errors.New("disk full")}
	srv, counter := newFallbackServer(t, store)
	srv.ObserveHealth(healthOf(map[LinkKey]linkwatch.LinkHealth{{"acme", "shop"}: {Down: true, Fallback: fallbackURL}}))
	location(t, srv, "/acme/shop")
	location(t, srv, "/acme/shop")
	srv.ObserveHealth(linkwatch.Health{})
	location(t, srv, "/acme/shop")
	if err := counter.Flush(context.Background()); err == nil {
		t.Fatal("Flush succeeded against a failing store")
	}
	store.fail = nil
	if err := counter.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got, want := store.counts[LinkKey{"acme", "shop"}], (ClickCount{Clicks: 3, Fallback: 2}); got != want {
		t.Errorf("stored = %+v, want %+v (kept across the failed flush)", got, want)
	}
}

func TestCatalogFallbacks(t *testing.T) {
	cat, err := NewCatalog([]PageSpec{{Slug: "a", Links: []LinkSpec{
		{Slug: "x", URL: "https://one.example/", Fallback: "https://two.example/"},
		{Slug: "y", URL: "https://two.example/"},
	}}}, NewCounter(&memStore{}))
	if err != nil {
		t.Fatal(err)
	}
	d := cat.Destinations()
	if len(d) != 2 || d[1].URL != "https://two.example/" || len(d[1].Links) != 1 || len(d[1].FallbackOf) != 1 || d[1].FallbackOf[0] != (LinkKey{"a", "x"}) {
		t.Errorf("Destinations = %+v, want the fallback checked once, naming both roles", d)
	}
	for name, f := range map[string]string{
		"same as url": "https://one.example/", "not http": "ftp://x.example/", "credentials": "https://u:p@x.example/", "space": "https://x.example/a b",
	} {
		_, err := NewCatalog([]PageSpec{{Slug: "a", Links: []LinkSpec{{Slug: "x", URL: "https://one.example/", Fallback: f}}}}, NewCounter(&memStore{}))
		if err == nil || !strings.Contains(err.Error(), "fallback") {
			t.Errorf("%s: err = %v, want one naming the fallback", name, err)
		}
	}
}

// healthOf is the engine's health naming the links in m.
func healthOf(m map[LinkKey]linkwatch.LinkHealth) linkwatch.Health {
	var h linkwatch.Health
	for k, l := range m {
		l.Page, l.Link = k.Page, k.Link
		h.Links = append(h.Links, l)
	}
	return h
}
