package incidents_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"linkwatch"
	"linkwatch/incidents"
)

const backup = "https://backup.example/"

// fbDeps: acme/a (shopA) falls back to backup; acme/b (shopB, same host)
// has no fallback; ada/blog's destination is the fallback itself.
var fbDeps = map[string][]linkwatch.Affected{
	shopA:  {{Page: "acme", Link: "a", URL: shopA, Fallback: backup}},
	shopB:  {{Page: "acme", Link: "b", URL: shopB}},
	backup: {{Page: "acme", Link: "a", URL: shopA, Fallback: backup}, {Page: "ada", Link: "blog", URL: backup}},
}

// healthLog is a HealthObserver keeping every health it is told.
type healthLog struct {
	mu  sync.Mutex
	all []linkwatch.Health
}

func (l *healthLog) ObserveHealth(h linkwatch.Health) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.all = append(l.all, h)
}

// last returns the newest health as "page/link" -> fallback ("" for down
// without one).
func (l *healthLog) last() map[string]string {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := map[string]string{}
	if len(l.all) == 0 {
		return out
	}
	for _, lh := range l.all[len(l.all)-1].Links {
		if !lh.Down {
			out[lh.Page+"/"+lh.Link] = "?not down?"
			continue
		}
		out[lh.Page+"/"+lh.Link] = lh.Fallback
	}
	return out
}

func newFallbackHarness(t *testing.T, cfg incidents.Config) (*harness, *healthLog) {
	t.Helper()
	h := &harness{t: t, cfg: cfg, deps: fbDeps}
	h2 := newHarness(t, cfg)
	h.db, h.now = h2.db, h2.now
	h.db.SetClock(func() time.Time { return h.now })
	h.restart()
	obs := &healthLog{}
	h.eng.SetHealthObserver(obs)
	return h, obs
}

func (h *harness) events(kind linkwatch.EventKind) []string {
	h.t.Helper()
	var out []string
	for _, inc := range h.incidents() {
		evs, err := h.db.IncidentEvents(context.Background(), inc.ID)
		if err != nil {
			h.t.Fatal(err)
		}
		for _, ev := range evs {
			if ev.Kind == kind {
				out = append(out, ev.Body)
			}
		}
	}
	return out
}

func equalHealth(got, want map[string]string) bool {
	if len(got) != len(want) {
		return false
	}
	for k, v := range want {
		if g, ok := got[k]; !ok || g != v {
			return false
		}
	}
	return true
}

// The whole switch: the incident opens with the link on its fallback (the
// opening alert says so), the other link of the host incident is only
// noted down, and the resolution sends visitors back.
func TestFallbackFollowsTheIncident(t *testing.T) {
	t.Parallel()
	h, obs := newFallbackHarness(t, incidents.Config{})
	h.feed(up(backup), down(shopA, linkwatch.CauseConnectRefused))
	if got := obs.last(); len(got) != 0 {
		t.Fatalf("health after one failure = %v, want every link healthy", got)
	}
	h.feed(up(backup), down(shopA, linkwatch.CauseConnectRefused))
	if got, want := obs.last(), map[string]string{"acme/a": backup}; !equalHealth(got, want) {
		t.Fatalf("health once the incident opened = %v, want %v", got, want)
	}
	opening := h.alerts()[0]
	if opening.Type != linkwatch.AlertOpened || len(opening.Incident.Affected) != 1 || !opening.Incident.Affected[0].Diverted || opening.Incident.Affected[0].Fallback != backup {
		t.Errorf("opening alert's affected links = %+v, want acme/a diverted to %s", opening.Incident.Affected, backup)
	}
	if on := h.events(linkwatch.EventFallbackOn); len(on) != 1 || !strings.Contains(on[0], "visitors of acme/a are being sent to "+backup) {
		t.Errorf("fallback on events = %q", on)
	}
	// shopB joins the host incident: down, with no fallback.
	h.feed(up(backup), down(shopA, linkwatch.CauseConnectRefused), down(shopB, linkwatch.CauseConnectRefused))
	h.feed(up(backup), down(shopA, linkwatch.CauseConnectRefused), down(shopB, linkwatch.CauseConnectRefused))
	if got, want := obs.last(), map[string]string{"acme/a": backup, "acme/b": ""}; !equalHealth(got, want) {
		t.Fatalf("health with the host incident = %v, want %v", got, want)
	}
	// shopA answers again while shopB still fails: back to the destination
	// at once, though the host incident stays open.
	h.feed(up(backup), up(shopA), down(shopB, linkwatch.CauseConnectRefused))
	h.feed(up(backup), up(shopA), down(shopB, linkwatch.CauseConnectRefused))
	if got, want := obs.last(), map[string]string{"acme/b": ""}; !equalHealth(got, want) {
		t.Fatalf("health once shopA answers = %v, want %v", got, want)
	}
	if off := h.events(linkwatch.EventFallbackOff); len(off) != 1 || !strings.Contains(off[0], "go to "+shopA+" again: its destination answers again") {
		t.Errorf("fallback off events = %q", off)
	}
	h.feed(up(backup), up(shopA), up(shopB))
	h.feed(up(backup), up(shopA), up(shopB))
	if got := obs.last(); len(got) != 0 {
		t.Errorf("health after resolution = %v, want every link healthy", got)
	}
	if got := alertTypes(h.alerts()); !slices.Contains(got, "incident.updated/fallback") {
		t.Errorf("alerts = %v, want an update saying visitors went back", got)
	}
}

