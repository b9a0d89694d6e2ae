package incidents_test

import (
	"context"
	"io"
	"log/slog"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"linkwatch"
	"linkwatch/incidents"
	"linkwatch/storage/sqlite"
	"linkwatch/storage/sqlite/sqlitetest"
)

var t0 = time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)

type step struct {
	target string
	kind   linkwatch.TargetKind
	status linkwatch.Status
	cause  linkwatch.Cause
}

// result is the check a step stands for, started at start.
func (s step) result(start time.Time) linkwatch.Result {
	return linkwatch.Result{TargetID: s.target, Kind: s.kind, URL: s.target, Start: start, Status: s.status, Cause: s.cause, Summary: string(s.cause) + " at " + s.target}
}

func down(target string, cause linkwatch.Cause) step {
	return step{target, linkwatch.TargetDestination, linkwatch.StatusDown, cause}
}
func up(target string) step { return step{target, linkwatch.TargetDestination, linkwatch.StatusUp, ""} }
func degraded(target string, cause linkwatch.Cause) step {
	return step{target, linkwatch.TargetDestination, linkwatch.StatusDegraded, cause}
}
func self(target string, st linkwatch.Status, cause linkwatch.Cause) step {
	return step{target, linkwatch.TargetSelfCheck, st, cause}
}
func canary(st linkwatch.Status) step {
	c := linkwatch.CauseNone
	if st != linkwatch.StatusUp {
		c = linkwatch.CauseConnectTimeout
	}
	return step{canaryURL, linkwatch.TargetCanary, st, c}
}

const (
	shopA     = "https://shop.example/a"
	shopB     = "https://shop.example/b"
	blog      = "https://blog.example/"
	canaryURL = "https://canary.example/"
)

var deps = map[string][]linkwatch.Affected{
	shopA: {{Page: "acme", Link: "a", URL: shopA}},
	shopB: {{Page: "acme", Link: "b", URL: shopB}, {Page: "ada", Link: "shop", URL: shopB}},
	blog:  {{Page: "ada", Link: "blog", URL: blog}},
	// The hub's self-checks, as serve's dependency view has them.
	"self:/ada/blog": {{Page: "ada", Link: "blog", URL: blog}},
	"self:/ada/shop": {{Page: "ada", Link: "shop", URL: shopB}},
}

// harness feeds results to an engine over a real database, one simulated
// 10 s interval per call to feed.
type harness struct {
	t   *testing.T
	db  *sqlite.DB
	eng *incidents.Engine
	cfg incidents.Config
	now time.Time
	// deps is the dependency view the engine starts with (the package's
	// deps when nil).
	deps map[string][]linkwatch.Affected
}

// newHarness starts an engine over a fresh database. Updates go out one by
// one unless cfg sets a GroupInterval (grouping has tests of its own).
func newHarness(t *testing.T, cfg incidents.Config) *harness {
	t.Helper()
	h := &harness{t: t, db: sqlitetest.MustOpen(t), cfg: cfg, now: t0}
	h.db.SetClock(func() time.Time { return h.now })
	h.restart()
	return h
}

// restart builds a new engine over the same database, as a process restart does.
func (h *harness) restart() {
	h.t.Helper()
	d := h.deps
	if d == nil {
		d = deps
	}
	cfg := h.cfg
	cfg.Now = func() time.Time { return h.now }
	eng, err := incidents.NewEngine(context.Background(), cfg, h.db, d, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		h.t.Fatal(err)
	}
	h.eng = eng
}

func (h *harness) feed(steps ...step) {
	h.t.Helper()
	for _, s := range steps {
		r := s.result(h.now)
		if s.kind == linkwatch.TargetSelfCheck {
			r.URL = "http://hub.test" + s.target
		}
		if err := h.eng.Handle(context.Background(), r); err != nil {
			h.t.Fatalf("Handle(%+v): %v", s, err)
		}
	}
	h.now = h.now.Add(10 * time.Second)
}

func (h *harness) incidents() []linkwatch.Incident {
	h.t.Helper()
	list, err := h.db.ListIncidents(context.Background(), linkwatch.IncidentQuery{Limit: 100})
	if err != nil {
		h.t.Fatal(err)
	}
	return list
}

// alerts returns the incident alerts in the outbox: a maintenance
// window's own (maintenance.scheduled, for its subscribers) are not the
// engine's.
func (h *harness) alerts() []linkwatch.Alert {
	h.t.Helper()
	a, err := h.db.Outbox(context.Background(), 1000)
	if err != nil {
		h.t.Fatal(err)
	}
	return slices.DeleteFunc(a, func(a linkwatch.Alert) bool { return a.Type.IsMaintenance() })
}

