package incidents_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"linkwatch"
	"linkwatch/incidents"
	"linkwatch/storage"
)

// replica is one more engine over the harness's database, as another
// process sharing it.
func (h *harness) replica(name string) *incidents.Engine {
	h.t.Helper()
	cfg := h.cfg
	cfg.Replica, cfg.Now = name, func() time.Time { return h.now }
	eng, err := incidents.NewEngine(context.Background(), cfg, h.db, deps, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		h.t.Fatal(err)
	}
	return eng
}

// feedTo hands steps to eng at the harness's time and returns the errors.
func (h *harness) feedTo(eng *incidents.Engine, steps ...step) []error {
	var errs []error
	for _, s := range steps {
		r := s.result(h.now)
		if err := eng.Handle(context.Background(), r); err != nil {
			errs = append(errs, err)
		}
	}
	return errs
}

// TestTwoEnginesOneOutage: two replicas both check a host during a
// hand-over. The second to open the outage's key is refused by the
// database and joins the first's incident; a replica writing from a stale
// copy is refused and reloads instead of undoing the other's change; one
// incident, one opening and one resolution alert.
func TestTwoEnginesOneOutage(t *testing.T) {
	t.Parallel()
	h := newHarness(t, incidents.Config{})
	a, b := h.replica("a"), h.replica("b")
	for range 2 {
		if errs := h.feedTo(a, down(shopA, linkwatch.CauseHTTP5xx)); errs != nil {
			t.Fatal(errs)
		}
		if errs := h.feedTo(b, down(shopA, linkwatch.CauseHTTP5xx)); errs != nil {
			t.Fatalf("the second replica to open the key: %v, want it to join", errs)
		}
		h.now = h.now.Add(10 * time.Second)
	}
	list := h.incidents()
	if len(list) != 1 {
		t.Fatalf("%d incidents for one outage, want 1", len(list))
	}
	if mb := incidents.OpenInMemory(b); len(mb) != 1 || mb["dest:"+shopA].ID != list[0].ID {
		t.Fatalf("b holds %+v, want the incident a opened", mb)
	}
	// The host moved to b: shopB fails there and joins, which a's copy
	// does not know.
	for range 2 {
		h.feedTo(b, down(shopB, linkwatch.CauseHTTP5xx))
		h.now = h.now.Add(10 * time.Second)
	}
	// a, with its stale copy, sees shopA answer: it must not resolve an
	// incident in which shopB still fails. Its write is refused; it reads
	// the incident again and decides again, with no error and nothing lost.
	for range 3 {
		if errs := h.feedTo(a, up(shopA)); errs != nil {
			t.Fatalf("a's stale resolution: %v, want it decided again from the fresh incident", errs)
		}
		h.now = h.now.Add(10 * time.Second)
	}
	list = h.incidents()
	if len(list) != 1 || !list[0].Open() || len(list[0].Targets) != 2 {
		t.Fatalf("after a's stale view recovered: %+v, want the host incident open with both targets", list)
	}
	// b sees both recover and resolves it once.
	for range 2 {
		if errs := h.feedTo(b, up(shopA), up(shopB)); errs != nil {
			t.Fatal(errs)
		}
		h.now = h.now.Add(10 * time.Second)
	}
	if list = h.incidents(); list[0].Open() {
		t.Fatalf("not resolved: %+v", list[0])
	}
	// a learns it at its next look, and its own next results change nothing.
	if err := incidents.Refresh(a); err != nil {
		t.Fatal(err)
	}
	if errs := h.feedTo(a, up(shopA), up(shopA)); errs != nil {
		t.Fatal(errs)
	}
	if ma := incidents.OpenInMemory(a); len(ma) != 0 {
		t.Errorf("a still holds %+v", ma)
	}
	got := strings.Join(alertTypes(h.alerts()), " ")
	if got != "incident.opened incident.updated/target_added incident.resolved" {
		t.Errorf("alerts = %s", got)
	}
}

