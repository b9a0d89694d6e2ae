package incidents_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"linkwatch"
	"linkwatch/incidents"
)

// TestAcknowledgementAlerts: acknowledging an incident is an update to
// every channel (reason acknowledged, the incident naming who), written
// with the acknowledgement. A second acknowledgement and one of a resolved
// incident are refused (409) and send nothing.
func TestAcknowledgementAlerts(t *testing.T) {
	t.Parallel()
	h := newHarness(t, incidents.Config{})
	open, resolved := seedIncidents(t, h)
	srv := adminServer(t, h, adminToken)
	id := func(n int64) string { return "/api/admin/incidents/" + jsonNum(n) }
	before := len(h.alerts())

	code, body := call(t, srv, "POST", id(open)+"/ack", adminToken, "application/json", `{"by":"alice"}`)
	if code != 200 || body["acknowledged_by"] != "alice" || body["acknowledged_at"] == nil {
		t.Fatalf("ack: %d %v", code, body)
	}
	alerts := h.alerts()
	if len(alerts) != before+1 {
		t.Fatalf("alerts = %v, want one more", alertTypes(alerts))
	}
	a := alerts[len(alerts)-1]
	if a.Type != linkwatch.AlertUpdated || a.Reason != "acknowledged" || a.IncidentID != open || a.Incident.AcknowledgedBy != "alice" ||
		a.Incident.AcknowledgedAt.IsZero() || a.EventID == "" {
		t.Errorf("acknowledgement alert = %+v", a)
	}
	for _, tc := range []struct {
		name string
		id   int64
		want string
	}{
		{"again", open, "already acknowledged by alice"},
		{"resolved", resolved, "resolved"},
	} {
		code, body := call(t, srv, "POST", id(tc.id)+"/ack", adminToken, "application/json", `{"by":"bob"}`)
		if msg, _ := body["error"].(string); code != 409 || !strings.Contains(msg, tc.want) {
			t.Errorf("ack %s: %d %v, want 409 saying %q", tc.name, code, body, tc.want)
		}
	}
	if got := h.alerts(); len(got) != before+1 {
		t.Errorf("refused acknowledgements sent %v", alertTypes(got[before+1:]))
	}
	if inc, _ := h.db.Incident(context.Background(), resolved); inc.AcknowledgedBy != "" {
		t.Errorf("the resolved incident was acknowledged: %+v", inc)
	}
	var acks []string
	ev, _ := h.db.IncidentEvents(context.Background(), open)
	for _, e := range ev {
		if e.Kind == linkwatch.EventAcknowledged {
			acks = append(acks, e.Body)
		}
	}
	if len(acks) != 1 || acks[0] != "acknowledged by alice" {
		t.Errorf("acknowledgements in the timeline = %q, want one by alice", acks)
	}
	// The engine's next change keeps it, and the engine's copy follows.
	h.feed(down(shopA, linkwatch.CauseHTTP4xx))
	if inc, _ := h.db.Incident(context.Background(), open); inc.AcknowledgedBy != "alice" || inc.Cause != linkwatch.CauseHTTP4xx {
		t.Errorf("after the engine's next change: %+v", inc)
	}
}

