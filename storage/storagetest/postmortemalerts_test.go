package storagetest_test

// Postmortem alerts: written with the first publication of a resolved
// incident's postmortem, once, fanned out to email subscribers alone,
// the same on every backend.

import (
	"context"
	"errors"
	"slices"
	"strconv"
	"testing"
	"time"

	"linkwatch"
	"linkwatch/incidents"
	"linkwatch/storage"
)

func postmortemAlerts(t *testing.T, db storage.Store, clk *Clock) {
	ctx := context.Background()
	ann := confirmedSubscriber(t, db, "ann@example.com")
	postmortems := func() []linkwatch.Alert {
		t.Helper()
		out, err := db.Outbox(ctx, 100)
		must(t, err)
		return slices.DeleteFunc(out, func(a linkwatch.Alert) bool { return a.Type != linkwatch.AlertPostmortem })
	}
	edit := func(id int64, pm linkwatch.Postmortem) {
		t.Helper()
		_, err := db.EditPostmortem(ctx, id, pm)
		must(t, err)
	}
	draft := linkwatch.Postmortem{PrimaryCause: "A full disk.", ContributingFactors: "No log rotation.", WhyNotCaught: "No disk alert."}
	published := draft
	published.Published = true

	// Published while open: the resolution carries it, no alert of its own.
	early, err := db.Record(ctx, incidents.Change{Incident: openIncident("dest:https://early.example/", t0), Alert: &linkwatch.Alert{Type: linkwatch.AlertOpened}})
	must(t, err)
	edit(early.ID, published)
	if got := postmortems(); len(got) != 0 {
		t.Fatalf("published while open: %d postmortem alerts", len(got))
	}
	early, err = db.Incident(ctx, early.ID)
	must(t, err)
	early.Status, early.ResolvedAt = linkwatch.StatusResolved, t0
	_, err = db.Record(ctx, incidents.Change{Incident: early, Alert: &linkwatch.Alert{Type: linkwatch.AlertResolved}})
	must(t, err)
	edit(early.ID, draft)
	edit(early.ID, published) // the resolution carried it already
	if got := postmortems(); len(got) != 0 {
		t.Fatalf("published again after a resolution that carried it: %d postmortem alerts", len(got))
	}

	inc, err := db.Record(ctx, incidents.Change{Incident: openIncident("dest:https://shop.example/", t0), Alert: &linkwatch.Alert{Type: linkwatch.AlertOpened}})
	must(t, err)
	inc.Status, inc.ResolvedAt = linkwatch.StatusResolved, t0
	_, err = db.Record(ctx, incidents.Change{Incident: inc, Alert: &linkwatch.Alert{Type: linkwatch.AlertResolved}})
	must(t, err)
	edit(inc.ID, draft)
	if got := postmortems(); len(got) != 0 {
		t.Fatalf("a draft: %d postmortem alerts", len(got))
	}
	clk.Set(t0.Add(time.Hour))
	edit(inc.ID, published)
	got := postmortems()
	if len(got) != 1 {
		t.Fatalf("published: %d postmortem alerts, want 1", len(got))
	}
	a := got[0]
	if a.EventID != "incident.postmortem."+strconv.FormatInt(inc.ID, 10) || a.IncidentID != inc.ID || !a.Incident.Postmortem.Published ||
		a.Incident.Postmortem.PrimaryCause != draft.PrimaryCause || !a.CreatedAt.Equal(t0.Add(time.Hour)) ||
		!a.Incident.Postmortem.UpdatedAt.Equal(a.CreatedAt) {
		t.Errorf("postmortem alert: %+v", a)
	}
	// Published again, edited, taken down and published again: nothing more.
	edit(inc.ID, published)
	edited := published
	edited.Notes = "Bigger disk."
	edit(inc.ID, edited)
	edit(inc.ID, draft)
	edit(inc.ID, edited)
	if got := postmortems(); len(got) != 1 {
		t.Fatalf("after publishing again and editing: %d postmortem alerts, want 1", len(got))
	}
	// An incident that is not there: an error, nothing written.
	if _, err := db.EditPostmortem(ctx, inc.ID+100, published); !errors.Is(err, linkwatch.ErrNotFound) {
		t.Errorf("editing a missing incident: %v, want ErrNotFound", err)
	}
	if got := postmortems(); len(got) != 1 {
		t.Fatalf("after a missing incident: %d postmortem alerts, want 1", len(got))
	}

	// Only email subscribers get it, after the incident's resolution.
	must(t, db.FanOut(ctx, []string{"hook", ann.Channel()}))
	hooked, err := db.PendingDeliveries(ctx, "hook", 0, 100)
	must(t, err)
	for _, d := range hooked {
		if d.Alert.Type == linkwatch.AlertPostmortem {
			t.Errorf("the webhook channel got %s", d.Alert.EventID)
		}
	}
	mailed, err := db.PendingDeliveries(ctx, ann.Channel(), 0, 100)
	must(t, err)
	n := 0
	for _, d := range mailed {
		if d.Alert.Type == linkwatch.AlertPostmortem {
			n++
		}
	}
	if n != 1 {
		t.Errorf("the email subscriber has %d postmortem deliveries, want 1", n)
	}
}

// confirmedSubscriber makes addr an email subscriber of every page who
// followed the confirmation mail, in a database with no other subscriber.
func confirmedSubscriber(t *testing.T, db storage.Store, addr string) linkwatch.EmailSubscriber {
	t.Helper()
	ctx := context.Background()
	must(t, db.RequestEmailSubscription(ctx, addr, "", linkwatch.MaxPendingEmail))
	list, err := db.ListEmailSubscribers(ctx)
	must(t, err)
	if len(list) != 1 || list[0].Address != addr {
		t.Fatalf("subscribers %+v, want %s alone", list, addr)
	}
	s, err := db.ConfirmEmailSubscriber(ctx, list[0].ID)
	must(t, err)
	return s
}
