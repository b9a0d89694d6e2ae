package checker

import (
	"log/slog"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"linkwatch"
	"linkwatch/hub"
)

// TestSelfCheckCatchesAHubDivertingWrongly runs the self-check of a link
// with a fallback, as serve wires it, against the real hub: on its
// fallback while the engine diverts it, the hub is right; sending visitors
// to the fallback while the engine says the destination is up (a hub whose
// redirects no longer follow the engine) is hub_redirect_wrong.
func TestSelfCheckCatchesAHubDivertingWrongly(t *testing.T) {
	const dest, fallback = "https://shop.example/", "https://backup.example/"
	cat, err := hub.NewCatalog([]hub.PageSpec{{Slug: "acme", Links: []hub.LinkSpec{{Slug: "shop", URL: dest, Fallback: fallback}}}}, hub.NewCounter(nil))
	if err != nil {
		t.Fatal(err)
	}
	srv := hub.NewServer(cat, slog.New(slog.DiscardHandler))
	srv.SetSelfCheckToken("tok")
	front := httptest.NewServer(srv)
	t.Cleanup(front.Close)
	div := NewDiversions(10*time.Second, srv)
	// Diversions end a second before the checker's clock reads: every
	// check below begins after the switch before it.
	div.now = func() time.Time { return time.Now().Add(-time.Second) }
	chk := New(Options{AllowPrivate: loopback, SelfCheckToken: "tok", Diverted: div.Diverted})
	targets := cat.SelfCheckTargets(front.URL)
	if len(targets) != 1 || targets[0].AltLocation != fallback {
		t.Fatalf("self-check targets = %+v", targets)
	}
	check := func() linkwatch.Result { return chk.Check(t.Context(), targets[0]) }

	if r := check(); r.Status != linkwatch.StatusUp || r.FinalURL != dest {
		t.Fatalf("healthy: %s %s %q", r.Status, r.Cause, r.Summary)
	}
	// The engine diverts the link: the hub sends visitors to the fallback.
	diverted := linkwatch.Health{Links: []linkwatch.LinkHealth{{Page: "acme", Link: "shop", Down: true, Fallback: fallback}}}
	div.ObserveHealth(diverted)
	if r := check(); r.Status != linkwatch.StatusUp || r.FinalURL != fallback {
		t.Errorf("diverted by the engine: %s %s %q, want up on the fallback", r.Status, r.Cause, r.Summary)
	}
	// The destination answers again and the engine says so, but the hub
	// keeps sending visitors away.
	div.ObserveHealth(linkwatch.Health{})
	srv.ObserveHealth(diverted)
	r := check()
	if r.Cause != linkwatch.CauseHubRedirectWrong || !strings.Contains(r.Summary, "to its fallback "+fallback+" while its destination is not down") {
		t.Errorf("the hub diverting while the engine does not: %s %s %q, want hub_redirect_wrong", r.Status, r.Cause, r.Summary)
	}
	// A hub diverting a link the engine never diverted is caught too.
	div2 := NewDiversions(10*time.Second, srv)
	chk2 := New(Options{AllowPrivate: loopback, SelfCheckToken: "tok", Diverted: div2.Diverted})
	if r := chk2.Check(t.Context(), targets[0]); r.Cause != linkwatch.CauseHubRedirectWrong {
		t.Errorf("never diverted by the engine: %s %s %q, want hub_redirect_wrong", r.Status, r.Cause, r.Summary)
	}
}

// observerFunc is a HealthObserver.
type observerFunc func(linkwatch.Health)

func (f observerFunc) ObserveHealth(h linkwatch.Health) { f(h) }

// TestDiversionsCountDuringTheCheck: a diversion counts for a check that
// began before it ended (the hub may have answered while it lasted), not
// for one that began after; one that ended longer ago than any check lasts
// is forgotten.
func TestDiversionsCountDuringTheCheck(t *testing.T) {
	now := time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)
	shop := linkwatch.Target{ID: linkwatch.SelfCheckID("acme", "shop"), Kind: linkwatch.TargetSelfCheck, AltLocation: "https://backup.example/"}
	blog := linkwatch.Target{ID: linkwatch.SelfCheckID("acme", "blog"), Kind: linkwatch.TargetSelfCheck, AltLocation: "https://backup.example/blog"}
	var swapped []bool // whether shop counted as diverted while the hub swapped
	var d *Diversions
	d = NewDiversions(10*time.Second, observerFunc(func(linkwatch.Health) { swapped = append(swapped, d.Diverted(shop, now)) }))
	d.now = func() time.Time { return now }
	observe := d.ObserveHealth
	on := linkwatch.Health{Links: []linkwatch.LinkHealth{
		{Page: "acme", Link: "shop", Down: true, Fallback: shop.AltLocation},
		{Page: "acme", Link: "blog", Down: true}, // down, not on a fallback
	}}
	if d.Diverted(shop, now) {
		t.Fatal("diverted before the engine said so")
	}
	observe(on)
	if !d.Diverted(shop, now) || d.Diverted(blog, now) {
		t.Errorf("after the switch: shop %v, blog %v; want shop only", d.Diverted(shop, now), d.Diverted(blog, now))
	}
	other := shop
	other.AltLocation = "https://elsewhere.example/"
	if d.Diverted(other, now) {
		t.Error("a fallback other than the one the engine diverts to is accepted")
	}
	began := now
	now = now.Add(2 * time.Second)
	observe(linkwatch.Health{})
	if !d.Diverted(shop, began) {
		t.Error("a check that began while the link was diverted does not accept its fallback")
	}
	if d.Diverted(shop, now.Add(time.Millisecond)) {
		t.Error("a check that began after the switch back accepts the fallback")
	}
	if len(swapped) != 2 || !swapped[0] || !swapped[1] {
		t.Errorf("while the hub swapped its health, shop counted as diverted: %v, want true both times", swapped)
	}
	now = now.Add(11 * time.Second)
	observe(linkwatch.Health{})
	if d.Diverted(shop, began) || len(d.links) != 0 {
		t.Errorf("a diversion ended 11 s ago is kept: %v", d.links)
	}
}
