package storagetest_test

// The status page's email subscribers: the same on every backend.

import (
	"context"
	"errors"
	"strconv"
	"testing"
	"time"

	"linkwatch"
	"linkwatch/incidents"
	"linkwatch/storage"
)

func emailSubscribers(t *testing.T, db storage.Store, clk *Clock) {
	ctx := context.Background()
	find := func(addr string) (linkwatch.EmailSubscriber, bool) {
		t.Helper()
		list, err := db.ListEmailSubscribers(ctx)
		must(t, err)
		for _, s := range list {
			if s.Address == addr {
				return s, true
			}
		}
		return linkwatch.EmailSubscriber{}, false
	}
	must(t, db.RequestEmailSubscription(ctx, "ann@example.com", "acme", linkwatch.MaxPendingEmail))
	ann, ok := find("ann@example.com")
	if !ok || ann.Confirmed() || !ann.ConfirmDue || ann.Page != "acme" || len(ann.Key) != 32 || !ann.RequestedAt.Equal(t0) {
		t.Fatalf("requested: %+v", ann)
	}
	// Within the hour a request changes nothing, not even the page.
	clk.Set(t0.Add(30 * time.Minute))
	must(t, db.RequestEmailSubscription(ctx, "ann@example.com", "beta", linkwatch.MaxPendingEmail))
	if s, _ := find("ann@example.com"); s.Page != "acme" || !s.RequestedAt.Equal(t0) {
		t.Errorf("a request within the hour changed %+v", s)
	}
	// One replica sends the confirmation; a failed one is due again later.
	claim := func(owner string) bool {
		t.Helper()
		ok, err := db.ClaimConfirmation(ctx, ann.ID, owner, time.Minute)
		must(t, err)
		return ok
	}
	if !claim("a") || claim("b") {
		t.Error("confirmation claims: a must hold it against b")
	}
	must(t, db.RecordConfirmation(ctx, ann.ID, linkwatch.Outcome{Status: linkwatch.DeliveryPending, NextAt: clk.Now().Add(time.Minute), Error: "email: SMTP 451"}))
	if s, _ := find("ann@example.com"); !s.ConfirmDue || s.ConfirmAttempts != 1 || !s.ConfirmNextAt.Equal(clk.Now().Add(time.Minute)) {
		t.Errorf("after a failed attempt: %+v", s)
	}
	if claim("b") {
		t.Error("claimed before its next attempt is due")
	}
	clk.Set(t0.Add(31 * time.Minute))
	if !claim("b") {
		t.Error("not claimable when due")
	}
	must(t, db.RecordConfirmation(ctx, ann.ID, linkwatch.Outcome{Status: linkwatch.DeliverySent}))
	if s, _ := find("ann@example.com"); s.ConfirmDue || s.ConfirmAttempts != 0 {
		t.Errorf("after sending: %+v", s)
	}

	// An alert before the confirmation never reaches the subscriber.
	_, err := db.Record(ctx, incidents.Change{Incident: openIncident("dest:before", t0), Alert: &linkwatch.Alert{Type: linkwatch.AlertOpened}})
	must(t, err)
	ann, err = db.ConfirmEmailSubscriber(ctx, ann.ID)
	must(t, err)
	if !ann.Confirmed() {
		t.Fatalf("confirmed: %+v", ann)
	}
	_, err = db.Record(ctx, incidents.Change{Incident: openIncident("dest:after", t0), Alert: &linkwatch.Alert{Type: linkwatch.AlertOpened}})
	must(t, err)
	must(t, db.FanOut(ctx, []string{ann.Channel()}))
	pending, err := db.PendingDeliveries(ctx, ann.Channel(), 0, 10)
	must(t, err)
	if len(pending) != 1 || pending[0].Alert.Incident.Key != "dest:after" {
		t.Errorf("deliveries after confirming: %+v, want dest:after alone", pending)
	}

	must(t, db.SetEmailScope(ctx, ann.ID, ""))
	must(t, db.RequestEmailSubscription(ctx, "bob@example.com", "", linkwatch.MaxPendingEmail))
	counts, err := db.CountEmailSubscribers(ctx)
	must(t, err)
	if len(counts) != 1 || counts[""] != 1 {
		t.Errorf("counts %v: want one confirmed subscriber of every page (bob is pending)", counts)
	}

	// A 5xx to a pending address forgets it; to a confirmed one, switches
	// its channel off and nothing else.
	bob, _ := find("bob@example.com")
	must(t, db.RecordConfirmation(ctx, bob.ID, linkwatch.Outcome{Status: linkwatch.DeliveryDisabled, Error: "email: SMTP 550"}))
	if _, ok := find("bob@example.com"); ok {
		t.Error("a refused pending address is kept")
	}
	must(t, db.RecordConfirmation(ctx, ann.ID, linkwatch.Outcome{Status: linkwatch.DeliveryDisabled, Error: "email: SMTP 550"}))
	if s, _ := find("ann@example.com"); s.BouncedAt.IsZero() || s.BounceReason != "email: SMTP 550" {
		t.Errorf("bounced: %+v", s)
	}
	must(t, db.FanOut(ctx, []string{ann.Channel()}))

	// Leaving deletes the row and closes what was pending.
	must(t, db.DeleteEmailSubscriber(ctx, ann.ID))
	if _, ok := find("ann@example.com"); ok {
		t.Error("the address is kept after leaving")
	}
	if err := db.DeleteEmailSubscriber(ctx, ann.ID); !errors.Is(err, linkwatch.ErrNotFound) {
		t.Errorf("deleting again: %v", err)
	}
	if _, err := db.EmailSubscriber(ctx, ann.ID); !errors.Is(err, linkwatch.ErrNotFound) {
		t.Errorf("reading a deleted subscriber: %v", err)
	}
	if err := db.SetEmailScope(ctx, ann.ID, "acme"); !errors.Is(err, linkwatch.ErrNotFound) {
		t.Errorf("scoping a deleted subscriber: %v", err)
	}

	// Pending subscriptions are bounded, and expire.
	const bound = 3
	for i := range bound {
		must(t, db.RequestEmailSubscription(ctx, "p"+strconv.Itoa(i)+"@example.com", "", bound))
	}
	if err := db.RequestEmailSubscription(ctx, "one-more@example.com", "", bound); !errors.Is(err, linkwatch.ErrEmailPendingFull) {
		t.Errorf("beyond the bound: %v, want ErrEmailPendingFull", err)
	}
	clk.Set(clk.Now().Add(2*linkwatch.EmailConfirmFor + time.Second))
	must(t, db.RequestEmailSubscription(ctx, "one-more@example.com", "", bound))
	list, err := db.ListEmailSubscribers(ctx)
	must(t, err)
	if len(list) != 1 {
		t.Errorf("%d subscribers: the expired pending ones are kept", len(list))
	}
}