// TestHostMovesWithItsIncident: the incident of a host handed over goes on
// at its new owner, rebuilt from the database: the new owner's successes
// resolve it, and the old owner forgets the host.
func TestHostMovesWithItsIncident(t *testing.T) {
	t.Parallel()
	h := newHarness(t, incidents.Config{})
	a, b := h.replica("a"), h.replica("b")
	b.SetOwnership(func(string) bool { return false })
	for range 2 {
		h.feedTo(a, down(shopA, linkwatch.CauseHTTP5xx))
		h.now = h.now.Add(10 * time.Second)
	}
	a.SetOwnership(func(t string) bool { return !strings.Contains(t, "shop.example") })
	b.SetOwnership(func(t string) bool { return strings.Contains(t, "shop.example") })
	// a's next result (of a host it kept) applies the split.
	if errs := h.feedTo(a, up(blog)); errs != nil {
		t.Fatal(errs)
	}
	for range 2 {
		if errs := h.feedTo(b, up(shopA)); errs != nil {
			t.Fatal(errs)
		}
		h.now = h.now.Add(10 * time.Second)
	}
	list := h.incidents()
	if len(list) != 1 || list[0].Open() {
		t.Fatalf("the moved host's incident: %+v, want it resolved by its new owner", list)
	}
	if err := incidents.Refresh(a); err != nil {
		t.Fatal(err)
	}
	if ma := incidents.OpenInMemory(a); len(ma) != 0 {
		t.Errorf("the old owner still holds %+v", ma)
	}
}

// TestDepartedReplicaIncidentsResolve: a replica's own prober_offline
// incident is resolved by another once it is gone; a live one's and the
// resolver's own stay.
func TestDepartedReplicaIncidentsResolve(t *testing.T) {
	t.Parallel()
	h := newHarness(t, incidents.Config{CanaryID: linkwatch.CanaryID(canaryURL)})
	ctx := context.Background()
	for _, r := range []string{"a", "b", "c"} {
		inc := linkwatch.Incident{Key: linkwatch.ReplicaKey(linkwatch.ProberKey, r), Kind: linkwatch.KindProberOffline, Title: "Prober offline",
			Targets: []string{linkwatch.CanaryID(canaryURL)},
			Status:  linkwatch.StatusInvestigating, Impact: linkwatch.ImpactMajor, StartedAt: h.now, UpdatedAt: h.now}
		if _, err := h.db.Record(ctx, incidents.Change{Incident: inc, Alert: &linkwatch.Alert{Type: linkwatch.AlertOpened}}); err != nil {
			t.Fatal(err)
		}
	}
	a := h.replica("a")
	if m := incidents.OpenInMemory(a); len(m) != 1 || m[linkwatch.ReplicaKey(linkwatch.ProberKey, "a")].ID == 0 {
		t.Fatalf("a holds %+v, want only its own prober_offline", m)
	}
	runCtx, stop := context.WithCancel(ctx)
	defer stop()
	in := make(chan linkwatch.Result)
	go a.Run(runCtx, in)
	n, err := a.ResolveDeparted(ctx, func(r string) bool { return r == "a" || r == "c" })
	if err != nil || n != 1 {
		t.Fatalf("ResolveDeparted = %d, %v; want b's incident resolved", n, err)
	}
	open, _ := h.db.OpenIncidents(ctx)
	var keys []string
	for _, inc := range open {
		keys = append(keys, inc.Key)
	}
	if strings.Join(keys, " ") != "prober@a prober@c" {
		t.Errorf("open after b left: %v", keys)
	}
	var gone linkwatch.Incident
	for _, inc := range h.incidents() {
		if inc.Key == "prober@b" {
			gone = inc
		}
	}
	events, _ := h.db.IncidentEvents(ctx, gone.ID)
	if gone.Open() || len(events) == 0 || !strings.Contains(events[len(events)-1].Body, "replica b left") {
		t.Errorf("b's incident's last event = %+v", events)
	}
}

