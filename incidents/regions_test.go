package incidents_test

import (
	"context"
	"io"
	"log/slog"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"linkwatch"
	"linkwatch/incidents"
	"linkwatch/storage"
	"linkwatch/storage/postgres/pgtest"
	"linkwatch/storage/sqlite/sqlitetest"
)

// regions runs one engine per region over one shared database, as
// replicas in several regions share one PostgreSQL, on one clock.
type regions struct {
	t       *testing.T
	db      *storage.DB
	engines map[string]*incidents.Engine
	now     time.Time
}

// newRegions runs the regions named over SQLite.
func newRegions(t *testing.T, names ...string) *regions {
	t.Helper()
	return newRegionsOn(t, sqlitetest.MustOpen(t).DB, names...)
}

// onBothStores runs test over SQLite and over PostgreSQL (skipped
// without it, failed under CI=true), each a subtest with a fresh
// database: open returns it; pg says which.
func onBothStores(t *testing.T, test func(t *testing.T, open func(*testing.T) *storage.DB, pg bool)) {
	t.Run("sqlite", func(t *testing.T) {
		test(t, func(t *testing.T) *storage.DB { return sqlitetest.MustOpen(t).DB }, false)
	})
	t.Run("postgres", func(t *testing.T) { test(t, func(t *testing.T) *storage.DB { return pgtest.MustOpen(t).DB }, true) })
}

// newRegionsOn runs the regions named over db.
func newRegionsOn(t *testing.T, db *storage.DB, names ...string) *regions {
	t.Helper()
	h := &regions{t: t, db: db, engines: map[string]*incidents.Engine{}, now: t0}
	h.db.SetClock(func() time.Time { return h.now })
	for _, name := range names {
		h.start(name, h.db)
	}
	return h
}

// start builds region name's engine over store.
func (h *regions) start(name string, store incidents.Store) {
	h.t.Helper()
	cfg := incidents.Config{Region: name, CanaryID: canaryURL, Interval: 10 * time.Second}
	eng, err := incidents.NewEngine(context.Background(), cfg, store, deps, slog.New(slog.NewTextHandler(io.Discard, nil)).With("region", name))
	if err != nil {
		h.t.Fatal(err)
	}
	incidents.SetClock(eng, func() time.Time { return h.now })
	h.engines[name] = eng
}

// feed hands steps to one region's engine, at the current time.
func (h *regions) feed(region string, steps ...step) {
	h.t.Helper()
	for _, s := range steps {
		r := s.result(h.now)
		if err := h.engines[region].Handle(context.Background(), r); err != nil {
			h.t.Fatalf("region %s: Handle(%+v): %v", region, s, err)
		}
	}
}

// round is one interval: each region in turn checks its canary, then
// shopA (down in the regions listed, up in the others).
func (h *regions) round(failingIn ...string) {
	h.t.Helper()
	for _, name := range sortedKeys(h.engines) {
		st := up(shopA)
		for _, f := range failingIn {
			if f == name {
				st = down(shopA, linkwatch.CauseConnectRefused)
			}
		}
		h.feed(name, canary(linkwatch.StatusUp), st)
	}
	h.tick()
}

func (h *regions) tick() { h.now = h.now.Add(10 * time.Second) }

func sortedKeys(m map[string]*incidents.Engine) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	for i := range out {
		for j := i + 1; j < len(out); j++ {
			if out[j] < out[i] {
				out[i], out[j] = out[j], out[i]
			}
		}
	}
	return out
}

// byKind returns the incidents of one kind, newest first.
func (h *regions) byKind(kind linkwatch.IncidentKind) []linkwatch.Incident {
	h.t.Helper()
	list, err := h.db.ListIncidents(context.Background(), linkwatch.IncidentQuery{Limit: 100})
	if err != nil {
		h.t.Fatal(err)
	}
	var out []linkwatch.Incident
	for _, inc := range list {
		if inc.Kind == kind {
			out = append(out, inc)
		}
	}
	return out
}

// pages returns the alerts in the outbox about destinations: what would
// page someone on Slack, Sentry or a webhook.
func (h *regions) pages() []linkwatch.Alert {
	h.t.Helper()
	all, err := h.db.Outbox(context.Background(), 1000)
	if err != nil {
		h.t.Fatal(err)
	}
	var out []linkwatch.Alert
	for _, a := range all {
		if a.Incident.Kind != linkwatch.KindCanary && a.Incident.Kind != linkwatch.KindProberOffline {
			out = append(out, a)
		}
	}
	return out
}

