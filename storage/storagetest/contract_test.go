package storagetest_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"linkwatch"
	"linkwatch/hub"
	"linkwatch/incidents"
	"linkwatch/storage"
	"linkwatch/storage/postgres/pgtest"
	"linkwatch/storage/sqlite/sqlitetest"
)

// Open returns a fresh, empty database of the backend under test whose
// clock is now.
type Open func(tb testing.TB, now func() time.Time) storage.Store

// Clock is a settable clock for a database under test.
type Clock struct {
	mu sync.Mutex
	t  time.Time
}

// Now returns the clock's time.
func (c *Clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }

// Set moves the clock.
func (c *Clock) Set(t time.Time) { c.mu.Lock(); c.t = t; c.mu.Unlock() }

// t0 is a fixed time on a minute boundary, far from any day boundary.
var t0 = time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)

func TestMain(m *testing.M) { pgtest.Main(m) }

// TestContract runs the whole contract on SQLite and on PostgreSQL: the
// same suite, the same code (storage.DB) under it.
func TestContract(t *testing.T) {
	t.Run("sqlite", func(t *testing.T) {
		t.Parallel()
		run(t, func(tb testing.TB, now func() time.Time) storage.Store {
			db := sqlitetest.MustOpen(tb)
			db.SetClock(now)
			return db
		})
	})
	t.Run("postgres", func(t *testing.T) {
		t.Parallel()
		run(t, func(tb testing.TB, now func() time.Time) storage.Store {
			db := pgtest.MustOpen(tb)
			db.SetClock(now)
			return db
		})
	})
}

// run runs the whole contract against the backend.
func run(t *testing.T, open Open) {
	tests := []struct {
		name string
		fn   func(*testing.T, storage.Store, *Clock)
	}{
		{"ResultsSampledAndCounted", resultsSampledAndCounted},
		{"RecentChecksReadRuns", recentChecksReadRuns},
		{"RollUpAndDailyStats", rollUpAndDailyStats},
		{"PruneKeepsWhatRetentionSays", pruneKeepsWhatRetentionSays},
		{"RollupsGoAWholeDayAtATime", rollupsGoAWholeDayAtATime},
		{"SettledHours", settledHours},
		{"RecordWritesChangeEventsEvidenceAlertTogether", recordTogether},
		{"OneOpenIncidentPerKey", oneOpenIncidentPerKey},
		{"FailedRecordWritesNothing", failedRecordWritesNothing},
		{"AlertGroupsMergeAndKeepOrder", alertGroupsMergeAndKeepOrder},
		{"FanOutAndChannels", fanOutAndChannels},
		{"AdminChanges", adminChanges},
		{"Maintenance", maintenance},
		{"RecurringMaintenance", recurringMaintenance},
		{"ClicksAndFeedIDs", clicksAndFeedIDs},
		{"ClickCountsByHourAndDay", clickCounts},
		{"LatencyHistograms", latencyHistograms},
		{"LatencySeries", latencySeries},
		{"LatencyIsResponsesOnly", latencyIsResponsesOnly},
		{"UnknownSpansAreNotCounted", unknownSpansAreNotCounted},
		{"PublicAndInternalIncidents", publicAndInternalIncidents},
		{"Recoveries", recoveries},
		{"DeliveryQueue", deliveryQueue},
		{"OutboxBacklog", outboxBacklog},
		{"Members", members},
		{"ClaimDeliveries", claimDeliveries},
		{"FollowedIncidents", followedIncidents},
		{"StaleWriteConflicts", staleWriteConflicts},
		{"Subscriptions", subscriptions},
		{"PausedSubscriptionReplays", pausedSubscriptionReplays},
		{"VerificationRetries", verificationRetries},
		{"RegionsVote", regionsVote},
		{"OpenIncidentsOnHost", openIncidentsOnHost},
		{"FailureEnds", failureEnds},
		{"NoncesRefuseReplays", noncesRefuseReplays},
		{"ConsoleSessions", consoleSessions},
		{"AuditLog", auditLog},
		{"IncidentFilters", incidentFilters},
		{"EmailSubscribers", emailSubscribers},
		{"MaintenanceAlerts", maintenanceAlerts},
		{"MaintenanceCancelled", maintenanceCancelled},
		{"PostmortemAlerts", postmortemAlerts},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel() // each on a database and a clock of its own
			clk := &Clock{t: t0}
			tc.fn(t, open(t, clk.Now), clk)
		})
	}
}