// TestAcknowledgementFollowsTheMuteStep: like an operator's update, an
// acknowledgement goes out whenever the incident has alerted, inside a
// maintenance window too; an incident whose opening a window muted, and a
// regional note (which never alerts, nor do its operator's updates), are
// acknowledged without an alert.
func TestAcknowledgementFollowsTheMuteStep(t *testing.T) {
	t.Parallel()
	h := newHarness(t, incidents.Config{})
	ctx := context.Background()
	if _, err := h.db.CreateMaintenance(ctx, linkwatch.Maintenance{Title: "blog move", Component: "page:ada",
		StartsAt: t0.Add(-time.Hour), EndsAt: t0.Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		h.feed(down(shopA, linkwatch.CauseHTTP5xx), down(blog, linkwatch.CauseDNS))
	}
	byTarget := map[string]int64{}
	for _, inc := range h.incidents() {
		byTarget[inc.Targets[0]] = inc.ID
	}
	note, err := h.db.Record(ctx, incidents.Change{Incident: linkwatch.Incident{Key: "regional:" + shopB, Kind: linkwatch.KindRegional,
		Title: "acme/b is unreachable from eu-west", Status: linkwatch.StatusInvestigating, Impact: linkwatch.ImpactMinor,
		Targets: []string{shopB}, StartedAt: h.now, UpdatedAt: h.now}})
	if err != nil {
		t.Fatal(err)
	}
	runEngine(t, h)
	before := len(h.alerts())
	for _, id := range []int64{byTarget[blog], note.ID, byTarget[shopA]} {
		if _, err := h.eng.Acknowledge(ctx, id, "alice"); err != nil {
			t.Fatalf("acknowledge %d: %v", id, err)
		}
	}
	// An operator's update of the regional note is public, and sends
	// nothing either: the note never alerts.
	if _, err := h.eng.PostUpdate(ctx, note.ID, "", linkwatch.StatusMonitoring, "Only eu-west's network."); err != nil {
		t.Fatal(err)
	}
	got := h.alerts()[before:]
	if len(got) != 1 || got[0].IncidentID != byTarget[shopA] || got[0].Reason != "acknowledged" {
		t.Errorf("alerts = %v (incidents %v), want one, for shopA's incident only", alertTypes(got), byTarget)
	}
}

// TestAcknowledgeOnAnyReplica: the admin API answers on every replica. An
// acknowledgement made on one replica over an incident another holds is
// written over the database's copy; the holder's next change, computed
// from its older copy, is refused and decided again, keeping it. Two
// replicas acknowledging at once: one wins, the other is refused, and one
// alert goes out.
func TestAcknowledgeOnAnyReplica(t *testing.T) {
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
	if len(list) != 1 {
		t.Fatalf("incidents = %+v", list)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var running sync.WaitGroup
	for _, eng := range []*incidents.Engine{a, b} {
		running.Go(func() { eng.Run(ctx, nil) })
		incidents.Sync(eng)
	}
	before := len(h.alerts())
	var wg sync.WaitGroup
	errs := make([]error, 2)
	for i, eng := range []*incidents.Engine{a, b} {
		wg.Go(func() { _, errs[i] = eng.Acknowledge(context.Background(), list[0].ID, []string{"alice", "bob"}[i]) })
	}
	wg.Wait()
	cancel()
	running.Wait()
	won := 0
	for _, err := range errs {
		switch {
		case err == nil:
			won++
		case !errors.Is(err, linkwatch.ErrConflict) || !strings.Contains(err.Error(), "already acknowledged"):
			t.Errorf("the other acknowledgement: %v, want ErrConflict naming the first", err)
		}
	}
	if won != 1 {
		t.Fatalf("%d acknowledgements succeeded (%v), want 1", won, errs)
	}
	if got := alertTypes(h.alerts()[before:]); strings.Join(got, " ") != "incident.updated/acknowledged" {
		t.Errorf("alerts = %v, want one acknowledgement", got)
	}
	acked, _ := h.db.Incident(context.Background(), list[0].ID)
	// a, the holder, changes the incident next: its copy may be older.
	h.feedTo(a, down(shopA, linkwatch.CauseTimeout))
	h.feedTo(a, down(shopA, linkwatch.CauseTimeout))
	got, _ := h.db.Incident(context.Background(), list[0].ID)
	if got.Cause != linkwatch.CauseTimeout || got.AcknowledgedBy != acked.AcknowledgedBy || got.AcknowledgedBy == "" {
		t.Errorf("after the holder's change: cause %s, acknowledged by %q; want timeout, %q", got.Cause, got.AcknowledgedBy, acked.AcknowledgedBy)
	}
}