func (h *regions) events(id int64) string {
	h.t.Helper()
	ev, err := h.db.IncidentEvents(context.Background(), id)
	if err != nil {
		h.t.Fatal(err)
	}
	var lines []string
	for _, e := range ev {
		lines = append(lines, string(e.Kind)+": "+e.Body)
	}
	return strings.Join(lines, "\n")
}

// TestMinorityFailureIsANoteNotAPage: only region a sees shopA fail. No
// page; a regional note, degraded, naming a; it resolves when a sees the
// destination again.
func TestMinorityFailureIsANoteNotAPage(t *testing.T) {
	t.Parallel()
	h := newRegions(t, "a", "b")
	for range 5 {
		h.round("a")
	}
	if got := h.pages(); len(got) != 0 {
		t.Fatalf("a failure seen from one region of two paged: %+v", alertTypes(got))
	}
	if real := append(h.byKind(linkwatch.KindDestination), h.byKind(linkwatch.KindHost)...); len(real) != 0 {
		t.Fatalf("a minority failure opened an incident: %+v", real)
	}
	notes := h.byKind(linkwatch.KindRegional)
	if len(notes) != 1 {
		t.Fatalf("regional notes = %+v, want one", notes)
	}
	n := notes[0]
	if !n.Open() || n.Impact != linkwatch.ImpactMinor || n.Title != "acme/a is unreachable from a" ||
		!strings.Contains(n.Summary, "b sees it up") || n.Cause != linkwatch.CauseConnectRefused || !n.StartedAt.Equal(t0) {
		t.Errorf("note = %+v", n)
	}
	// Memory holds no incident for it: links are not diverted, and the
	// hub keeps sending visitors to a destination most regions reach.
	if open := incidents.OpenInMemory(h.engines["a"]); len(open) != 0 {
		t.Errorf("region a's engine holds %+v", open)
	}
	h.round()
	h.round()
	if n := h.byKind(linkwatch.KindRegional); len(n) != 1 || n[0].Open() {
		t.Fatalf("note after a sees it up again: %+v", n)
	}
	if got := h.pages(); len(got) != 0 {
		t.Errorf("the note's resolution paged: %+v", alertTypes(got))
	}
}

// TestMajorityOpensOneIncident: both regions see shopA fail. Exactly one
// incident, one opening alert, naming both regions; a's brief note (it
// crossed first, when b had not yet) gives way to it. It resolves when
// the majority is lost.
func TestMajorityOpensOneIncident(t *testing.T) {
	t.Parallel()
	h := newRegions(t, "a", "b")
	for range 4 {
		h.round("a", "b")
	}
	real := h.byKind(linkwatch.KindDestination)
	if len(real) != 1 || !real[0].Open() {
		t.Fatalf("incidents = %+v, want one open", real)
	}
	if !strings.Contains(real[0].Summary, "failing from a and b") {
		t.Errorf("summary %q does not name the regions", real[0].Summary)
	}
	if got := alertTypes(h.pages()); len(got) != 1 || got[0] != "incident.opened" {
		t.Fatalf("alerts = %v, want one incident.opened", got)
	}
	if a := h.pages()[0]; !strings.Contains(a.Incident.Summary, "failing from a and b") {
		t.Errorf("the alert's summary %q does not name the regions", a.Incident.Summary)
	}
	notes := h.byKind(linkwatch.KindRegional)
	if len(notes) != 1 || notes[0].Open() {
		t.Fatalf("notes = %+v, want a's one, resolved", notes)
	}
	if ev := h.events(real[0].ID); !strings.Contains(ev, "regional note #") {
		t.Errorf("the incident's timeline does not tell of the note:\n%s", ev)
	}
	// Both engines hold it (b opened it, a joined at its next tick).
	for _, name := range []string{"a", "b"} {
		if open := incidents.OpenInMemory(h.engines[name]); len(open) != 1 {
			t.Errorf("region %s holds %d incidents", name, len(open))
		}
	}
	// a sees it up: 1 of 2 is no majority, so the incident resolves. b's
	// remaining failure began before the end: it counts again, as a note,
	// once b has failed failure_threshold fresh checks after it, and the
	// note begins then, not inside the incident.
	h.round("b")
	h.round("b")
	real = h.byKind(linkwatch.KindDestination)
	if real[0].Open() {
		t.Fatalf("still open with one region of two failing: %+v", real[0])
	}
	if got := alertTypes(h.pages()); len(got) != 2 || got[1] != "incident.resolved" {
		t.Fatalf("alerts = %v", got)
	}
	if notes := h.byKind(linkwatch.KindRegional); len(notes) != 1 {
		t.Fatalf("notes = %+v, want none new at the resolution", notes)
	}
	h.round("b")
	notes = h.byKind(linkwatch.KindRegional)
	if len(notes) != 2 || !notes[0].Open() || notes[0].Title != "acme/a is unreachable from b" || notes[0].StartedAt.Before(real[0].ResolvedAt) {
		t.Fatalf("notes = %+v, want b's open, from after the incident's end %v", notes, real[0].ResolvedAt)
	}
	h.round()
	h.round()
	if notes := h.byKind(linkwatch.KindRegional); notes[0].Open() {
		t.Errorf("b's note still open: %+v", notes[0])
	}
	if got := alertTypes(h.pages()); len(got) != 2 {
		t.Errorf("alerts = %v, want no more", got)
	}
	for _, name := range []string{"a", "b"} {
		if open := incidents.OpenInMemory(h.engines[name]); len(open) != 0 {
			t.Errorf("region %s still holds %+v", name, open)
		}
	}
}

