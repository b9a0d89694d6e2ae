package storagetest_test

// Maintenance alerts: written with a window and by NoticeMaintenance once
// each, fanned out to email subscribers alone, the same on every backend.

import (
	"context"
	"slices"
	"testing"
	"time"

	"linkwatch"
	"linkwatch/storage"
)

func maintenanceAlerts(t *testing.T, db storage.Store, clk *Clock) {
	ctx := context.Background()
	must(t, db.RequestEmailSubscription(ctx, "ann@example.com", "", linkwatch.MaxPendingEmail))
	list, err := db.ListEmailSubscribers(ctx)
	must(t, err)
	ann, err := db.ConfirmEmailSubscriber(ctx, list[0].ID)
	must(t, err)
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
