package storagetest_test

// Maintenance alerts: written with a window and by NoticeMaintenance once
// each, fanned out to email subscribers alone, the same on every backend.

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"linkwatch"
	"linkwatch/storage"
)

func maintenanceAlerts(t *testing.T, db storage.Store, clk *Clock) {
	ctx := context.Background()
	ann := confirmedSubscriber(t, db, "ann@example.com")
	events := func() []string {
		t.Helper()
		out, err := db.Outbox(ctx, 100)
		must(t, err)
		var ids []string
		for _, a := range out {
			if a.Type.IsMaintenance() {
				if a.Maintenance == nil || a.IncidentID != 0 {
					t.Errorf("maintenance alert %s: window %v, incident %d", a.EventID, a.Maintenance, a.IncidentID)
				}
				ids = append(ids, a.EventID)
			}
		}
		return ids
	}
	// Noticed twice (a restart, another replica), and fanned out to the
	// subscriber and a webhook channel, as the dispatcher does.
	notice := func() {
		t.Helper()
		must(t, db.NoticeMaintenance(ctx))
		must(t, db.NoticeMaintenance(ctx))
		must(t, db.FanOut(ctx, []string{"hook", ann.Channel()}))
	}

	later, err := db.CreateMaintenance(ctx, linkwatch.Maintenance{Title: "Upgrade", StartsAt: t0.Add(time.Hour), EndsAt: t0.Add(2 * time.Hour)})
	must(t, err)
	// Started already when made: announced as started, not scheduled.
	_, err = db.CreateMaintenance(ctx, linkwatch.Maintenance{Title: "Now", Component: "page:acme", StartsAt: t0.Add(-time.Minute), EndsAt: t0.Add(30 * time.Minute)})
	must(t, err)
	// Starts and ends while nothing notices: no alert but its scheduling.
	_, err = db.CreateMaintenance(ctx, linkwatch.Maintenance{Title: "Unseen", StartsAt: t0.Add(3 * time.Hour), EndsAt: t0.Add(3*time.Hour + 10*time.Minute)})
	must(t, err)
	_, err = db.CreateRecurringMaintenance(ctx, linkwatch.RecurringMaintenance{Title: "Nightly", Schedule: "0 12 * * *", Duration: time.Hour})
	must(t, err)
	want := []string{"maintenance.scheduled.1", "maintenance.scheduled.3", "maintenance.scheduled.r1-20261122T1200Z"}
	if got := events(); !slices.Equal(got, want) {
		t.Fatalf("after creating: %v, want %v", got, want)
	}
	notice()
	want = append(want, "maintenance.started.2")
	if got := events(); !slices.Equal(got, want) {
		t.Fatalf("at t0: %v, want %v", got, want)
	}
	clk.Set(t0.Add(90 * time.Minute)) // "Now" ended, "Upgrade" runs
	notice()
	want = append(want, "maintenance.started.1", "maintenance.ended.2")
	if got := events(); !slices.Equal(got, want) {
		t.Fatalf("at t0+90m: %v, want %v", got, want)
	}
	clk.Set(t0.Add(150 * time.Minute)) // "Upgrade" ended; the nightly one runs
	notice()
	want = append(want, "maintenance.started.r1-20261122T1200Z", "maintenance.ended.1")
	if got := events(); !slices.Equal(got, want) {
		t.Fatalf("at t0+150m: %v, want %v", got, want)
	}
	clk.Set(t0.Add(4 * time.Hour)) // "Unseen" came and went
	notice()
	want = append(want, "maintenance.ended.r1-20261122T1200Z")
	if got := events(); !slices.Equal(got, want) {
		t.Fatalf("at t0+4h: %v, want %v", got, want)
	}
	if later.ID != 1 {
		t.Fatalf("window ids: %d", later.ID)
	}

	// Only email subscribers get them.
	mailed, err := db.PendingDeliveries(ctx, ann.Channel(), 0, 100)
	must(t, err)
	if len(mailed) != len(want) {
		t.Errorf("the email subscriber has %d deliveries, want %d", len(mailed), len(want))
	}
	hooked, err := db.PendingDeliveries(ctx, "hook", 0, 100)
	must(t, err)
	for _, d := range hooked {
		t.Errorf("the webhook channel got %s", d.Alert.EventID)
	}
	log, err := db.DeliveryLog(ctx, linkwatch.DeliveryQuery{Channel: ann.Channel(), Limit: 100})
	must(t, err)
	if len(log) != len(want) || log[0].IncidentID != 0 {
		t.Errorf("delivery log: %+v", log)
	}
	// Delivered in order, one at a time: the next is claimable only once
	// the one before is settled.
	claimed, err := db.ClaimDeliveries(ctx, ann.Channel(), "me", time.Minute, 10)
	must(t, err)
	if len(claimed) != 1 || claimed[0].Alert.EventID != want[0] {
		t.Errorf("claimed %d deliveries, want the first alone", len(claimed))
	}
}

