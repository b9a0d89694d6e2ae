package storagetest_test

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"linkwatch"
	"linkwatch/incidents"
	"linkwatch/storage"
)

// members: a heartbeat makes a member live until its lease ends, both
// reckoned by the database's clock; the region filters; Leave ends it at
// once.
func members(t *testing.T, db storage.Store, clk *Clock) {
	ctx := context.Background()
	must(t, db.Heartbeat(ctx, linkwatch.Member{ID: "a-1", Addr: "10.0.0.1:8080"}))
	must(t, db.Heartbeat(ctx, linkwatch.Member{ID: "e-1", Region: "eu-west", Addr: "10.1.0.1:8080"}))
	clk.Set(t0.Add(5 * time.Second))
	must(t, db.Heartbeat(ctx, linkwatch.Member{ID: "a-1", Addr: "10.0.0.1:8080"}))
	ids := func(ms []linkwatch.Member, err error) []string {
		t.Helper()
		must(t, err)
		var out []string
		for _, m := range ms {
			out = append(out, m.ID)
		}
		return out
	}
	got, err := db.Members(ctx, "", 35*time.Second)
	must(t, err)
	if len(got) != 1 || got[0].ID != "a-1" || got[0].Addr != "10.0.0.1:8080" || !got[0].StartedAt.Equal(t0) || !got[0].HeartbeatAt.Equal(t0.Add(5*time.Second)) {
		t.Errorf("members of the unnamed region = %+v; want a-1 started at %s, last seen 5s later", got, t0)
	}
	if all := ids(db.LiveMembers(ctx, 35*time.Second)); !slices.Equal(all, []string{"a-1", "e-1"}) {
		t.Errorf("live members = %v", all)
	}
	// A lease of 4 s: e-1's heartbeat, 5 s ago, is older; a-1's is not.
	if all := ids(db.LiveMembers(ctx, 4*time.Second)); !slices.Equal(all, []string{"a-1"}) {
		t.Errorf("live members within 4s = %v, want a-1", all)
	}
	clk.Set(t0.Add(40 * time.Second))
	if all := ids(db.LiveMembers(ctx, 30*time.Second)); len(all) != 0 {
		t.Errorf("live members 35 s after the last heartbeat, with a lease of 30 s: %v, want none", all)
	}
	clk.Set(t0.Add(5 * time.Second))
	must(t, db.Leave(ctx, "a-1"))
	if all := ids(db.LiveMembers(ctx, 35*time.Second)); !slices.Equal(all, []string{"e-1"}) {
		t.Errorf("live members after a-1 left = %v, want e-1", all)
	}
	held, err := db.HoldLock(ctx, "jobs")
	must(t, err)
	again, err := db.HoldLock(ctx, "jobs")
	must(t, err)
	if !held || !again {
		t.Errorf("the only process does not hold the jobs lock: %v, then %v", held, again)
	}
	db.ReleaseLock("jobs")
}