// Each exclusion of the switch rule, alone.
func TestDivertRule(t *testing.T) {
	t.Parallel()
	downInc := &linkwatch.Incident{Kind: linkwatch.KindDestination, Impact: linkwatch.ImpactMajor}
	tests := []struct {
		name          string
		dest          *linkwatch.Incident
		fallback      string
		muted         bool
		proberOffline bool
		fallbackIn    *linkwatch.Incident
		want          bool
		why           string
	}{
		{"down", downInc, backup, false, false, nil, true, ""},
		{"host incident", &linkwatch.Incident{Kind: linkwatch.KindHost, Impact: linkwatch.ImpactMajor}, backup, false, false, nil, true, ""},
		{"no incident (held back, or up)", nil, backup, false, false, nil, false, "no longer down"},
		{"degraded", &linkwatch.Incident{Kind: linkwatch.KindDestination, Impact: linkwatch.ImpactMinor}, backup, false, false, nil, false, "no longer down"},
		{"resolved", &linkwatch.Incident{Kind: linkwatch.KindDestination, Impact: linkwatch.ImpactMajor, ResolvedAt: t0}, backup, false, false, nil, false, "no longer down"},
		{"prober offline incident", &linkwatch.Incident{Kind: linkwatch.KindProberOffline, Impact: linkwatch.ImpactMajor}, backup, false, false, nil, false, "no longer down"},
		{"hub incident", &linkwatch.Incident{Kind: linkwatch.KindHub, Impact: linkwatch.ImpactCritical}, backup, false, false, nil, false, "no longer down"},
		{"no fallback", downInc, "", false, false, nil, false, "no fallback"},
		{"prober offline", downInc, backup, false, true, nil, false, "prober's own network"},
		{"maintenance", downInc, backup, true, false, nil, false, "maintenance window"},
		{"fallback down", downInc, backup, false, false, &linkwatch.Incident{Kind: linkwatch.KindDestination, Impact: linkwatch.ImpactMajor}, false, "is down too"},
		{"fallback degraded", downInc, backup, false, false, &linkwatch.Incident{Kind: linkwatch.KindDestination, Impact: linkwatch.ImpactMinor}, true, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, why := incidents.Divert(tt.dest, tt.fallback, tt.muted, tt.proberOffline, tt.fallbackIn)
			if got != tt.want || !strings.Contains(why, tt.why) {
				t.Errorf("divert = %v (%q), want %v (%q)", got, why, tt.want, tt.why)
			}
		})
	}
}