// TestMovedHostKeepsItsFlappingHistory: a host that flapped at its old
// owner is still flapping at its new one: the history is read from the
// database when the host moves, not only at start.
func TestMovedHostKeepsItsFlappingHistory(t *testing.T) {
	t.Parallel()
	h := newHarness(t, incidents.Config{})
	b := h.replica("b")
	b.SetOwnership(func(string) bool { return false })
	h.feedTo(b, up(blog)) // b starts owning nothing of shop.example
	a := h.replica("a")
	for range 3 { // shopA fails and recovers three times at a
		for range 2 {
			h.feedTo(a, down(shopA, linkwatch.CauseHTTP5xx))
			h.now = h.now.Add(10 * time.Second)
		}
		for range 2 {
			h.feedTo(a, up(shopA))
			h.now = h.now.Add(10 * time.Second)
		}
	}
	for range 10 { // stable: the flapping incident resolves
		h.feedTo(a, up(shopA))
		h.now = h.now.Add(10 * time.Second)
	}
	if open, _ := h.db.OpenIncidents(context.Background()); len(open) != 0 {
		t.Fatalf("shopA's incident is still open at a: %+v", open)
	}
	b.SetOwnership(func(string) bool { return true })
	for range 2 {
		if errs := h.feedTo(b, down(shopA, linkwatch.CauseHTTP5xx)); errs != nil {
			t.Fatal(errs)
		}
		h.now = h.now.Add(10 * time.Second)
	}
	open := incidents.OpenInMemory(b)
	if inc, ok := open["dest:"+shopA]; !ok || !inc.Flapping {
		t.Errorf("shopA failing again at its new owner: %+v, want its incident flapping from the start", open)
	}
}

// TestResolveByHandOnAnyReplica: the admin API answers on every replica
// (a load balancer picks one). An operator resolving an incident that
// another replica holds (its host is that replica's) is served by this
// one: resolved in the database, with the note, not refused as "not open".
func TestResolveByHandOnAnyReplica(t *testing.T) {
	t.Parallel()
	h := newHarness(t, incidents.Config{})
	a, b := h.replica("a"), h.replica("b")
	b.SetOwnership(func(string) bool { return false })
	for range 2 {
		if errs := h.feedTo(a, down(shopA, linkwatch.CauseHTTP5xx)); errs != nil {
			t.Fatal(errs)
		}
		h.now = h.now.Add(10 * time.Second)
	}
	list := h.incidents()
	if len(list) != 1 || !list[0].Open() {
		t.Fatalf("incidents = %+v, want one open", list)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { b.Run(ctx, nil); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	incidents.Sync(b)
	got, err := b.Resolve(context.Background(), list[0].ID, "alice", "The shop moved; link updated.")
	if err != nil {
		t.Fatalf("resolve on the replica not holding it: %v", err)
	}
	if got.Open() || got.ID != list[0].ID {
		t.Errorf("resolve returned %+v", got)
	}
	if list := h.incidents(); list[0].Open() {
		t.Errorf("still open in the database: %+v", list[0])
	}
	if ups, _ := h.db.IncidentUpdates(context.Background(), list[0].ID); len(ups) != 1 || ups[0].Body != "The shop moved; link updated." {
		t.Errorf("updates = %+v", ups)
	}
	// A second resolution is refused as before: it is not open.
	if _, err := b.Resolve(context.Background(), list[0].ID, "bob", "again"); !errors.Is(err, linkwatch.ErrConflict) {
		t.Errorf("resolving a resolved incident: %v, want ErrConflict", err)
	}
	// a learns it at its next look.
	if err := incidents.Refresh(a); err != nil {
		t.Fatal(err)
	}
	if ma := incidents.OpenInMemory(a); len(ma) != 0 {
		t.Errorf("a still holds %+v", ma)
	}
}

// TestResolvedElsewhereRestartsTheStreak: a replica holds shopA's incident
// while shopA keeps failing; the incident is resolved elsewhere: by hand on
// another replica, or by the engine of the replica the host moved to
// (seeing it answer there) before this one applied the new split. This
// replica learns it at its next refresh; shopA, still failing here, must
// fail failure_threshold checks again before a new incident opens, as
// after a resolution made here, not reopen at its very next failure.
func TestResolvedElsewhereRestartsTheStreak(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		resolve func(t *testing.T, h *harness, b *incidents.Engine, id int64)
	}{
		{"by hand", func(t *testing.T, h *harness, b *incidents.Engine, id int64) {
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan struct{})
			go func() { b.Run(ctx, nil); close(done) }()
			defer func() { cancel(); <-done }()
			if _, err := b.Resolve(context.Background(), id, "alice", "Fixed at the origin."); err != nil {
				t.Fatal(err)
			}
		}},
		{"by the engine the host moved to", func(t *testing.T, h *harness, b *incidents.Engine, id int64) {
			b.SetOwnership(func(string) bool { return true })
			for range 2 {
				if errs := h.feedTo(b, up(shopA)); errs != nil {
					t.Fatal(errs)
				}
				h.now = h.now.Add(10 * time.Second)
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, incidents.Config{FailureThreshold: 3})
			a, b := h.replica("a"), h.replica("b")
			b.SetOwnership(func(string) bool { return false })
			failAtA := func() {
				t.Helper()
				if errs := h.feedTo(a, down(shopA, linkwatch.CauseHTTP5xx)); errs != nil {
					t.Fatal(errs)
				}
				h.now = h.now.Add(10 * time.Second)
			}
			for range 4 {
				failAtA()
			}
			list := h.incidents()
			if len(list) != 1 || !list[0].Open() {
				t.Fatalf("incidents = %+v, want one open", list)
			}
			tc.resolve(t, h, b, list[0].ID)
			if list := h.incidents(); list[0].Open() {
				t.Fatalf("not resolved elsewhere: %+v", list[0])
			}
			if err := incidents.Refresh(a); err != nil {
				t.Fatal(err)
			}
			for i := 1; i < 3; i++ {
				failAtA()
				if open, _ := h.db.OpenIncidents(context.Background()); len(open) != 0 {
					t.Fatalf("a reopened shopA after %d failure(s) since the resolution, want %d: %+v", i, 3, open)
				}
			}
			failAtA()
			if open, _ := h.db.OpenIncidents(context.Background()); len(open) != 1 || open[0].ID == list[0].ID {
				t.Errorf("after 3 failures since the resolution: open = %+v, want a new incident", open)
			}
		})
	}
}