// TestThreeRegions: two of three is a majority, and the incident names the
// region that sees the destination up.
func TestThreeRegions(t *testing.T) {
	t.Parallel()
	h := newRegions(t, "eu-west", "us-east", "us-west")
	for range 4 {
		h.round("eu-west", "us-east")
	}
	real := h.byKind(linkwatch.KindDestination)
	if len(real) != 1 || !strings.Contains(real[0].Summary, "failing from eu-west and us-east; us-west sees it up") {
		t.Fatalf("incidents = %+v", real)
	}
	if got := alertTypes(h.pages()); len(got) != 1 {
		t.Fatalf("alerts = %v", got)
	}
	// us-west sees it too, then recovers: the summary follows the vote.
	h.round("eu-west", "us-east", "us-west")
	h.round("eu-west", "us-east", "us-west")
	if real := h.byKind(linkwatch.KindDestination); !strings.HasSuffix(real[0].Summary, "; failing from eu-west, us-east and us-west") {
		t.Errorf("summary %q, want all three regions", real[0].Summary)
	}
	h.round("eu-west", "us-east")
	h.round("eu-west", "us-east")
	if real := h.byKind(linkwatch.KindDestination); !real[0].Open() || !strings.HasSuffix(real[0].Summary, "; failing from eu-west and us-east; us-west sees it up") {
		t.Errorf("after us-west recovered: %+v", real[0])
	}
	// eu-west recovers: us-east alone is 1 of 3, the incident resolves;
	// us-east's note follows its fresh failures after the end.
	h.round("us-east")
	h.round("us-east")
	if real := h.byKind(linkwatch.KindDestination); real[0].Open() {
		t.Errorf("open with 1 of 3 failing: %+v", real[0])
	}
	h.round("us-east")
	if notes := h.byKind(linkwatch.KindRegional); len(notes) == 0 || !notes[0].Open() || notes[0].Title != "acme/a is unreachable from us-east" {
		t.Errorf("notes = %+v", notes)
	}
}

// TestFailedCanaryDropsARegionOut: b's canary fails, so b cannot prove
// its network and drops out of the vote; a, the only voting region, sees
// shopA fail, and that is a majority.
func TestFailedCanaryDropsARegionOut(t *testing.T) {
	t.Parallel()
	h := newRegions(t, "a", "b")
	for range 4 {
		h.feed("a", canary(linkwatch.StatusUp), down(shopA, linkwatch.CauseConnectRefused))
		h.feed("b", canary(linkwatch.StatusDown), up(shopA))
		h.tick()
	}
	real := h.byKind(linkwatch.KindDestination)
	if len(real) != 1 || !real[0].Open() || !strings.Contains(real[0].Summary, "failing from a") || strings.Contains(real[0].Summary, "b sees") {
		t.Fatalf("incidents = %+v", real)
	}
	if got := alertTypes(h.pages()); len(got) != 1 || got[0] != "incident.opened" {
		t.Errorf("alerts = %v", got)
	}
	// b's canary answers again: b votes again, sees shopA up, and 1 of 2
	// is no majority any more once a's vote is taken again (a recovers).
	for range 2 {
		h.feed("a", canary(linkwatch.StatusUp), up(shopA))
		h.feed("b", canary(linkwatch.StatusUp), up(shopA))
		h.tick()
	}
	if real := h.byKind(linkwatch.KindDestination); real[0].Open() {
		t.Errorf("not resolved: %+v", real[0])
	}
}

