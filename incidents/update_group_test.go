package incidents_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"linkwatch"
	"linkwatch/incidents"
)

// updateBodies returns the words of every public update an alert carries.
func updateBodies(a linkwatch.Alert) []string {
	var out []string
	for _, u := range a.Updates() {
		out = append(out, u.Body)
	}
	return out
}

// TestPostedUpdatesAreGrouped: an operator's public updates posted within
// alerts.group_interval are one alert carrying each, in order, under the
// newest one's status, as automatic updates are: the group lives in the
// database, so one posted after a restart joins it and the fan-out
// releases it when due. An update after the interval is an alert of its
// own; a resolution inside its interval sends it first. The opening goes
// out at once. Before, each update was an alert of its own, at once.
func TestPostedUpdatesAreGrouped(t *testing.T) {
	ctx := context.Background()
	h := newHarness(t, incidents.Config{GroupInterval: 30 * time.Second})
	h.feed(down(shopA, linkwatch.CauseHTTP5xx))
	h.feed(down(shopA, linkwatch.CauseHTTP5xx))
	runEngine(t, h)
	id := h.incidents()[0].ID
	post := func(status linkwatch.IncidentStatus, body string) {
		t.Helper()
		if _, err := h.eng.PostUpdate(ctx, id, "ada", status, body); err != nil {
			t.Fatal(err)
		}
	}
	fanOut := func() {
		t.Helper()
		if err := h.db.FanOut(ctx, nil); err != nil {
			t.Fatal(err)
		}
	}
	first := h.now
	post(linkwatch.StatusIdentified, "The shop's host is restarting.")
	h.now = h.now.Add(10 * time.Second)
	post(linkwatch.StatusIdentified, "The shop's host is restarting its servers.") // a correction
	h.restart()
	runEngine(t, h)
	h.now = first.Add(29 * time.Second)
	post(linkwatch.StatusMonitoring, "A fix is out; we are watching.")
	fanOut()
	if got := alertTypes(h.alerts()); !slices.Equal(got, []string{"incident.opened"}) {
		t.Fatalf("alerts inside the group interval = %v, want the opening alone", got)
	}

	h.now = first.Add(30 * time.Second)
	fanOut()
	all := h.alerts()
	if got := alertTypes(all); !slices.Equal(got, []string{"incident.opened", "incident.updated/update_posted"}) {
		t.Fatalf("alerts = %v, want the opening and one grouped update", got)
	}
	grouped := all[1]
	want := []string{"The shop's host is restarting.", "The shop's host is restarting its servers.", "A fix is out; we are watching."}
	if got := updateBodies(grouped); !slices.Equal(got, want) {
		t.Errorf("the grouped update carries %q, want %q", got, want)
	}
	if grouped.Update == nil || grouped.Update.Status != linkwatch.StatusMonitoring || grouped.Incident.Status != linkwatch.StatusMonitoring {
		t.Errorf("the grouped update is not the newest one's status: update %+v, incident %s", grouped.Update, grouped.Incident.Status)
	}
	for i, u := range grouped.Updates() {
		if u.ID == 0 || u.IncidentID != id {
			t.Errorf("update %d lacks its stored id: %+v", i, u)
		}
	}

	// After the interval: its own group, which a resolution by hand
	// inside it sends first.
	h.now = h.now.Add(5 * time.Second)
	post(linkwatch.StatusMonitoring, "Still watching.")
	h.now = h.now.Add(5 * time.Second)
	if _, err := h.eng.Resolve(ctx, id, "ada", "All good now."); err != nil {
		t.Fatal(err)
	}
	all = h.alerts()
	if got := alertTypes(all); !slices.Equal(got, []string{"incident.opened", "incident.updated/update_posted", "incident.updated/update_posted", "incident.resolved"}) {
		t.Fatalf("alerts = %v, want the held update before the resolution", got)
	}
	if got := updateBodies(all[2]); !slices.Equal(got, []string{"Still watching."}) {
		t.Errorf("the update after the interval carries %q", got)
	}
	if got := updateBodies(all[3]); !slices.Equal(got, []string{"All good now."}) {
		t.Errorf("the resolution carries %q", got)
	}
}

// TestUpdatesPostedWhileTheOpeningIsHeldRideInIt: an incident opened
// inside a maintenance window is held (no channel has heard of it), so an
// operator's public updates to it send nothing then; once the window has
// ended and it still fails, its opening carries them, in order. Before,
// they reached no channel at all.
func TestUpdatesPostedWhileTheOpeningIsHeldRideInIt(t *testing.T) {
	ctx := context.Background()
	h := newHarness(t, incidents.Config{GroupInterval: 30 * time.Second})
	if _, err := h.db.CreateMaintenance(ctx, linkwatch.Maintenance{Title: "shop move", StartsAt: t0, EndsAt: t0.Add(45 * time.Second)}); err != nil {
		t.Fatal(err)
	}
	h.feed(down(shopA, linkwatch.CauseHTTP5xx))
	h.feed(down(shopA, linkwatch.CauseHTTP5xx)) // opens, held
	runEngine(t, h)
	inc := h.incidents()[0]
	if !inc.AlertsSuppressed {
		t.Fatalf("the incident is not held: %+v", inc)
	}
	for _, body := range []string{"The move takes longer than planned.", "Back within minutes."} {
		if _, err := h.eng.PostUpdate(ctx, inc.ID, "ada", linkwatch.StatusIdentified, body); err != nil {
			t.Fatal(err)
		}
	}
	h.feed(down(shopA, linkwatch.CauseHTTP5xx)) // t0+20: inside
	if err := h.db.FanOut(ctx, nil); err != nil {
		t.Fatal(err)
	}
	if a := h.alerts(); len(a) != 0 {
		t.Fatalf("alerts while the opening is held: %v", alertTypes(a))
	}
	h.now = t0.Add(50 * time.Second) // the window is over
	h.feed(down(shopA, linkwatch.CauseHTTP5xx))
	all := h.alerts()
	if got := alertTypes(all); !slices.Equal(got, []string{"incident.opened"}) {
		t.Fatalf("alerts after the window = %v, want the opening", got)
	}
	if got := updateBodies(all[0]); !slices.Equal(got, []string{"The move takes longer than planned.", "Back within minutes."}) {
		t.Errorf("the opening carries %q, want both updates in order", got)
	}
	if all[0].Incident.Status != linkwatch.StatusIdentified {
		t.Errorf("the opening's incident is %s, want identified", all[0].Incident.Status)
	}
}