// liveList is a MemberStore that lists ids as live, and records within.
type liveList struct {
	ids    []string
	within time.Duration
}

func (l *liveList) LiveMembers(_ context.Context, within time.Duration) ([]linkwatch.Member, error) {
	l.within = within
	var out []linkwatch.Member
	for _, id := range l.ids {
		out = append(out, linkwatch.Member{ID: id})
	}
	return out, nil
}

// TestLeftReplicasIncidentsResolve: the replicas with no heartbeat within
// the lease, as the member store lists them, are the departed ones.
func TestLeftReplicasIncidentsResolve(t *testing.T) {
	t.Parallel()
	h := newHarness(t, incidents.Config{CanaryID: linkwatch.CanaryID(canaryURL)})
	ctx := context.Background()
	for _, r := range []string{"a", "b"} {
		inc := linkwatch.Incident{Key: linkwatch.ReplicaKey(linkwatch.ProberKey, r), Kind: linkwatch.KindProberOffline, Title: "Prober offline",
			Targets: []string{linkwatch.CanaryID(canaryURL)},
			Status:  linkwatch.StatusInvestigating, Impact: linkwatch.ImpactMajor, StartedAt: h.now, UpdatedAt: h.now}
		if _, err := h.db.Record(ctx, incidents.Change{Incident: inc, Alert: &linkwatch.Alert{Type: linkwatch.AlertOpened}}); err != nil {
			t.Fatal(err)
		}
	}
	a := h.replica("a")
	runCtx, stop := context.WithCancel(ctx)
	defer stop()
	go a.Run(runCtx, make(chan linkwatch.Result))
	live := &liveList{ids: []string{"a"}}
	if err := a.ResolveLeftReplicas(ctx, live, 30*time.Second); err != nil {
		t.Fatal(err)
	}
	if live.within != 30*time.Second {
		t.Errorf("live within %s of the database's time, want the lease given, 30s (the engine's clock plays no part)", live.within)
	}
	open, _ := h.db.OpenIncidents(ctx)
	if len(open) != 1 || open[0].Key != "prober@a" {
		t.Errorf("open after b left: %+v", open)
	}
}