// TestLateVerdict: a sees the failure first (a note), b's verdict arrives
// three intervals later: then the majority opens the incident, and the
// note resolves into it.
func TestLateVerdict(t *testing.T) {
	t.Parallel()
	h := newRegions(t, "a", "b")
	for range 3 {
		h.round("a")
	}
	if n := h.byKind(linkwatch.KindRegional); len(n) != 1 || !n[0].Open() {
		t.Fatalf("notes = %+v", n)
	}
	h.round("a", "b") // b's first failure
	if len(h.pages()) != 0 {
		t.Fatal("paged on b's first failure (below its threshold)")
	}
	h.round("a", "b")
	if real := h.byKind(linkwatch.KindDestination); len(real) != 1 || !real[0].Open() {
		t.Fatalf("incidents = %+v", real)
	}
	if n := h.byKind(linkwatch.KindRegional); len(n) != 1 || n[0].Open() || !strings.Contains(h.events(n[0].ID), "majority") {
		t.Errorf("note = %+v\n%s", n, h.events(n[0].ID))
	}
	if got := alertTypes(h.pages()); len(got) != 1 {
		t.Errorf("alerts = %v", got)
	}
}

// staleOpen is a store whose next OpenIncidents read answers from before
// another engine's write: the unlucky order where two regions' engines
// both see the majority and both decide to open.
type staleOpen struct {
	*storage.DB
	armed atomic.Bool
}

func (s *staleOpen) OpenIncidents(ctx context.Context) ([]linkwatch.Incident, error) {
	if s.armed.Swap(false) {
		return nil, nil
	}
	return s.DB.OpenIncidents(ctx)
}

// TestBothRegionsDecideAtOnce: b's vote is read just after a decided and
// opened, from a read of the open incidents taken before a's insert. The
// one-open-incident-per-key rule refuses b's; b joins a's. One incident,
// one alert.
func TestBothRegionsDecideAtOnce(t *testing.T) {
	t.Parallel()
	h := newRegions(t, "a", "b")
	stale := &staleOpen{DB: h.db}
	h.start("b", stale)
	h.round("a", "b")
	// b crosses first this time, when a has not: a note. Then a crosses
	// and opens the incident; b's next decision reads stale.
	h.feed("b", canary(linkwatch.StatusUp), down(shopA, linkwatch.CauseConnectRefused))
	h.feed("a", canary(linkwatch.StatusUp), down(shopA, linkwatch.CauseConnectRefused))
	if real := h.byKind(linkwatch.KindDestination); len(real) != 1 {
		t.Fatalf("incidents = %+v", real)
	}
	h.tick()
	stale.armed.Store(true)
	h.feed("b", canary(linkwatch.StatusUp), down(shopA, linkwatch.CauseConnectRefused)) // b's tick: revote, stale read, refused insert, join
	if stale.armed.Load() {
		t.Fatal("b did not read the open incidents")
	}
	if real := h.byKind(linkwatch.KindDestination); len(real) != 1 {
		t.Fatalf("incidents = %+v, want one", real)
	}
	if got := alertTypes(h.pages()); len(got) != 1 {
		t.Fatalf("alerts = %v, want one", got)
	}
	if open := incidents.OpenInMemory(h.engines["b"]); len(open) != 1 {
		t.Errorf("b holds %+v, want the incident a opened", open)
	}
}

// TestResolvedByAnotherRegion: b holds an incident that a resolved (its
// recovery ended the majority). b's own recovery then writes nothing to
// it: no second resolution, no second alert.
func TestResolvedByAnotherRegion(t *testing.T) {
	t.Parallel()
	h := newRegions(t, "a", "b")
	for range 4 {
		h.round("a", "b")
	}
	h.round("b")
	h.round("b")
	h.round()
	h.round()
	if got := alertTypes(h.pages()); len(got) != 2 || got[0] != "incident.opened" || got[1] != "incident.resolved" {
		t.Fatalf("alerts = %v, want one opening and one resolution", got)
	}
	if real := h.byKind(linkwatch.KindDestination); len(real) != 1 || real[0].Open() {
		t.Fatalf("incidents = %+v", real)
	}
}