func TestFallbackNotForDegraded(t *testing.T) {
	t.Parallel()
	h, obs := newFallbackHarness(t, incidents.Config{})
	h.feed(degraded(shopA, linkwatch.CauseRateLimited))
	h.feed(degraded(shopA, linkwatch.CauseRateLimited))
	if len(h.incidents()) != 1 {
		t.Fatal("no incident for the degraded destination")
	}
	if got := obs.last(); len(got) != 0 {
		t.Errorf("health while degraded = %v, want every link healthy", got)
	}
	// Worse: down now. The cause change switches.
	h.feed(down(shopA, linkwatch.CauseHTTP5xx))
	if got, want := obs.last(), map[string]string{"acme/a": backup}; !equalHealth(got, want) {
		t.Errorf("health once down = %v, want %v", got, want)
	}
}

func TestFallbackNotWhileHeldBack(t *testing.T) {
	t.Parallel()
	h, obs := newFallbackHarness(t, incidents.Config{CanaryID: canaryURL})
	// The canary has never answered since the failures began: held back.
	h.feed(down(shopA, linkwatch.CauseConnectRefused))
	h.feed(down(shopA, linkwatch.CauseConnectRefused))
	h.feed(down(shopA, linkwatch.CauseConnectRefused))
	if n := len(h.incidents()); n != 0 {
		t.Fatalf("%d incidents opened while held back", n)
	}
	if got := obs.last(); len(got) != 0 {
		t.Errorf("health while held back = %v, want every link healthy", got)
	}
}

func TestFallbackNotDuringMaintenance(t *testing.T) {
	t.Parallel()
	h, obs := newFallbackHarness(t, incidents.Config{})
	if _, err := h.db.CreateMaintenance(context.Background(), linkwatch.Maintenance{
		Title: "shop move", Component: "dest:" + shopA, StartsAt: t0.Add(-time.Minute), EndsAt: t0.Add(25 * time.Second),
	}); err != nil {
		t.Fatal(err)
	}
	h.feed(down(shopA, linkwatch.CauseConnectRefused))
	h.feed(down(shopA, linkwatch.CauseConnectRefused))
	if got, want := obs.last(), map[string]string{"acme/a": ""}; !equalHealth(got, want) {
		t.Fatalf("health in maintenance = %v, want %v (down, not diverted)", got, want)
	}
	h.feed(down(shopA, linkwatch.CauseConnectRefused)) // t0+20s: still inside
	h.feed(down(shopA, linkwatch.CauseConnectRefused)) // t0+30s: the window has ended
	if got, want := obs.last(), map[string]string{"acme/a": backup}; !equalHealth(got, want) {
		t.Errorf("health after the window = %v, want %v", got, want)
	}
	if on := h.events(linkwatch.EventFallbackOn); len(on) != 1 {
		t.Errorf("fallback on events = %q, want one when the window ended", on)
	}
}

// The fallback fails first, then the destination: visitors stay on the
// destination; the fallback comes back: they switch; it fails again: back.
func TestFallbackDownToo(t *testing.T) {
	t.Parallel()
	h, obs := newFallbackHarness(t, incidents.Config{})
	h.feed(down(backup, linkwatch.CauseHTTP5xx))
	h.feed(down(backup, linkwatch.CauseHTTP5xx), down(shopA, linkwatch.CauseConnectRefused))
	h.feed(down(backup, linkwatch.CauseHTTP5xx), down(shopA, linkwatch.CauseConnectRefused))
	if got, want := obs.last(), map[string]string{"acme/a": "", "ada/blog": ""}; !equalHealth(got, want) {
		t.Fatalf("health with both down = %v, want %v", got, want)
	}
	for _, inc := range h.incidents() {
		if inc.Key == "dest:"+backup && !strings.HasPrefix(inc.Title, "ada/blog") && !strings.Contains(inc.Title, "fallback of acme/a") {
			t.Errorf("the fallback's incident is titled %q", inc.Title)
		}
	}
	h.feed(up(backup), down(shopA, linkwatch.CauseConnectRefused))
	h.feed(up(backup), down(shopA, linkwatch.CauseConnectRefused))
	if got, want := obs.last(), map[string]string{"acme/a": backup}; !equalHealth(got, want) {
		t.Fatalf("health once the fallback answers = %v, want %v", got, want)
	}
	h.feed(down(backup, linkwatch.CauseHTTP5xx), down(shopA, linkwatch.CauseConnectRefused))
	h.feed(down(backup, linkwatch.CauseHTTP5xx), down(shopA, linkwatch.CauseConnectRefused))
	if got, want := obs.last(), map[string]string{"acme/a": "", "ada/blog": ""}; !equalHealth(got, want) {
		t.Fatalf("health once the fallback fails again = %v, want %v", got, want)
	}
	if off := h.events(linkwatch.EventFallbackOff); len(off) != 1 || !strings.Contains(off[0], "its fallback "+backup+" is down too") {
		t.Errorf("fallback off events = %q", off)
	}
}