func alertTypes(as []linkwatch.Alert) []string {
	var out []string
	for _, a := range as {
		s := string(a.Type)
		if a.Reason != "" {
			s += "/" + a.Reason
		}
		out = append(out, s)
	}
	return out
}

func TestThresholds(t *testing.T) {
	t.Parallel()
	h := newHarness(t, incidents.Config{})
	h.feed(down(shopA, linkwatch.CauseHTTP5xx))
	if n := len(h.incidents()); n != 0 {
		t.Fatalf("one failure opened %d incidents; the threshold is 2", n)
	}
	h.feed(down(shopA, linkwatch.CauseHTTP5xx))
	list := h.incidents()
	if len(list) != 1 || !list[0].Open() || list[0].Cause != linkwatch.CauseHTTP5xx || list[0].Impact != linkwatch.ImpactMajor {
		t.Fatalf("after two failures: %+v", list)
	}
	if !list[0].StartedAt.Equal(t0) {
		t.Errorf("started_at = %v, want the first failure %v", list[0].StartedAt, t0)
	}
	if got := list[0].Affected; len(got) != 1 || got[0].Page != "acme" {
		t.Errorf("affected = %+v", got)
	}
	h.feed(up(shopA))
	if !h.incidents()[0].Open() {
		t.Fatal("resolved after one success; the threshold is 2")
	}
	h.feed(up(shopA))
	inc := h.incidents()[0]
	if inc.Open() || inc.Status != linkwatch.StatusResolved {
		t.Fatalf("not resolved after two successes: %+v", inc)
	}
	if got := alertTypes(h.alerts()); len(got) != 2 || got[0] != "incident.opened" || got[1] != "incident.resolved" {
		t.Errorf("alerts = %v", got)
	}
	ev, _ := h.db.IncidentEvidence(context.Background(), inc.ID)
	if len(ev) != 2 {
		t.Errorf("%d evidence results kept, want the 2 failures", len(ev))
	}
}

func TestDegradedIsMinor(t *testing.T) {
	t.Parallel()
	h := newHarness(t, incidents.Config{})
	h.feed(degraded(blog, linkwatch.CauseRateLimited))
	h.feed(degraded(blog, linkwatch.CauseRateLimited))
	list := h.incidents()
	if len(list) != 1 || list[0].Impact != linkwatch.ImpactMinor || list[0].Cause != linkwatch.CauseRateLimited {
		t.Fatalf("incidents = %+v", list)
	}
	// Worse now: the cause changes and the impact grows.
	h.feed(down(blog, linkwatch.CauseHTTP5xx))
	inc := h.incidents()[0]
	if inc.Cause != linkwatch.CauseHTTP5xx || inc.Impact != linkwatch.ImpactMajor {
		t.Errorf("after a cause change: %+v", inc)
	}
	if got := alertTypes(h.alerts()); len(got) != 2 || got[1] != "incident.updated/cause_changed" {
		t.Errorf("alerts = %v", got)
	}
}

func TestHostGrouping(t *testing.T) {
	t.Parallel()
	h := newHarness(t, incidents.Config{})
	h.feed(down(shopA, linkwatch.CauseConnectRefused), down(shopB, linkwatch.CauseConnectRefused), down(blog, linkwatch.CauseDNS))
	h.feed(down(shopA, linkwatch.CauseConnectRefused), down(shopB, linkwatch.CauseConnectRefused), down(blog, linkwatch.CauseDNS))
	list := h.incidents()
	if len(list) != 2 {
		t.Fatalf("%d incidents, want one for shop.example and one for the blog: %+v", len(list), list)
	}
	var host linkwatch.Incident
	for _, inc := range list {
		if inc.Kind == linkwatch.KindHost {
			host = inc
		}
	}
	if host.Host != "shop.example" || len(host.Targets) != 2 || len(host.Affected) != 3 {
		t.Errorf("host incident = %+v", host)
	}
	// One recovers: the host incident stays open until both do.
	h.feed(up(shopA), down(shopB, linkwatch.CauseConnectRefused))
	h.feed(up(shopA), down(shopB, linkwatch.CauseConnectRefused))
	if inc, _ := h.db.Incident(context.Background(), host.ID); !inc.Open() {
		t.Fatal("host incident resolved while shop.example/b still fails")
	}
	h.feed(up(shopB))
	h.feed(up(shopB))
	if inc, _ := h.db.Incident(context.Background(), host.ID); inc.Open() {
		t.Fatal("host incident still open after every target recovered")
	}
}