func result(id string, start time.Time, latency time.Duration, status linkwatch.Status) linkwatch.Result {
	r := linkwatch.Result{TargetID: id, Kind: linkwatch.TargetDestination, URL: id, Start: start, Latency: latency, Status: status, StatusCode: 200}
	if status != linkwatch.StatusUp {
		r.StatusCode, r.Cause, r.Summary = 503, linkwatch.CauseHTTP5xx, "503 Service Unavailable at "+id
		r.Hops = []linkwatch.Hop{{URL: id, StatusCode: 503, Phases: linkwatch.Phases{Connect: time.Millisecond}}}
	}
	return r
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// resultsSampledAndCounted: every result counts in its minute rollup; raw
// results keep each change of status or cause and a sample every 10
// minutes, across batches; a failure keeps its detail.
func resultsSampledAndCounted(t *testing.T, db storage.Store, _ *Clock) {
	ctx := context.Background()
	var batch []linkwatch.Result
	for i := range 180 { // 30 minutes every 10 s, down during 10:12
		at := t0.Add(time.Duration(i) * 10 * time.Second)
		st := linkwatch.StatusUp
		if at.Minute() == 12 {
			st = linkwatch.StatusDown
		}
		batch = append(batch, result("https://a.test/", at, time.Duration(20+i%5)*time.Millisecond, st))
	}
	must(t, db.SaveResults(ctx, batch[:90]))
	must(t, db.SaveResults(ctx, batch[90:]))
	mins, err := db.Rollups(ctx, "https://a.test/", time.Minute, t0, t0.Add(time.Hour))
	must(t, err)
	var count, failures int64
	for _, m := range mins {
		count += m.Count
		failures += m.Failures
	}
	if len(mins) != 30 || count != 180 || failures != 6 {
		t.Errorf("minute rollups: %d rows, %d results, %d failures; want 30, 180, 6", len(mins), count, failures)
	}
	if q := mins[0].Quantile(0.5); q < 10*time.Millisecond || q > 50*time.Millisecond {
		t.Errorf("median latency of a minute = %s", q)
	}
	checks, err := db.RecentChecks(ctx, []string{"https://a.test/"}, time.Time{}, 1000)
	must(t, err)
	raw := checks["https://a.test/"]
	var down int
	for _, r := range raw {
		if r.Status == linkwatch.StatusDown {
			down++
			if len(r.Hops) != 1 || r.Hops[0].Phases.Connect != time.Millisecond {
				t.Errorf("a failure lost its detail: %+v", r)
			}
		} else if r.Hops != nil {
			t.Errorf("a success kept detail: %+v", r)
		}
	}
	// Every result of the first RunKept of a run (the first seen, the
	// change to down, the change back), then a sample every 10 minutes
	// after the last one kept: 39, not 180.
	var want []string
	run := func(from time.Time, n int) {
		for i := range n {
			want = append(want, from.Add(time.Duration(i)*10*time.Second).Format("15:04:05"))
		}
	}
	run(t0, storage.RunKept)
	run(t0.Add(12*time.Minute), 6)
	run(t0.Add(13*time.Minute), storage.RunKept)
	want = append(want, t0.Add(13*time.Minute+time.Duration(storage.RunKept-1)*10*time.Second+storage.RawSampleEvery).Format("15:04:05"))
	var got []string
	for _, r := range raw {
		got = append(got, r.Start.Format("15:04:05"))
	}
	if strings.Join(got, " ") != strings.Join(want, " ") || down != 6 {
		t.Errorf("kept raw results at %v (%d failures), want %v (6)", got, down, want)
	}
}

// recentChecksReadRuns: RecentChecks reads back each target's newest raw
// results since a time, up to a limit, oldest first, as the prober made
// them; only the targets asked.
func recentChecksReadRuns(t *testing.T, db storage.Store, _ *Clock) {
	ctx := context.Background()
	var batch []linkwatch.Result
	for i := range 8 {
		at := t0.Add(time.Duration(i) * 10 * time.Second)
		st := linkwatch.StatusUp
		if i >= 5 {
			st = linkwatch.StatusDown
		}
		batch = append(batch, result("https://a.test/", at, 30*time.Millisecond, st), result("https://b.test/", at, 20*time.Millisecond, linkwatch.StatusUp))
	}
	batch = append(batch, result("https://c.test/", t0, time.Millisecond, linkwatch.StatusDown))
	must(t, db.SaveResults(ctx, batch))
	got, err := db.RecentChecks(ctx, []string{"https://a.test/", "https://b.test/", "https://gone.test/"}, t0.Add(20*time.Second), 4)
	must(t, err)
	if len(got) != 2 || len(got["https://a.test/"]) != 4 || len(got["https://b.test/"]) != 4 {
		t.Fatalf("RecentChecks = %d targets (%d, %d checks), want a and b with 4 each", len(got), len(got["https://a.test/"]), len(got["https://b.test/"]))
	}
	a := got["https://a.test/"]
	var states []string
	for i, r := range a {
		if want := t0.Add(time.Duration(4+i) * 10 * time.Second); !r.Start.Equal(want) {
			t.Errorf("check %d started at %s, want %s (the newest 4, oldest first)", i, r.Start, want)
		}
		states = append(states, string(r.Status))
	}
	if strings.Join(states, " ") != "up down down down" {
		t.Errorf("a's checks = %v, want up down down down", states)
	}
	if up := a[0]; up.TargetID != "https://a.test/" || up.Kind != linkwatch.TargetDestination || up.URL != "https://a.test/" || up.StatusCode != 200 || up.Latency != 30*time.Millisecond {
		t.Errorf("a success read back as %+v", up)
	}
	if down := a[3]; down.Cause != linkwatch.CauseHTTP5xx || down.StatusCode != 503 || len(down.Hops) != 1 || down.Summary == "" {
		t.Errorf("a failure read back as %+v, want it whole (cause, hops)", down)
	}
	if got, err := db.RecentChecks(ctx, []string{"https://c.test/"}, t0.Add(time.Second), 4); err != nil || len(got) != 0 {
		t.Errorf("checks before since: %v, %v; want none", got, err)
	}
	if got, err := db.RecentChecks(ctx, nil, t0, 4); err != nil || len(got) != 0 {
		t.Errorf("no targets: %v, %v; want none", got, err)
	}
}

func rollUpAndDailyStats(t *testing.T, db storage.Store, clk *Clock) {
	ctx := context.Background()
	var batch []linkwatch.Result
	for i := range 2 * 60 { // two hours, one a minute
		at := t0.Add(time.Duration(i) * time.Minute)
		st := linkwatch.StatusUp
		if i == 70 {
			st = linkwatch.StatusDegraded
		}
		batch = append(batch, result("https://b.test/", at, 30*time.Millisecond, st))
	}
	must(t, db.SaveResults(ctx, batch))
	clk.Set(t0.Add(3 * time.Hour))
	must(t, db.RollUp(ctx))
	must(t, db.RollUp(ctx)) // idempotent
	hours, err := db.Rollups(ctx, "https://b.test/", time.Hour, t0, t0.Add(3*time.Hour))
	must(t, err)
	if len(hours) != 2 || hours[0].Count != 60 || hours[1].Count != 60 || hours[1].Degraded != 1 {
		t.Fatalf("hour rollups = %+v", hours)
	}
	days, err := db.DailyStats(ctx, t0.Truncate(24*time.Hour), clk.Now(), nil)
	must(t, err)
	var total, degraded int64
	for _, d := range days {
		if d.Target == "https://b.test/" {
			total += d.Count
			degraded += d.Degraded
		}
	}
	if total != 120 || degraded != 1 {
		t.Errorf("daily stats count %d results, %d degraded; want 120 and 1", total, degraded)
	}
}

func pruneKeepsWhatRetentionSays(t *testing.T, db storage.Store, clk *Clock) {
	ctx := context.Background()
	old := result("https://c.test/", t0, time.Millisecond, linkwatch.StatusDown)
	recent := result("https://c.test/", t0.Add(47*time.Hour), time.Millisecond, linkwatch.StatusDown)
	must(t, db.SaveResults(ctx, []linkwatch.Result{old, recent}))
	clk.Set(t0.Add(49 * time.Hour))
	if _, err := db.Prune(ctx, storage.Retention{Raw: 48 * time.Hour, Minute: 7 * 24 * time.Hour, Hour: 90 * 24 * time.Hour}); err != nil {
		t.Fatal(err)
	}
	checks, err := db.RecentChecks(ctx, []string{"https://c.test/"}, time.Time{}, 10)
	must(t, err)
	if raw := checks["https://c.test/"]; len(raw) != 1 || !raw[0].Start.Equal(recent.Start) {
		t.Errorf("after pruning raw results older than 48 h: %+v", checks)
	}
	mins, err := db.Rollups(ctx, "https://c.test/", time.Minute, t0.Add(-time.Hour), t0.Add(50*time.Hour))
	must(t, err)
	if len(mins) != 2 {
		t.Errorf("minute rollups kept 7 days: %d rows, want 2", len(mins))
	}
}

// rollupsGoAWholeDayAtATime: retention removes rollups a whole UTC day at
// a time, once the day is past the window (so PostgreSQL drops the day's
// partition): a rollup is kept at least as long as retention says and at
// most a day longer, and the days after are untouched.
func rollupsGoAWholeDayAtATime(t *testing.T, db storage.Store, clk *Clock) {
	ctx := context.Background()
	const u = "https://d.test/"
	day := t0.Truncate(24 * time.Hour)
	var batch []linkwatch.Result
	for d := range 3 { // 00:10 and 23:50 of three days
		for _, at := range []time.Time{day.Add(time.Duration(d)*24*time.Hour + 10*time.Minute), day.Add(time.Duration(d)*24*time.Hour + 23*time.Hour + 50*time.Minute)} {
			batch = append(batch, result(u, at, time.Millisecond, linkwatch.StatusUp))
		}
	}
	must(t, db.SaveResults(ctx, batch))
	keep := storage.Retention{Raw: 48 * time.Hour, Minute: 24 * time.Hour, Hour: 90 * 24 * time.Hour}
	kept := func(when string, want ...time.Time) {
		t.Helper()
		mins, err := db.Rollups(ctx, u, time.Minute, day.Add(-time.Hour), day.Add(4*24*time.Hour))
		must(t, err)
		var got []time.Time
		for _, r := range mins {
			got = append(got, r.Start)
		}
		if !slices.EqualFunc(got, want, time.Time.Equal) {
			t.Errorf("%s: minute rollups kept %v, want %v", when, got, want)
		}
	}
	// The third day at 12:00: the first day is past 24 hours whole; the
	// second day's 00:10 is too, but not its day.
	clk.Set(day.Add(2*24*time.Hour + 12*time.Hour))
	_, err := db.Prune(ctx, keep)
	must(t, err)
	kept("on the third day", batch[2].Start, batch[3].Start, batch[4].Start, batch[5].Start)
	// The fourth day: the second day goes whole.
	clk.Set(day.Add(3*24*time.Hour + time.Minute))
	_, err = db.Prune(ctx, keep)
	must(t, err)
	kept("on the fourth day", batch[4].Start, batch[5].Start)
	// Rows of a day written after its pruning, and pruned again: gone.
	must(t, db.SaveResults(ctx, []linkwatch.Result{result(u, batch[0].Start.Add(time.Minute), time.Millisecond, linkwatch.StatusUp)}))
	_, err = db.Prune(ctx, keep)
	must(t, err)
	kept("after a late row", batch[4].Start, batch[5].Start)
}

// settledHours: the hours SettledHours names are those rolled up, after
// the oldest kept; a late minute changes none of them (it is read, with
// its hour, only where an unknown span cuts the hour), and a prune moves
// their start past what it deleted.
func settledHours(t *testing.T, db storage.Store, clk *Clock) {
	ctx := context.Background()
	const u = "https://s.test/"
	day := t0.Truncate(24 * time.Hour)
	settled := func(when string, wantAfter, wantUntil time.Time) {
		t.Helper()
		after, until, err := db.SettledHours(ctx)
		must(t, err)
		if !after.Equal(wantAfter) || !until.Equal(wantUntil) {
			t.Errorf("%s: settled hours after %s until %s, want after %s until %s", when, after, until, wantAfter, wantUntil)
		}
	}
	settled("empty", time.Unix(0, 0).UTC(), time.Unix(0, 0).UTC())
	var batch []linkwatch.Result
	for h := range 48 { // a check at :10 of every hour of two days
		batch = append(batch, result(u, day.Add(time.Duration(h)*time.Hour+10*time.Minute), time.Duration(h+1)*time.Millisecond, linkwatch.StatusUp))
	}
	must(t, db.SaveResults(ctx, batch))
	settled("before the first rollup", time.Unix(0, 0).UTC(), time.Unix(0, 0).UTC())
	clk.Set(day.Add(47*time.Hour + 30*time.Minute))
	must(t, db.RollUp(ctx))
	settled("rolled up", day, day.Add(47*time.Hour))
	hour := func(h int) storage.Rollup {
		t.Helper()
		rs, err := db.Rollups(ctx, u, time.Hour, day.Add(time.Duration(h)*time.Hour), day.Add(time.Duration(h+1)*time.Hour))
		must(t, err)
		if len(rs) != 1 {
			t.Fatalf("hour %d: %d hour rollups", h, len(rs))
		}
		return rs[0]
	}
	before := hour(30)
	// A check of a settled hour that finished late: its hour stays as
	// rolled up, and so does the watermark.
	must(t, db.SaveResults(ctx, []linkwatch.Result{result(u, day.Add(30*time.Hour+40*time.Minute), time.Second, linkwatch.StatusUp)}))
	must(t, db.RollUp(ctx))
	if after := hour(30); after != before {
		t.Errorf("a late check rewrote its settled hour: %+v, was %+v", after, before)
	}
	settled("after a late check", day, day.Add(47*time.Hour))
	// Keeping hours a day: the first day goes, the settled hours start
	// with the second.
	clk.Set(day.Add(48*time.Hour + 5*time.Minute))
	must(t, db.RollUp(ctx))
	_, err := db.Prune(ctx, storage.Retention{Raw: 48 * time.Hour, Minute: 7 * 24 * time.Hour, Hour: 24 * time.Hour})
	must(t, err)
	settled("after a prune", day.Add(24*time.Hour), day.Add(48*time.Hour))
	// Every hour pruned: none is settled.
	clk.Set(day.Add(5 * 24 * time.Hour))
	_, err = db.Prune(ctx, storage.Retention{Raw: 48 * time.Hour, Minute: 7 * 24 * time.Hour, Hour: 24 * time.Hour})
	must(t, err)
	settled("every hour pruned", day.Add(48*time.Hour), day.Add(48*time.Hour))
}

func openIncident(key string, at time.Time) linkwatch.Incident {
	return linkwatch.Incident{Key: key, Kind: linkwatch.KindDestination, Title: key + " is down", Cause: linkwatch.CauseHTTP5xx,
		Summary: "503", Status: linkwatch.StatusInvestigating, Impact: linkwatch.ImpactMajor, Host: "shop.example",
		Targets: []string{"https://shop.example/"}, Affected: []linkwatch.Affected{{Page: "acme", Link: "shop", URL: "https://shop.example/"}},
		StartedAt: at, UpdatedAt: at}
}

func recordTogether(t *testing.T, db storage.Store, _ *Clock) {
	ctx := context.Background()
	ev := result("https://shop.example/", t0, time.Millisecond, linkwatch.StatusDown)
	inc, err := db.Record(ctx, incidents.Change{Incident: openIncident("dest:https://shop.example/", t0),
		Events:   []linkwatch.Event{{At: t0, Kind: linkwatch.EventOpened, Body: "http_5xx: 503"}},
		Evidence: []linkwatch.Result{ev}, Alert: &linkwatch.Alert{Type: linkwatch.AlertOpened, LastResult: &ev}})
	must(t, err)
	if inc.ID == 0 {
		t.Fatal("no id for a new incident")
	}
	got, err := db.Incident(ctx, inc.ID)
	must(t, err)
	if got.Key != inc.Key || !slices.Equal(got.Targets, inc.Targets) || len(got.Affected) != 1 || !got.StartedAt.Equal(t0) || !got.Open() {
		t.Errorf("read back %+v", got)
	}
	events, err := db.IncidentEvents(ctx, inc.ID)
	must(t, err)
	evidence, err := db.IncidentEvidence(ctx, inc.ID)
	must(t, err)
	alerts, err := db.Outbox(ctx, 10)
	must(t, err)
	if len(events) != 1 || len(evidence) != 1 || len(alerts) != 1 || alerts[0].IncidentID != inc.ID || alerts[0].EventID == "" ||
		alerts[0].Incident.ID != inc.ID || alerts[0].LastResult == nil {
		t.Fatalf("events %d, evidence %d, alerts %+v", len(events), len(evidence), alerts)
	}
	// Resolve: people's columns (acknowledgement, public status) stay.
	next, err := db.Record(ctx, acknowledge(got, "alice", t0.Add(time.Minute)))
	must(t, err)
	next.Status, next.ResolvedAt, next.UpdatedAt = linkwatch.StatusResolved, t0.Add(time.Hour), t0.Add(time.Hour)
	saved, err := db.Record(ctx, incidents.Change{Incident: next, Alert: &linkwatch.Alert{Type: linkwatch.AlertResolved}})
	must(t, err)
	if saved.Open() || saved.AcknowledgedBy != "alice" || saved.Status != linkwatch.StatusResolved {
		t.Errorf("resolved: %+v", saved)
	}
	if _, err := db.Record(ctx, acknowledge(saved, "bob", t0.Add(2*time.Hour))); !errors.Is(err, linkwatch.ErrConflict) || !strings.Contains(err.Error(), "resolved") {
		t.Errorf("acknowledging a resolved incident: %v, want ErrConflict", err)
	}
	open, err := db.OpenIncidents(ctx)
	must(t, err)
	if len(open) != 0 {
		t.Errorf("open incidents after resolving: %+v", open)
	}
	closed := false
	list, err := db.ListIncidents(ctx, linkwatch.IncidentQuery{Open: &closed, Limit: 10})
	must(t, err)
	if len(list) != 1 || list[0].ID != inc.ID {
		t.Errorf("resolved list = %+v", list)
	}
	if _, err := db.Incident(ctx, 999); !errors.Is(err, linkwatch.ErrNotFound) {
		t.Errorf("unknown incident: %v, want ErrNotFound", err)
	}
}

func oneOpenIncidentPerKey(t *testing.T, db storage.Store, _ *Clock) {
	ctx := context.Background()
	_, err := db.Record(ctx, incidents.Change{Incident: openIncident("dest:x", t0)})
	must(t, err)
	if _, err := db.Record(ctx, incidents.Change{Incident: openIncident("dest:x", t0), Alert: &linkwatch.Alert{Type: linkwatch.AlertOpened}}); err == nil {
		t.Fatal("a second open incident with the same key was accepted")
	}
	alerts, err := db.Outbox(ctx, 10)
	must(t, err)
	if len(alerts) != 0 {
		t.Errorf("the refused duplicate left an alert: %+v", alerts)
	}
}

func failedRecordWritesNothing(t *testing.T, db storage.Store, _ *Clock) {
	ctx := context.Background()
	ghost := openIncident("dest:ghost", t0)
	ghost.ID = 4242 // no such incident: the update fails
	_, err := db.Record(ctx, incidents.Change{Incident: ghost, Events: []linkwatch.Event{{At: t0, Kind: linkwatch.EventResolved, Body: "x"}},
		Alert: &linkwatch.Alert{Type: linkwatch.AlertResolved}})
	if !errors.Is(err, linkwatch.ErrNotFound) {
		t.Fatalf("update of a missing incident: %v, want ErrNotFound", err)
	}
	alerts, err := db.Outbox(ctx, 10)
	must(t, err)
	if len(alerts) != 0 {
		t.Errorf("a failed change left alerts: %+v", alerts)
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := db.Record(cctx, incidents.Change{Incident: openIncident("dest:cancelled", t0), Alert: &linkwatch.Alert{Type: linkwatch.AlertOpened}}); err == nil {
		t.Fatal("a change with a cancelled context was written")
	}
	if open, _ := db.OpenIncidents(ctx); len(open) != 0 {
		t.Errorf("a cancelled change left an incident: %+v", open)
	}
}

func alertGroupsMergeAndKeepOrder(t *testing.T, db storage.Store, clk *Clock) {
	ctx := context.Background()
	inc, err := db.Record(ctx, incidents.Change{Incident: openIncident("host:shop.example|http_5xx", t0), Alert: &linkwatch.Alert{Type: linkwatch.AlertOpened}})
	must(t, err)
	added := func(link string) *linkwatch.Alert {
		return &linkwatch.Alert{Type: linkwatch.AlertUpdated, Reason: "target_added", Added: []linkwatch.Affected{{Page: "acme", Link: link}}}
	}
	for _, l := range []string{"b", "c", "d"} {
		inc, err = db.Record(ctx, incidents.Change{Incident: inc, Alert: added(l), GroupUntil: t0.Add(30 * time.Second)})
		must(t, err)
	}
	alerts, err := db.Outbox(ctx, 10)
	must(t, err)
	if len(alerts) != 1 {
		t.Fatalf("%d alerts in the outbox before the group is due, want the opening", len(alerts))
	}
	must(t, db.FanOut(ctx, nil)) // not due yet
	if alerts, _ = db.Outbox(ctx, 10); len(alerts) != 1 {
		t.Fatalf("a group was released before it was due")
	}
	clk.Set(t0.Add(31 * time.Second))
	must(t, db.FanOut(ctx, nil))
	alerts, err = db.Outbox(ctx, 10)
	must(t, err)
	if len(alerts) != 2 || alerts[1].Reason != "target_added" || len(alerts[1].Added) != 3 {
		t.Fatalf("after the group interval: %+v", alerts)
	}
	// A held update goes out before the next alert of its incident.
	inc, err = db.Record(ctx, incidents.Change{Incident: inc, Alert: added("e"), GroupUntil: clk.Now().Add(30 * time.Second)})
	must(t, err)
	inc.Status, inc.ResolvedAt = linkwatch.StatusResolved, clk.Now()
	_, err = db.Record(ctx, incidents.Change{Incident: inc, Alert: &linkwatch.Alert{Type: linkwatch.AlertResolved}})
	must(t, err)
	alerts, err = db.Outbox(ctx, 10)
	must(t, err)
	var order []string
	for _, a := range alerts {
		order = append(order, fmt.Sprintf("%s/%s", a.Type, a.Reason))
	}
	want := []string{"incident.opened/", "incident.updated/target_added", "incident.updated/target_added", "incident.resolved/"}
	if !slices.Equal(order, want) {
		t.Errorf("outbox order = %v, want %v", order, want)
	}
}

func fanOutAndChannels(t *testing.T, db storage.Store, _ *Clock) {
	ctx := context.Background()
	for i := range 3 {
		_, err := db.Record(ctx, incidents.Change{Incident: openIncident(fmt.Sprint("dest:", i), t0), Alert: &linkwatch.Alert{Type: linkwatch.AlertOpened}})
		must(t, err)
	}
	must(t, db.FanOut(ctx, []string{"slack", "webhook:ops"}))
	must(t, db.FanOut(ctx, []string{"slack", "webhook:ops"})) // idempotent
	log, err := db.DeliveryLog(ctx, linkwatch.DeliveryQuery{Limit: 100})
	must(t, err)
	if len(log) != 6 {
		t.Fatalf("%d deliveries, want one per alert per channel", len(log))
	}
	if b, _ := db.OutboxBacklog(ctx); b.Pending != 6 {
		t.Errorf("pending = %d", b.Pending)
	}
	must(t, db.DisableChannel(ctx, "webhook:ops", "410 Gone"))
	off, err := db.DisabledChannels(ctx)
	must(t, err)
	if off["webhook:ops"] != "410 Gone" || len(off) != 1 {
		t.Errorf("disabled = %v", off)
	}
	if b, _ := db.OutboxBacklog(ctx); b.Pending != 3 {
		t.Errorf("pending after disabling = %d, want the other channel's 3", b.Pending)
	}
	// Back on: it gets alerts made from now on, not the backlog.
	must(t, db.EnableChannel(ctx, "webhook:ops"))
	must(t, db.FanOut(ctx, []string{"slack", "webhook:ops"}))
	if log, _ = db.DeliveryLog(ctx, linkwatch.DeliveryQuery{Limit: 100}); len(log) != 6 {
		t.Errorf("re-enabling replayed the backlog: %d deliveries", len(log))
	}
	_, err = db.Record(ctx, incidents.Change{Incident: openIncident("dest:new", t0), Alert: &linkwatch.Alert{Type: linkwatch.AlertOpened}})
	must(t, err)
	must(t, db.FanOut(ctx, []string{"slack", "webhook:ops"}))
	if log, _ = db.DeliveryLog(ctx, linkwatch.DeliveryQuery{Limit: 100}); len(log) != 8 {
		t.Errorf("%d deliveries after a new alert, want 8", len(log))
	}
	must(t, db.SetThreadRef(ctx, 1, "slack", "C1 123.4"))
	must(t, db.SetThreadRef(ctx, 1, "slack", "C1 123.5"))
	if ref, _ := db.ThreadRef(ctx, 1, "slack"); ref != "C1 123.5" {
		t.Errorf("thread ref = %q", ref)
	}
	if ref, err := db.ThreadRef(ctx, 2, "slack"); ref != "" || err != nil {
		t.Errorf("missing thread ref = %q, %v", ref, err)
	}
}

// acknowledge is the change of an operator acknowledging inc at at.
func acknowledge(inc linkwatch.Incident, by string, at time.Time) incidents.Change {
	c := incidents.Change{Incident: inc, Acknowledged: true, Events: []linkwatch.Event{{At: at, Kind: linkwatch.EventAcknowledged, Body: "acknowledged by " + by}}}
	c.Incident.AcknowledgedAt, c.Incident.AcknowledgedBy, c.Incident.UpdatedAt = at, by, at
	return c
}

func adminChanges(t *testing.T, db storage.Store, _ *Clock) {
	ctx := context.Background()
	inc, err := db.Record(ctx, incidents.Change{Incident: openIncident("dest:adm", t0)})
	must(t, err)
	// An acknowledgement is a change like any: who and when, its event and
	// its alert in one transaction, over the version it was decided from.
	acked, err := db.Record(ctx, acknowledge(inc, "alice", t0.Add(time.Minute)))
	must(t, err)
	if acked.AcknowledgedBy != "alice" || !acked.AcknowledgedAt.Equal(t0.Add(time.Minute)) || acked.Version != inc.Version+1 {
		t.Errorf("acknowledged: %+v", acked)
	}
	// A second one is refused, from a stale copy (its version) or from
	// the current one (the first person on it stays named), and writes
	// nothing: no event, no alert.
	second := acknowledge(acked, "bob", t0.Add(2*time.Minute))
	second.Alert = &linkwatch.Alert{Type: linkwatch.AlertUpdated, Reason: string(linkwatch.EventAcknowledged)}
	if _, err := db.Record(ctx, second); !errors.Is(err, linkwatch.ErrConflict) || !strings.Contains(err.Error(), "already acknowledged by alice") {
		t.Errorf("second acknowledgement: %v, want ErrConflict naming alice", err)
	}
	if _, err := db.Record(ctx, acknowledge(inc, "bob", t0.Add(2*time.Minute))); !errors.Is(err, linkwatch.ErrConflict) {
		t.Errorf("acknowledgement from a stale copy: %v, want ErrConflict", err)
	}
	if ev, _ := db.IncidentEvents(ctx, inc.ID); len(ev) != 1 {
		t.Errorf("events after refused acknowledgements: %+v", ev)
	}
	if a, _ := db.Outbox(ctx, 10); len(a) != 0 {
		t.Errorf("alerts after refused acknowledgements: %+v", a)
	}
	// An engine change (a copy without the acknowledgement) keeps it.
	engine := acked
	engine.AcknowledgedAt, engine.AcknowledgedBy, engine.Cause = time.Time{}, "", linkwatch.CauseTimeout
	acked, err = db.Record(ctx, incidents.Change{Incident: engine})
	must(t, err)
	if acked.AcknowledgedBy != "alice" || acked.Cause != linkwatch.CauseTimeout {
		t.Errorf("after an engine change: %+v", acked)
	}
	// An operator's update, recorded with its change: it sets the public
	// status, gets an id, and its alert carries it.
	u := &linkwatch.Update{Status: linkwatch.StatusIdentified, Body: "rolling back"}
	next := acked
	next.Status = linkwatch.StatusIdentified
	saved, err := db.Record(ctx, incidents.Change{Incident: next, Update: u,
		Alert: &linkwatch.Alert{Type: linkwatch.AlertUpdated, Reason: string(linkwatch.EventUpdatePosted)}})
	must(t, err)
	if u.ID == 0 || saved.Status != linkwatch.StatusIdentified || saved.AcknowledgedBy != "alice" {
		t.Errorf("update %+v, incident %+v", u, saved)
	}
	ups, err := db.IncidentUpdates(ctx, inc.ID)
	must(t, err)
	if len(ups) != 1 || ups[0].ID != u.ID || ups[0].Body != "rolling back" {
		t.Errorf("updates = %+v", ups)
	}
	alerts, err := db.Outbox(ctx, 10)
	must(t, err)
	if len(alerts) != 1 || alerts[0].Update == nil || alerts[0].Update.Body != "rolling back" {
		t.Errorf("the update's alert = %+v", alerts)
	}
	pm, err := db.EditPostmortem(ctx, inc.ID, linkwatch.Postmortem{PrimaryCause: "expired zone", Published: true})
	must(t, err)
	if pm.Postmortem.PrimaryCause != "expired zone" || pm.Status != linkwatch.StatusIdentified {
		t.Errorf("postmortem = %+v", pm)
	}
	if _, err := db.EditPostmortem(ctx, 999, linkwatch.Postmortem{}); !errors.Is(err, linkwatch.ErrNotFound) {
		t.Errorf("postmortem of a missing incident: %v", err)
	}
}

func maintenance(t *testing.T, db storage.Store, _ *Clock) {
	ctx := context.Background()
	m, err := db.CreateMaintenance(ctx, linkwatch.Maintenance{Title: "move", Component: "page:acme", StartsAt: t0.Add(time.Hour), EndsAt: t0.Add(2 * time.Hour)})
	must(t, err)
	if active, _ := db.ActiveMaintenance(ctx, t0); len(active) != 0 {
		t.Errorf("active before it starts: %+v", active)
	}
	if active, _ := db.ActiveMaintenance(ctx, t0.Add(90*time.Minute)); len(active) != 1 || active[0].ID != m.ID {
		t.Errorf("active inside = %+v", active)
	}
	if list, _ := db.ListMaintenance(ctx, t0); len(list) != 1 {
		t.Errorf("upcoming = %+v", list)
	}
	must(t, db.DeleteMaintenance(ctx, m.ID))
	if err := db.DeleteMaintenance(ctx, m.ID); !errors.Is(err, linkwatch.ErrNotFound) {
		t.Errorf("deleting twice: %v, want ErrNotFound", err)
	}
}

// recurringMaintenance: a recurring window is stored, listed and deleted;
// its occurrences are windows that ListMaintenance and ActiveMaintenance
// return among the one-off ones (the next one while it is upcoming, each
// once it has started), soonest first, and none once it is deleted.
func recurringMaintenance(t *testing.T, db storage.Store, clock *Clock) {
	ctx := context.Background()
	one, err := db.CreateMaintenance(ctx, linkwatch.Maintenance{Title: "move", StartsAt: t0.Add(time.Hour), EndsAt: t0.Add(2 * time.Hour)})
	must(t, err)
	r, err := db.CreateRecurringMaintenance(ctx, linkwatch.RecurringMaintenance{Title: "patch", Component: "hub", Schedule: "30 10 * * *", Duration: 15 * time.Minute})
	must(t, err)
	list, err := db.ListRecurringMaintenance(ctx)
	must(t, err)
	if len(list) != 1 || list[0].ID != r.ID || list[0].Schedule != "30 10 * * *" || list[0].Duration != 15*time.Minute ||
		list[0].Component != "hub" || !list[0].CreatedAt.Equal(t0) {
		t.Fatalf("recurring = %+v, want %+v", list, r)
	}
	windows, err := db.ListMaintenance(ctx, t0)
	must(t, err)
	if len(windows) != 2 || windows[0].Recurring != r.ID || !windows[0].StartsAt.Equal(t0.Add(30*time.Minute)) || windows[1].ID != one.ID {
		t.Fatalf("windows = %+v, want today's 10:30 occurrence, then the one-off window", windows)
	}
	if active, _ := db.ActiveMaintenance(ctx, t0.Add(20*time.Minute)); len(active) != 0 {
		t.Errorf("active before the occurrence = %+v", active)
	}
	active, err := db.ActiveMaintenance(ctx, t0.Add(30*time.Minute))
	must(t, err)
	if len(active) != 1 || active[0].Recurring != r.ID || !active[0].Covers(t0.Add(30*time.Minute), []string{"hub"}) {
		t.Errorf("active at the occurrence's start = %+v", active)
	}
	if active, _ := db.ActiveMaintenance(ctx, t0.Add(45*time.Minute)); len(active) != 0 {
		t.Errorf("active at the occurrence's end = %+v", active)
	}
	// A week later the week's occurrences are listed since t0, and the next.
	clock.Set(t0.Add(7*24*time.Hour + 11*time.Hour))
	defer clock.Set(t0)
	windows, err = db.ListMaintenance(ctx, t0)
	must(t, err)
	var recurring int
	for _, m := range windows {
		if m.Recurring == r.ID {
			recurring++
		}
	}
	if recurring != 9 { // the 22nd to the 29th, and the 30th
		t.Errorf("%d occurrences listed a week on, want 9: %+v", recurring, windows)
	}
	must(t, db.DeleteRecurringMaintenance(ctx, r.ID))
	if err := db.DeleteRecurringMaintenance(ctx, r.ID); !errors.Is(err, linkwatch.ErrNotFound) {
		t.Errorf("deleting twice: %v, want ErrNotFound", err)
	}
	if windows, _ := db.ListMaintenance(ctx, t0); len(windows) != 1 || windows[0].ID != one.ID {
		t.Errorf("windows after deleting the recurring one = %+v", windows)
	}
}

func clicksAndFeedIDs(t *testing.T, db storage.Store, _ *Clock) {
	ctx := context.Background()
	k := hub.LinkKey{Page: "acme", Link: "shop"}
	must(t, db.AddClicks(ctx, t0, map[hub.LinkKey]hub.ClickCount{k: {Clicks: 3, Fallback: 1}}))
	must(t, db.AddClicks(ctx, t0, map[hub.LinkKey]hub.ClickCount{k: {Clicks: 2}}))
	totals, err := db.ClickTotals(ctx)
	must(t, err)
	if totals[k] != 5 {
		t.Errorf("click total = %d, want 5", totals[k])
	}
	inc, err := db.Record(ctx, incidents.Change{Incident: openIncident("dest:feed", t0)})
	must(t, err)
	feed, ids, err := db.FeedIDs(ctx, []int64{inc.ID})
	must(t, err)
	feed2, ids2, err := db.FeedIDs(ctx, []int64{inc.ID})
	must(t, err)
	if feed == "" || ids[inc.ID] == "" || feed != feed2 || ids[inc.ID] != ids2[inc.ID] {
		t.Errorf("feed ids are not stable: %q %v, then %q %v", feed, ids, feed2, ids2)
	}
}

// noncesRefuseReplays: a nonce is claimed once until it expires, by the
// database's clock; an expired one is forgotten and may be claimed again
// (its request would fail its timestamp check by then anyway).
func noncesRefuseReplays(t *testing.T, db storage.Store, clk *Clock) {
	ctx := context.Background()
	claim := func(nonce string) bool {
		t.Helper()
		fresh, err := db.ClaimNonce(ctx, nonce, 10*time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		return fresh
	}
	if !claim("v0=aa") || !claim("v0=bb") {
		t.Fatal("a new nonce was refused")
	}
	if claim("v0=aa") {
		t.Fatal("a nonce was claimed twice")
	}
	clk.Set(t0.Add(10*time.Minute - time.Second))
	if claim("v0=bb") {
		t.Fatal("a nonce was claimed again before it expired")
	}
	clk.Set(t0.Add(10 * time.Minute))
	if !claim("v0=aa") {
		t.Fatal("an expired nonce was not forgotten")
	}
}