// A restart in the middle of an outage publishes the same health from the
// database, with no new switch recorded.
func TestFallbackSurvivesRestart(t *testing.T) {
	t.Parallel()
	h, _ := newFallbackHarness(t, incidents.Config{})
	h.feed(down(shopA, linkwatch.CauseConnectRefused))
	h.feed(down(shopA, linkwatch.CauseConnectRefused))
	h.restart()
	obs := &healthLog{}
	h.eng.SetHealthObserver(obs)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { h.eng.Run(ctx, nil); close(done) }()
	// Run publishes before any result; a manual resolution goes through
	// Run's goroutine, so once it answers, the first health is out.
	if _, err := h.eng.Resolve(ctx, 999, "t", "n"); err == nil {
		t.Fatal("resolved an unknown incident")
	}
	cancel()
	<-done
	if got, want := obs.last(), map[string]string{"acme/a": backup}; !equalHealth(got, want) {
		t.Errorf("health after restart = %v, want %v", got, want)
	}
	if on := h.events(linkwatch.EventFallbackOn); len(on) != 1 {
		t.Errorf("fallback on events = %q, want the one before the restart", on)
	}
}

// The switch is written before it is published: a failed write leaves the
// hub on the destination, and the next result retries it.
func TestFallbackSwitchWrittenBeforePublished(t *testing.T) {
	t.Parallel()
	h, obs := newFallbackHarness(t, incidents.Config{})
	store := &failingStore{DB: h.db}
	h.eng = newEngineOverDeps(t, h.cfg, store, fbDeps, &h.now)
	h.eng.SetHealthObserver(obs)
	h.feed(down(backup, linkwatch.CauseHTTP5xx), down(shopA, linkwatch.CauseConnectRefused))
	h.feed(down(backup, linkwatch.CauseHTTP5xx), down(shopA, linkwatch.CauseConnectRefused))
	// Both incidents are open; the fallback comes back, and the write that
	// switches acme/a to it fails.
	h.feed(up(backup), down(shopA, linkwatch.CauseConnectRefused))
	store.failAt = store.calls + 2 // the fallback's resolution, then the switch
	r := linkwatch.Result{TargetID: backup, Kind: linkwatch.TargetDestination, URL: backup, Start: h.now, Status: linkwatch.StatusUp}
	err := h.eng.Handle(context.Background(), r)
	if !errors.Is(err, errInjected) {
		t.Fatalf("Handle = %v, want the injected error", err)
	}
	if got, want := obs.last(), map[string]string{"acme/a": ""}; !equalHealth(got, want) {
		t.Fatalf("health after the failed write = %v, want %v (not published before it is written)", got, want)
	}
	h.now = h.now.Add(10 * time.Second)
	h.feed(up(backup), down(shopA, linkwatch.CauseConnectRefused))
	if got, want := obs.last(), map[string]string{"acme/a": backup}; !equalHealth(got, want) {
		t.Errorf("health after the retry = %v, want %v", got, want)
	}
}