// TestTargetFailingAgainInItsHostIncident: a destination that recovers
// while another keeps its host's incident open, and fails again, is back
// in the incident once (one alert says so), and when it is the last to
// recover it resolves the incident. Listed twice, it was counted twice
// and never the last: the incident stayed open for good. An incident
// stored with a target twice (before the fix) resolves too.
func TestTargetFailingAgainInItsHostIncident(t *testing.T) {
	t.Parallel()
	h := newHarness(t, incidents.Config{})
	for range 2 {
		h.feed(down(shopA, linkwatch.CauseHTTP5xx), down(shopB, linkwatch.CauseHTTP5xx))
	}
	for range 2 {
		h.feed(up(shopA), down(shopB, linkwatch.CauseHTTP5xx))
	}
	for range 2 {
		h.feed(down(shopA, linkwatch.CauseHTTP5xx), down(shopB, linkwatch.CauseHTTP5xx))
	}
	list := h.incidents()
	if len(list) != 1 || !list[0].Open() || !slices.Equal(list[0].Targets, []string{shopA, shopB}) {
		t.Fatalf("incidents once shopA fails again = %+v, want the host's, open, with shopA and shopB once each", list)
	}
	if got := h.events(linkwatch.EventTargetAdded); !slices.Equal(got, []string{shopB + " is failing too: http_5xx at " + shopB, shopA + " is failing again: http_5xx at " + shopA}) {
		t.Errorf("target_added events = %q", got)
	}
	// shopB recovers first; shopA, the last, resolves it.
	h.feed(up(shopB), up(shopA))
	h.feed(up(shopB), up(shopA))
	if list := h.incidents(); list[0].Open() {
		t.Fatalf("still open once both answer: %+v", list[0])
	}
	want := "incident.opened incident.updated/target_added incident.updated/target_added incident.resolved"
	if got := strings.Join(alertTypes(h.alerts()), " "); got != want {
		t.Errorf("alerts = %s, want %s", got, want)
	}

	// An incident stored with shopA twice, restored at a restart.
	h = newHarness(t, incidents.Config{})
	inc := linkwatch.Incident{Key: linkwatch.HostKey("shop.example", string(linkwatch.CauseHTTP5xx)), Kind: linkwatch.KindHost, Host: "shop.example",
		Cause: linkwatch.CauseHTTP5xx, Title: "shop.example: 3 destinations failing (http_5xx)", Status: linkwatch.StatusInvestigating, Impact: linkwatch.ImpactMajor,
		Targets: []string{shopA, shopB, shopA}, StartedAt: h.now, UpdatedAt: h.now}
	if _, err := h.db.Record(context.Background(), incidents.Change{Incident: inc, Alert: &linkwatch.Alert{Type: linkwatch.AlertOpened}}); err != nil {
		t.Fatal(err)
	}
	h.restart()
	h.feed(up(shopB), up(shopA))
	h.feed(up(shopB), up(shopA))
	if list := h.incidents(); len(list) != 1 || list[0].Open() {
		t.Fatalf("an incident stored with shopA twice, once both answer: %+v, want it resolved", list)
	}
}

func TestProberOfflineHoldsDestinationIncidents(t *testing.T) {
	t.Parallel()
	h := newHarness(t, incidents.Config{CanaryID: canaryURL})
	for range 3 {
		h.feed(canary(linkwatch.StatusDown), down(shopA, linkwatch.CauseConnectTimeout), down(shopB, linkwatch.CauseConnectTimeout), down(blog, linkwatch.CauseConnectTimeout))
	}
	list := h.incidents()
	if len(list) != 1 || list[0].Kind != linkwatch.KindProberOffline || list[0].Cause != linkwatch.CauseProberOffline {
		t.Fatalf("incidents = %+v, want one prober_offline", list)
	}
	// Its summary is linkwatch's, shown in public: it never speaks as a person.
	if s := list[0].Summary; !strings.HasSuffix(s, "linkwatch's own network, not the destinations'") || regexp.MustCompile(`(?i)\b(we|our|us)\b`).MatchString(s) {
		t.Errorf("summary = %q", s)
	}
	// The network comes back; one destination really is down.
	h.feed(canary(linkwatch.StatusUp), up(shopA), up(shopB), down(blog, linkwatch.CauseHTTP5xx))
	h.feed(canary(linkwatch.StatusUp), up(shopA), up(shopB), down(blog, linkwatch.CauseHTTP5xx))
	list = h.incidents()
	if len(list) != 2 || list[1].Open() || !list[0].Open() || list[0].Key != "dest:"+blog {
		t.Fatalf("after recovery: %+v", list)
	}
}

// flapCycle is the blog failing past its threshold, then recovering.
func flapCycle(h *harness) {
	h.feed(down(blog, linkwatch.CauseHTTP5xx))
	h.feed(down(blog, linkwatch.CauseHTTP5xx))
	h.feed(up(blog))
	h.feed(up(blog))
}