// maintenanceCancelled: deleting a window announced as scheduled, before
// it starts, writes its maintenance.cancelled alert once, for email
// subscribers alone; deleting one mailed as started ends it now
// (maintenance.ended, ending at the deletion); deleting one never mailed
// writes nothing. A window made after a deletion is a new window (its id
// is never one a deleted window had), so it is announced. AlertSent says
// which channel was sent the announcement.
func maintenanceCancelled(t *testing.T, db storage.Store, clk *Clock) {
	ctx := context.Background()
	ann := confirmedSubscriber(t, db, "ann@example.com")
	outbox := func() map[string]linkwatch.Alert {
		t.Helper()
		out, err := db.Outbox(ctx, 100)
		must(t, err)
		m := map[string]linkwatch.Alert{}
		for _, a := range out {
			m[a.EventID] = a
		}
		return m
	}
	later, err := db.CreateMaintenance(ctx, linkwatch.Maintenance{Title: "Upgrade", StartsAt: t0.Add(time.Hour), EndsAt: t0.Add(2 * time.Hour)})
	must(t, err)
	now, err := db.CreateMaintenance(ctx, linkwatch.Maintenance{Title: "Now", StartsAt: t0.Add(-time.Minute), EndsAt: t0.Add(time.Hour)})
	must(t, err)
	nightly, err := db.CreateRecurringMaintenance(ctx, linkwatch.RecurringMaintenance{Title: "Nightly", Schedule: "0 12 * * *", Duration: time.Hour})
	must(t, err)
	must(t, db.NoticeMaintenance(ctx)) // "Now" is mailed as started
	unseen, err := db.CreateMaintenance(ctx, linkwatch.Maintenance{Title: "Unseen", StartsAt: t0.Add(-time.Minute), EndsAt: t0.Add(time.Hour)})
	must(t, err)
	must(t, db.FanOut(ctx, []string{"hook", ann.Channel()}))
	scheduled := linkwatch.MaintenanceEventID(linkwatch.AlertMaintenanceScheduled, later)
	claimed, err := db.ClaimDeliveries(ctx, ann.Channel(), "me", time.Minute, 1)
	must(t, err)
	if len(claimed) != 1 || claimed[0].Alert.EventID != scheduled {
		t.Fatalf("claimed %+v, want the announcement of %d", claimed, later.ID)
	}
	must(t, db.MarkDelivery(ctx, claimed[0].ID, linkwatch.Outcome{Status: linkwatch.DeliverySent}))
	if written, sent, err := db.AlertSent(ctx, ann.Channel(), scheduled); err != nil || !written || !sent {
		t.Errorf("AlertSent(%s) = %v, %v, %v; want written and sent", scheduled, written, sent, err)
	}
	if written, sent, err := db.AlertSent(ctx, "hook", scheduled); err != nil || !written || sent {
		t.Errorf("AlertSent to the webhook = %v, %v, %v; want written, not sent", written, sent, err)
	}

	clk.Set(t0.Add(10 * time.Minute))
	must(t, db.DeleteMaintenance(ctx, later.ID))
	must(t, db.DeleteMaintenance(ctx, now.ID))
	must(t, db.DeleteMaintenance(ctx, unseen.ID))
	must(t, db.DeleteRecurringMaintenance(ctx, nightly.ID))
	if err := db.DeleteMaintenance(ctx, later.ID); !errors.Is(err, linkwatch.ErrNotFound) {
		t.Errorf("deleting it again: %v, want not found", err)
	}
	got := outbox()
	for _, w := range []linkwatch.Maintenance{later, nightly.Upcoming(t0, 1)[0]} {
		id := linkwatch.MaintenanceEventID(linkwatch.AlertMaintenanceCancelled, w)
		a, ok := got[id]
		if !ok || a.Type != linkwatch.AlertMaintenanceCancelled || a.Maintenance == nil || a.Maintenance.Title != w.Title || a.IncidentID != 0 {
			t.Errorf("no cancellation %s: %+v", id, a)
		}
	}
	ended, ok := got[linkwatch.MaintenanceEventID(linkwatch.AlertMaintenanceEnded, now)]
	if !ok || ended.Maintenance == nil || !ended.Maintenance.EndsAt.Equal(t0.Add(10*time.Minute)) {
		t.Errorf("the window in progress, deleted, did not end at its deletion: %+v", ended.Maintenance)
	}
	for _, w := range []linkwatch.Maintenance{now, unseen} {
		if _, ok := got[linkwatch.MaintenanceEventID(linkwatch.AlertMaintenanceCancelled, w)]; ok {
			t.Errorf("the window %q, in progress, was cancelled", w.Title)
		}
	}
	for _, a := range got {
		if a.Maintenance != nil && a.Maintenance.Title == "Unseen" {
			t.Errorf("the window never mailed, deleted, has %s", a.EventID)
		}
	}
	clk.Set(t0.Add(2 * time.Hour))
	must(t, db.NoticeMaintenance(ctx))
	if n := len(outbox()); n != len(got) {
		t.Errorf("deleted windows were noticed later: %d alerts, then %d", len(got), n)
	}
	clk.Set(t0.Add(10 * time.Minute))
	must(t, db.FanOut(ctx, []string{"hook", ann.Channel()}))
	if hooked, err := db.PendingDeliveries(ctx, "hook", 0, 100); err != nil || len(hooked) != 0 {
		t.Errorf("the webhook channel got %d deliveries (%v)", len(hooked), err)
	}

	// The newest window deleted, a new one made: a new id, announced.
	next, err := db.CreateMaintenance(ctx, linkwatch.Maintenance{Title: "Again", StartsAt: t0.Add(3 * time.Hour), EndsAt: t0.Add(4 * time.Hour)})
	must(t, err)
	if next.ID == later.ID || next.ID == now.ID {
		t.Errorf("the new window has id %d, a deleted window's", next.ID)
	}
	again, err := db.CreateRecurringMaintenance(ctx, linkwatch.RecurringMaintenance{Title: "Nightly again", Schedule: "0 12 * * *", Duration: time.Hour})
	must(t, err)
	if again.ID == nightly.ID {
		t.Errorf("the new recurring window has id %d, the deleted one's", again.ID)
	}
	got = outbox()
	for _, w := range []linkwatch.Maintenance{next, again.Upcoming(t0, 1)[0]} {
		if a, ok := got[linkwatch.MaintenanceEventID(linkwatch.AlertMaintenanceScheduled, w)]; !ok || a.Maintenance.Title != w.Title {
			t.Errorf("the new window %q is not announced: %+v", w.Title, a)
		}
	}
}