// TestSilentRegionDropsOut: only b sees shopA fail (a note), then b's
// replica dies: its canary row and its failing verdict go stale, and a's
// vote resolves the note within a few intervals.
func TestSilentRegionDropsOut(t *testing.T) {
	t.Parallel()
	h := newRegions(t, "a", "b")
	for range 3 {
		h.round("b")
	}
	if n := h.byKind(linkwatch.KindRegional); len(n) != 1 || !n[0].Open() || n[0].Title != "acme/a is unreachable from b" {
		t.Fatalf("notes = %+v", n)
	}
	delete(h.engines, "b")
	h.round()
	h.round()
	if n := h.byKind(linkwatch.KindRegional); !n[0].Open() {
		t.Fatal("b's note resolved while b's verdict is still fresh")
	}
	for range 3 {
		h.round()
	}
	if n := h.byKind(linkwatch.KindRegional); n[0].Open() {
		t.Errorf("b's note still open %s after b went silent", h.now.Sub(t0))
	}
	if got := h.pages(); len(got) != 0 {
		t.Errorf("alerts = %v", alertTypes(got))
	}
}

// TestRegionRestart: a's engine restarts during a two-region incident. It
// rebuilds from the database: no second incident, no second alert, and
// the incident resolves once when the destination is back.
func TestRegionRestart(t *testing.T) {
	t.Parallel()
	h := newRegions(t, "a", "b")
	for range 4 {
		h.round("a", "b")
	}
	h.start("a", h.db)
	for range 3 {
		h.round("a", "b")
	}
	if real := h.byKind(linkwatch.KindDestination); len(real) != 1 || !real[0].Open() {
		t.Fatalf("incidents = %+v", real)
	}
	// b recovers first: a alone is 1 of 2, the incident resolves.
	h.round("a")
	h.round("a")
	if real := h.byKind(linkwatch.KindDestination); real[0].Open() {
		t.Fatalf("not resolved: %+v", real[0])
	}
	// a's restarted engine recorded its failing verdict again: its note,
	// after a's fresh failures past the incident's end.
	h.round("a")
	h.round("a")
	if n := h.byKind(linkwatch.KindRegional); len(n) == 0 || !n[0].Open() || n[0].Title != "acme/a is unreachable from a" {
		t.Fatalf("notes = %+v", n)
	}
	h.round()
	h.round()
	if got := alertTypes(h.pages()); len(got) != 2 || got[0] != "incident.opened" || got[1] != "incident.resolved" {
		t.Errorf("alerts = %v", got)
	}
	if n := h.byKind(linkwatch.KindRegional); n[0].Open() {
		t.Errorf("a's note still open: %+v", n[0])
	}
}

// TestHostGroupingAcrossRegions: shopA and shopB (one host) fail in both
// regions, in an unlucky order: b opens shopA's incident after a's last
// vote, then a's majority on shopB comes while a holds nothing of b's.
// shopB joins b's incident: one host incident.
func TestHostGroupingAcrossRegions(t *testing.T) {
	t.Parallel()
	h := newRegions(t, "a", "b")
	refused := linkwatch.CauseConnectRefused
	for range 2 {
		h.feed("a", canary(linkwatch.StatusUp), down(shopA, refused))
		h.feed("b", canary(linkwatch.StatusUp), down(shopB, refused))
		h.tick()
	}
	h.feed("a", canary(linkwatch.StatusUp), down(shopA, refused), down(shopB, refused))
	h.feed("b", canary(linkwatch.StatusUp), down(shopB, refused), down(shopA, refused))
	h.tick()
	h.feed("a", canary(linkwatch.StatusUp)) // a's vote of this interval
	h.feed("b", canary(linkwatch.StatusUp), down(shopB, refused), down(shopA, refused))
	if real := h.byKind(linkwatch.KindDestination); len(real) != 1 || real[0].Targets[0] != shopA {
		t.Fatalf("after b's majority on shopA: %+v", real)
	}
	h.feed("a", down(shopA, refused), down(shopB, refused))
	real := append(h.byKind(linkwatch.KindDestination), h.byKind(linkwatch.KindHost)...)
	if len(real) != 1 || real[0].Kind != linkwatch.KindHost || len(real[0].Targets) != 2 {
		t.Fatalf("incidents = %+v, want one host incident of both", real)
	}
	if got := alertTypes(h.pages()); len(got) != 2 || got[0] != "incident.opened" || got[1] != "incident.updated/target_added" {
		t.Errorf("alerts = %v", got)
	}
}