// claimDeliveries: a claim is exclusive until its lease ends, and an
// incident's deliveries are claimed one at a time, in order.
func claimDeliveries(t *testing.T, db storage.Store, clk *Clock) {
	ctx := context.Background()
	x, err := db.Record(ctx, incidents.Change{Incident: openIncident("dest:x", t0), Alert: &linkwatch.Alert{Type: linkwatch.AlertOpened}})
	must(t, err)
	_, err = db.Record(ctx, incidents.Change{Incident: openIncident("dest:y", t0), Alert: &linkwatch.Alert{Type: linkwatch.AlertOpened}})
	must(t, err)
	_, err = db.Record(ctx, incidents.Change{Incident: x, Alert: &linkwatch.Alert{Type: linkwatch.AlertUpdated, Reason: "cause_changed"}})
	must(t, err)
	must(t, db.FanOut(ctx, []string{"slack"}))
	kinds := func(ds []linkwatch.Delivery) []string {
		var out []string
		for _, d := range ds {
			out = append(out, d.Alert.Incident.Key+" "+string(d.Alert.Type))
		}
		return out
	}
	first, err := db.ClaimDeliveries(ctx, "slack", "r1", time.Minute, 10)
	must(t, err)
	if got := kinds(first); !slices.Equal(got, []string{"dest:x incident.opened", "dest:y incident.opened"}) {
		t.Fatalf("first claim = %v; want each incident's first alert, not x's update behind its opening", got)
	}
	if again, _ := db.ClaimDeliveries(ctx, "slack", "r2", time.Minute, 10); len(again) != 0 {
		t.Fatalf("claimed twice: %v", kinds(again))
	}
	// Its own claims a dispatcher takes back (after a send it gave up on).
	if mine, _ := db.ClaimDeliveries(ctx, "slack", "r1", time.Minute, 10); !slices.Equal(kinds(mine), kinds(first)) {
		t.Fatalf("r1 claiming again: %v, want its own claims %v", kinds(mine), kinds(first))
	}
	must(t, db.MarkDelivery(ctx, first[0].ID, linkwatch.Outcome{Status: "sent", HTTPStatus: 200}))
	next, err := db.ClaimDeliveries(ctx, "slack", "r2", time.Minute, 10)
	must(t, err)
	if got := kinds(next); !slices.Equal(got, []string{"dest:x incident.updated"}) {
		t.Fatalf("after x's opening was sent: %v, want x's update", got)
	}
	// x's update fails and is retried later; y's claimer dies: its claim
	// expires and another claims it (the same event id).
	must(t, db.MarkDelivery(ctx, next[0].ID, linkwatch.Outcome{Status: "pending", NextAt: t0.Add(5 * time.Minute), Error: "503"}))
	clk.Set(t0.Add(61 * time.Second))
	retried, err := db.ClaimDeliveries(ctx, "slack", "r3", time.Minute, 10)
	must(t, err)
	if len(retried) != 1 || retried[0].ID != first[1].ID || retried[0].Alert.EventID != first[1].Alert.EventID {
		t.Fatalf("after the claim expired: %v, want y's opening again", kinds(retried))
	}
	must(t, db.MarkDelivery(ctx, retried[0].ID, linkwatch.Outcome{Status: "sent", HTTPStatus: 200}))
	// A dispatcher stopping hands its claims back: another claims them at once.
	third, err := db.Record(ctx, incidents.Change{Incident: openIncident("dest:w", t0), Alert: &linkwatch.Alert{Type: linkwatch.AlertOpened}})
	must(t, err)
	must(t, db.FanOut(ctx, []string{"slack"}))
	if got, _ := db.ClaimDeliveries(ctx, "slack", "r4", time.Minute, 10); len(got) != 1 || got[0].Alert.IncidentID != third.ID {
		t.Fatalf("r4 claimed %v, want w's opening", kinds(got))
	}
	must(t, db.ReleaseClaims(ctx, "r4"))
	handed, err := db.ClaimDeliveries(ctx, "slack", "r5", time.Minute, 10)
	must(t, err)
	if len(handed) != 1 || handed[0].Alert.IncidentID != third.ID {
		t.Fatalf("after r4 released its claims, r5 claimed %v", kinds(handed))
	}
	must(t, db.MarkDelivery(ctx, handed[0].ID, linkwatch.Outcome{Status: "sent", HTTPStatus: 200}))
	clk.Set(t0.Add(5 * time.Minute))
	due, err := db.ClaimDeliveries(ctx, "slack", "r3", time.Minute, 10)
	must(t, err)
	if got := kinds(due); !slices.Equal(got, []string{"dest:x incident.updated"}) || due[0].Attempts != 1 {
		t.Fatalf("once the retry is due: %v", got)
	}
}