func TestFlapping(t *testing.T) {
	t.Parallel()
	h := newHarness(t, incidents.Config{FlapCount: 3, FlapStable: 6})
	cycle := func() { flapCycle(h) }
	cycle()
	cycle()
	if n := len(h.incidents()); n != 2 {
		t.Fatalf("%d incidents after two flaps, want 2", n)
	}
	cycle() // the third recovery within the window: flapping, stays open
	list := h.incidents()
	if len(list) != 3 || !list[0].Open() || !list[0].Flapping {
		t.Fatalf("third flap: %+v", list[0])
	}
	cycle() // fails again, then 2 successes: still the same incident
	if n := len(h.incidents()); n != 3 {
		t.Fatalf("%d incidents while flapping, want still 3", n)
	}
	for range 3 {
		h.feed(up(blog))
	}
	if !h.incidents()[0].Open() {
		t.Fatal("flapping incident resolved before it was stable")
	}
	h.feed(up(blog))
	if h.incidents()[0].Open() {
		t.Fatal("flapping incident still open after 6 consecutive successes")
	}
}

func TestMaintenanceSuppressesAlerts(t *testing.T) {
	t.Parallel()
	h := newHarness(t, incidents.Config{})
	if _, err := h.db.CreateMaintenance(context.Background(), linkwatch.Maintenance{
		Title: "shop migration", Component: "page:acme", StartsAt: t0, EndsAt: t0.Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	h.feed(down(shopA, linkwatch.CauseHTTP5xx), down(blog, linkwatch.CauseHTTP5xx))
	h.feed(down(shopA, linkwatch.CauseHTTP5xx), down(blog, linkwatch.CauseHTTP5xx))
	h.feed(up(shopA))
	h.feed(up(shopA))
	var suppressed, alerted int
	for _, inc := range h.incidents() {
		if inc.AlertsSuppressed {
			suppressed++
		} else {
			alerted++
		}
	}
	if suppressed != 1 || alerted != 1 {
		t.Errorf("%d suppressed, %d alerted; want the acme link suppressed and the blog alerted", suppressed, alerted)
	}
	for _, a := range h.alerts() {
		if a.Incident.Key == "dest:"+shopA {
			t.Errorf("alert %s went out for an incident inside maintenance", a.Type)
		}
	}
}

func TestRestartContinuesOpenIncident(t *testing.T) {
	t.Parallel()
	h := newHarness(t, incidents.Config{})
	h.feed(down(blog, linkwatch.CauseDNS))
	h.feed(down(blog, linkwatch.CauseDNS))
	h.restart()
	h.feed(down(blog, linkwatch.CauseDNS))
	h.feed(down(blog, linkwatch.CauseDNS))
	if list := h.incidents(); len(list) != 1 {
		t.Fatalf("%d incidents after restart, want the same one: %+v", len(list), list)
	}
	h.feed(up(blog))
	h.feed(up(blog))
	list := h.incidents()
	if len(list) != 1 || list[0].Open() {
		t.Fatalf("after recovery: %+v", list)
	}
}

func TestHubSelfCheckIsItsOwnIncident(t *testing.T) {
	t.Parallel()
	h := newHarness(t, incidents.Config{})
	h.feed(self("self:/ada/blog", linkwatch.StatusDown, linkwatch.CauseHubRedirectWrong), down(blog, linkwatch.CauseHTTP5xx))
	h.feed(self("self:/ada/blog", linkwatch.StatusDown, linkwatch.CauseHubRedirectWrong), down(blog, linkwatch.CauseHTTP5xx))
	h.feed(self("self:/ada/shop", linkwatch.StatusDown, linkwatch.CauseHubRedirectWrong))
	h.feed(self("self:/ada/shop", linkwatch.StatusDown, linkwatch.CauseHubRedirectWrong))
	var hub []linkwatch.Incident
	for _, inc := range h.incidents() {
		if inc.Kind == linkwatch.KindHub {
			hub = append(hub, inc)
		}
	}
	if len(hub) != 1 || hub[0].Impact != linkwatch.ImpactCritical || len(hub[0].Targets) != 2 {
		t.Fatalf("hub incidents = %+v", hub)
	}
}

// Flapping history is kept in the database: two recoveries, a restart,
// and the third recovery within the hour still makes the target flapping.
func TestFlappingSurvivesRestart(t *testing.T) {
	t.Parallel()
	h := newHarness(t, incidents.Config{FlapCount: 3, FlapStable: 6})
	cycle := func() { flapCycle(h) }
	cycle()
	cycle()
	h.restart()
	cycle()
	if list := h.incidents(); len(list) != 3 || !list[0].Open() || !list[0].Flapping {
		t.Fatalf("third flap after a restart: %d incidents, newest %+v; want it open and flapping", len(list), list[0])
	}
}