// TestRecoveryOutlivesItsOwners: a host's outage is opened by one replica,
// and the host answers again while its checker is killed over and over
// (the chaos benchmark's SIGKILL every 30 s): each owner sees some of its
// destinations answer, not all, and dies without a hand-over; the next
// one, a restarted process or a survivor the host moves to, rebuilds the
// incident from the database. One recovery of a destination is one
// recovery however many owners saw it: the incident is not taken for
// flapping (which would hold it open until flap_stable successes at one
// owner, never reached under the kills: the chaos run's incident that
// never resolved), and the owner that sees every destination answer
// resolves it, once.
func TestRecoveryOutlivesItsOwners(t *testing.T) {
	t.Parallel()
	for _, next := range []string{"restarted", "survivor"} {
		t.Run(next, func(t *testing.T) {
			onBothStores(t, func(t *testing.T, open func(*testing.T) *storage.DB, _ bool) {
				testRecoveryOutlivesItsOwners(t, open(t), next == "survivor")
			})
		})
	}
}

func testRecoveryOutlivesItsOwners(t *testing.T, db *storage.DB, survivors bool) {
	now := t0
	db.SetClock(func() time.Time { return now })
	start := func(name string) *incidents.Engine {
		t.Helper()
		eng, err := incidents.NewEngine(context.Background(), incidents.Config{Replica: name}, db, deps, slog.New(slog.NewTextHandler(io.Discard, nil)))
		if err != nil {
			t.Fatal(err)
		}
		incidents.SetClock(eng, func() time.Time { return now })
		return eng
	}
	feed := func(eng *incidents.Engine, steps ...step) {
		t.Helper()
		for _, s := range steps {
			r := s.result(now)
			if err := eng.Handle(context.Background(), r); err != nil {
				t.Fatalf("Handle(%+v): %v", s, err)
			}
		}
		now = now.Add(10 * time.Second)
	}
	// A survivor ran all along, owning none of shop.example until the
	// host moves to it.
	standby := map[string]*incidents.Engine{}
	if survivors {
		for _, name := range []string{"b", "c"} {
			standby[name] = start(name)
			standby[name].SetOwnership(func(t string) bool { return !strings.Contains(t, "shop.example") })
			feed(standby[name], up(blog))
		}
	}
	a := start("a")
	for range 2 {
		feed(a, down(shopA, linkwatch.CauseHTTP5xx), down(shopB, linkwatch.CauseHTTP5xx))
	}
	// The host answers again. Each owner in turn sees shopA answer
	// success_threshold times and shopB once, and is killed.
	owner := a
	for _, next := range []string{"b", "c"} {
		feed(owner, up(shopA), up(shopB))
		feed(owner, up(shopA))
		if survivors {
			owner = standby[next]
			owner.SetOwnership(func(string) bool { return true })
		} else {
			owner = start(next)
		}
	}
	if open, err := db.OpenIncidents(context.Background()); err != nil || len(open) != 1 || open[0].Flapping {
		t.Fatalf("after two owners each saw part of the recovery: %+v, %v; want the host's incident open, not flapping", open, err)
	}
	feed(owner, up(shopA), up(shopB))
	feed(owner, up(shopA), up(shopB))
	list, err := db.ListIncidents(context.Background(), linkwatch.IncidentQuery{Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	alerts, err := db.Outbox(context.Background(), 100)
	if err != nil {
		t.Fatal(err)
	}
	got := strings.Join(alertTypes(alerts), " ")
	if len(list) != 1 || list[0].Open() || list[0].Flapping {
		t.Fatalf("incidents once the third owner saw every destination answer: %+v (alerts %s), want the host's incident resolved", list, got)
	}
	if got != "incident.opened incident.updated/target_added incident.resolved" {
		t.Errorf("alerts = %s, want the opening, shopB joining and one resolution", got)
	}
}