// staleWriteConflicts: a change computed from an incident another replica
// has changed since is refused with ErrConflict and writes nothing, and so
// is opening a key that is already open.
func staleWriteConflicts(t *testing.T, db storage.Store, _ *Clock) {
	ctx := context.Background()
	inc, err := db.Record(ctx, incidents.Change{Incident: openIncident("dest:z", t0)})
	must(t, err)
	mine, theirs := inc, inc
	theirs.Summary, theirs.UpdatedAt = "theirs", t0.Add(time.Second)
	saved, err := db.Record(ctx, incidents.Change{Incident: theirs, Events: []linkwatch.Event{{At: t0, Kind: linkwatch.EventCauseChanged, Body: "theirs"}}})
	must(t, err)
	if saved.Version != inc.Version+1 {
		t.Errorf("version %d after one change of version %d", saved.Version, inc.Version)
	}
	mine.Summary = "mine"
	_, err = db.Record(ctx, incidents.Change{Incident: mine, Events: []linkwatch.Event{{At: t0, Kind: linkwatch.EventCauseChanged, Body: "mine"}},
		Alert: &linkwatch.Alert{Type: linkwatch.AlertUpdated, Reason: "cause_changed"}})
	if !errors.Is(err, linkwatch.ErrConflict) {
		t.Fatalf("a stale write: %v, want ErrConflict", err)
	}
	got, err := db.Incident(ctx, inc.ID)
	must(t, err)
	events, err := db.IncidentEvents(ctx, inc.ID)
	must(t, err)
	alerts, err := db.Outbox(ctx, 10)
	must(t, err)
	if got.Summary != "theirs" || len(events) != 1 || len(alerts) != 0 {
		t.Errorf("the stale write left: summary %q, %d events, %d alerts", got.Summary, len(events), len(alerts))
	}
	if _, err := db.Record(ctx, incidents.Change{Incident: openIncident("dest:z", t0)}); !errors.Is(err, linkwatch.ErrConflict) {
		t.Errorf("opening an open key: %v, want ErrConflict", err)
	}
}

// followedIncidents: whether a channel has an earlier delivery of an
// incident that its filters did not leave out (the dispatcher then sends
// the incident's later alerts whatever min_impact says).
func followedIncidents(t *testing.T, db storage.Store, _ *Clock) {
	ctx := context.Background()
	x, err := db.Record(ctx, incidents.Change{Incident: openIncident("dest:x", t0), Alert: &linkwatch.Alert{Type: linkwatch.AlertOpened}})
	must(t, err)
	_, err = db.Record(ctx, incidents.Change{Incident: x, Alert: &linkwatch.Alert{Type: linkwatch.AlertUpdated, Reason: "cause_changed"}})
	must(t, err)
	must(t, db.FanOut(ctx, []string{"slack", "webhook:ops"}))
	pending, err := db.PendingDeliveries(ctx, "slack", 0, 10)
	must(t, err)
	if len(pending) != 2 {
		t.Fatalf("%d pending on slack, want 2", len(pending))
	}
	opening, update := pending[0], pending[1]
	followed := func(channel string, before int64) bool {
		t.Helper()
		ok, err := db.Followed(ctx, channel, x.ID, before)
		must(t, err)
		return ok
	}
	if !followed("slack", update.ID) {
		t.Errorf("the opening, pending, does not count as followed")
	}
	if followed("slack", opening.ID) {
		t.Errorf("a delivery counts as followed by itself")
	}
	must(t, db.MarkDelivery(ctx, opening.ID, linkwatch.Outcome{Status: linkwatch.DeliveryFiltered}))
	if followed("slack", update.ID) {
		t.Errorf("a filtered opening counts as followed")
	}
	must(t, db.MarkDelivery(ctx, opening.ID, linkwatch.Outcome{Status: "sent"}))
	if !followed("slack", update.ID) || followed("slack:other", update.ID) {
		t.Errorf("a sent opening: followed on slack only")
	}
	if ok, err := db.Followed(ctx, "slack", x.ID+1, update.ID+100); err != nil || ok {
		t.Errorf("another incident followed: %v, %v", ok, err)
	}
}
