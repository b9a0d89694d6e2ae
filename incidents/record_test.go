package incidents_test

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"linkwatch"
	"linkwatch/incidents"
)

// TestGroup: an alert of the held one's reason is merged into it and
// keeps its due time; any other alert releases the held one first; an
// alert not grouped goes out at once.
func TestGroup(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)
	added := func(link string) linkwatch.Alert {
		return linkwatch.Alert{Type: linkwatch.AlertUpdated, Reason: "target_added", EventID: "msg_" + link,
			Incident: linkwatch.Incident{Title: "with " + link}, Added: []linkwatch.Affected{{Page: "p", Link: link, URL: "https://" + link + ".test/"}}}
	}
	resolved := linkwatch.Alert{Type: linkwatch.AlertResolved, EventID: "msg_resolved"}
	// posted is an alert carrying operator updates of these words, the
	// last its Update.
	posted := func(words ...string) linkwatch.Alert {
		a := linkwatch.Alert{Type: linkwatch.AlertUpdated, Reason: "update_posted", EventID: "msg_" + words[len(words)-1],
			Incident: linkwatch.Incident{Title: "after " + words[len(words)-1]}}
		for i, w := range words {
			u := linkwatch.Update{ID: int64(w[0]), Status: linkwatch.StatusIdentified, Body: w}
			if i == len(words)-1 {
				a.Update = &u
			} else {
				a.Earlier = append(a.Earlier, u)
			}
		}
		return a
	}
	held := &incidents.HeldAlert{Alert: added("a"), Due: t0.Add(30 * time.Second)}
	merged := added("a")
	merged.Incident, merged.Added = added("b").Incident, append(merged.Added, added("b").Added...)
	for _, tc := range []struct {
		name  string
		held  *incidents.HeldAlert
		a     linkwatch.Alert
		until time.Time
		want  incidents.Grouped
	}{
		{"not grouped, nothing held", nil, resolved, time.Time{}, incidents.Grouped{Send: []linkwatch.Alert{resolved}}},
		{"grouped, nothing held", nil, added("a"), t0.Add(30 * time.Second), incidents.Grouped{Hold: held}},
		{"same reason: merged, due as it was", held, added("b"), t0.Add(40 * time.Second),
			incidents.Grouped{Hold: &incidents.HeldAlert{Alert: merged, Due: held.Due}}},
		{"another reason: the held one first", held, linkwatch.Alert{Reason: "cause_changed", EventID: "msg_c"}, t0.Add(40 * time.Second),
			incidents.Grouped{Send: []linkwatch.Alert{held.Alert}, Hold: &incidents.HeldAlert{Alert: linkwatch.Alert{Reason: "cause_changed", EventID: "msg_c"}, Due: t0.Add(40 * time.Second)}}},
		{"not grouped: the held one first, then it", held, resolved, time.Time{}, incidents.Grouped{Send: []linkwatch.Alert{held.Alert, resolved}}},
		{"posted updates: merged, every one in order", &incidents.HeldAlert{Alert: posted("a", "b"), Due: held.Due}, posted("c"), t0.Add(40 * time.Second),
			incidents.Grouped{Hold: &incidents.HeldAlert{Alert: func() linkwatch.Alert { a := posted("a", "b", "c"); a.EventID = "msg_b"; return a }(), Due: held.Due}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := incidents.Group(tc.held, tc.a, tc.until); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("Group = %+v\nwant    %+v", got, tc.want)
			}
		})
	}
}

// TestChangeOver: the engine's columns come from the change; the
// acknowledgement, postmortem, start and public status stay as the
// database has them, but for what a resolution, an operator's update and
// an acknowledgement set; a stale or refused change is a conflict.
func TestChangeOver(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)
	cur := linkwatch.Incident{ID: 7, Key: "dest:x", Title: "old", Status: linkwatch.StatusIdentified, StartedAt: t0,
		AcknowledgedAt: t0.Add(time.Minute), AcknowledgedBy: "ada", Postmortem: linkwatch.Postmortem{Notes: "notes"}, Version: 3}
	change := cur
	change.Title, change.Status, change.StartedAt, change.Postmortem = "new", linkwatch.StatusInvestigating, t0.Add(time.Hour), linkwatch.Postmortem{}
	change.AcknowledgedAt, change.AcknowledgedBy = time.Time{}, ""

	got, err := incidents.Change{Incident: change}.Over(cur)
	want := cur
	want.Title, want.Version = "new", 4
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Errorf("an engine change = %+v, %v\nwant %+v", got, err, want)
	}
	resolved := change
	resolved.Status, resolved.ResolvedAt = linkwatch.StatusResolved, t0.Add(2*time.Hour)
	if got, _ := (incidents.Change{Incident: resolved}).Over(cur); got.Status != linkwatch.StatusResolved || !got.ResolvedAt.Equal(resolved.ResolvedAt) {
		t.Errorf("a resolution = %+v, want it resolved", got)
	}
	if got, _ := (incidents.Change{Incident: change, Update: &linkwatch.Update{}}).Over(cur); got.Status != linkwatch.StatusInvestigating {
		t.Errorf("an operator's update set status %q, want investigating", got.Status)
	}
	fresh := cur
	fresh.AcknowledgedAt, fresh.AcknowledgedBy = time.Time{}, ""
	ack := fresh
	ack.AcknowledgedAt, ack.AcknowledgedBy = t0.Add(3*time.Minute), "bob"
	if got, err := (incidents.Change{Incident: ack, Acknowledged: true}).Over(fresh); err != nil || got.AcknowledgedBy != "bob" {
		t.Errorf("an acknowledgement = %+v, %v; want bob's", got, err)
	}
	for name, c := range map[string]struct {
		change incidents.Change
		says   string
	}{
		"acknowledged twice":  {incidents.Change{Incident: ack, Acknowledged: true}, "already acknowledged by ada"},
		"computed from older": {incidents.Change{Incident: linkwatch.Incident{ID: 7, Version: 2}}, "changed since version 2 (now 3)"},
	} {
		if _, err := c.change.Over(cur); !errors.Is(err, linkwatch.ErrConflict) || !strings.Contains(err.Error(), c.says) {
			t.Errorf("%s: %v, want a conflict that says %q", name, err, c.says)
		}
	}
}
