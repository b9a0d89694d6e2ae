package storagetest_test

// Subscriptions made through the admin API, the delivery log, redelivery
// and replay: the same on every backend.

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"linkwatch"
	"linkwatch/incidents"
	"linkwatch/storage"
)

func subscriptions(t *testing.T, db storage.Store, clk *Clock) {
	ctx := context.Background()
	// An alert made before the subscription: it never gets it.
	_, err := db.Record(ctx, incidents.Change{Incident: openIncident("dest:old", t0), Alert: &linkwatch.Alert{Type: linkwatch.AlertOpened}})
	must(t, err)
	f := linkwatch.Filter{Pages: []string{"acme"}, MinImpact: linkwatch.ImpactMajor}
	s, err := db.CreateSubscription(ctx, linkwatch.Subscription{URL: "https://hooks.example/a", Description: "acme team", Filter: f, Secret: "whsec_one"})
	must(t, err)
	if s.ID <= 0 || s.State() != linkwatch.SubscriptionPending || !s.VerifyDue || s.Secret != "whsec_one" || !s.CreatedAt.Equal(t0) {
		t.Fatalf("created = %+v", s)
	}
	if !slices.Equal(s.Filter.Pages, f.Pages) || s.Filter.MinImpact != f.MinImpact {
		t.Errorf("filters = %+v, want %+v", s.Filter, f)
	}
	must(t, db.RecordVerification(ctx, s.ID, linkwatch.Outcome{Status: "dead", HTTPStatus: 400, Error: "POST https://hooks.example/a: 400 Bad Request"}))
	if s, _ = db.Subscription(ctx, s.ID); s.State() != linkwatch.SubscriptionPending || s.VerifyDue || s.VerifyError == "" {
		t.Errorf("after a failed verification: %+v", s)
	}
	if s, err = db.RequestVerification(ctx, s.ID); err != nil || !s.VerifyDue {
		t.Errorf("verification requested again: %+v, %v", s, err)
	}
	// Of two replicas, one sends it; the other takes it over only once the
	// claim has expired, and the claimer itself (restarted) at once.
	claim := func(owner string) bool {
		t.Helper()
		ok, err := db.ClaimVerification(ctx, s.ID, owner, time.Minute)
		must(t, err)
		return ok
	}
	if !claim("a") || claim("b") || !claim("a") {
		t.Errorf("verification claims: a must hold it against b")
	}
	clk.Set(t0.Add(time.Minute))
	if !claim("b") || claim("a") {
		t.Errorf("an expired claim is not taken over by b")
	}
	// A replica stopping mid-send hands it back (ReleaseClaims, as its
	// deliveries): another sends it at once, not after the lease.
	must(t, db.ReleaseClaims(ctx, "b"))
	if !claim("a") {
		t.Errorf("a verification claim released is not claimable")
	}
	must(t, db.RecordVerification(ctx, s.ID, linkwatch.Outcome{Status: "sent"}))
	s, err = db.Subscription(ctx, s.ID)
	must(t, err)
	if s.State() != linkwatch.SubscriptionActive || s.VerifyError != "" || !s.VerifiedAt.Equal(t0.Add(time.Minute)) {
		t.Errorf("after verification: %+v", s)
	}
	if claim("c") {
		t.Errorf("a verification recorded is claimed again")
	}
	if _, err = db.RequestVerification(ctx, s.ID); err != nil {
		t.Fatal(err)
	}
	if !claim("c") {
		t.Errorf("a verification asked again is not claimable: the recorded one's claim was not ended")
	}
	must(t, db.RecordVerification(ctx, s.ID, linkwatch.Outcome{Status: "sent"}))
	ch := s.Channel()
	// Active from now on: the older alert is not fanned out to it.
	must(t, db.FanOut(ctx, []string{ch}))
	if log, _ := db.DeliveryLog(ctx, linkwatch.DeliveryQuery{Channel: ch, Limit: 10}); len(log) != 0 {
		t.Fatalf("a new subscription got %d old alerts", len(log))
	}
	var incs []linkwatch.Incident
	for i := range 3 {
		inc, err := db.Record(ctx, incidents.Change{Incident: openIncident(fmt.Sprint("dest:", i), clk.Now()), Alert: &linkwatch.Alert{Type: linkwatch.AlertOpened}})
		must(t, err)
		incs = append(incs, inc)
	}
	// webhook:ops is new too, but a YAML channel: it picks up the last
	// hour (storage.NewChannelLookback), the older alert included.
	must(t, db.FanOut(ctx, []string{ch, "webhook:ops"}))
	log, err := db.DeliveryLog(ctx, linkwatch.DeliveryQuery{Channel: ch, Limit: 10})
	must(t, err)
	if len(log) != 3 || log[0].ID < log[2].ID || log[0].IncidentID != incs[2].ID || log[0].Channel != ch || log[0].EventID == "" || log[0].CreatedAt.IsZero() {
		t.Fatalf("subscription log, newest first = %+v", log)
	}
	if all, _ := db.DeliveryLog(ctx, linkwatch.DeliveryQuery{Limit: 10}); len(all) != 7 {
		t.Errorf("every channel: %d deliveries, want 7", len(all))
	}
	page2, err := db.DeliveryLog(ctx, linkwatch.DeliveryQuery{Channel: ch, Before: log[1].ID, Limit: 10})
	must(t, err)
	if len(page2) != 1 || page2[0].ID != log[2].ID {
		t.Errorf("the page before %d = %+v", log[1].ID, page2)
	}
	// Outcomes: the first filtered (left out of the log), the second
	// failing, the third sent then failing again.
	must(t, db.MarkDelivery(ctx, log[2].ID, linkwatch.Outcome{Status: linkwatch.DeliveryFiltered}))
	clk.Set(t0.Add(2 * time.Minute))
	must(t, db.MarkDelivery(ctx, log[1].ID, linkwatch.Outcome{Status: "sent"}))
	clk.Set(t0.Add(3 * time.Minute))
	must(t, db.MarkDelivery(ctx, log[0].ID, linkwatch.Outcome{Status: "pending", HTTPStatus: 500, Error: "500", NextAt: clk.Now().Add(time.Minute)}))
	if got, _ := db.DeliveryLog(ctx, linkwatch.DeliveryQuery{Channel: ch, Limit: 10}); len(got) != 2 {
		t.Errorf("a filtered alert is in the log: %+v", got)
	}
	if b, _ := db.OutboxBacklog(ctx); b.Pending != 5 {
		t.Errorf("pending = %d, want 5 (1 failing here, 4 of webhook:ops)", b.Pending)
	}
	if s, _ = db.Subscription(ctx, s.ID); !s.FailingSince.Equal(t0.Add(3 * time.Minute)) {
		t.Errorf("failing since = %v, want the first failure after the last sent one", s.FailingSince)
	}
	// Redeliver: queued again now, the same alert.
	clk.Set(t0.Add(4 * time.Minute))
	must(t, db.MarkDelivery(ctx, log[1].ID, linkwatch.Outcome{Status: "dead", Error: "400"}))
	re, err := db.Redeliver(ctx, log[1].ID)
	must(t, err)
	if re.Status != "pending" || re.EventID != log[1].EventID || re.Redeliveries != 1 || !re.NextAt.Equal(clk.Now()) || !re.FirstAt.IsZero() || re.Attempts != 2 {
		t.Errorf("redelivered = %+v", re)
	}
	if _, err := db.Redeliver(ctx, log[2].ID); !errors.Is(err, linkwatch.ErrNotFound) {
		t.Errorf("redelivering a filtered alert: %v, want not found", err)
	}
	if _, err := db.Redeliver(ctx, 99999); !errors.Is(err, linkwatch.ErrNotFound) {
		t.Errorf("redelivering nothing: %v", err)
	}
	// Replay: what matches since a time, in order, at most limit.
	for _, id := range []int64{log[0].ID, log[1].ID, log[2].ID} {
		must(t, db.MarkDelivery(ctx, id, linkwatch.Outcome{Status: "sent"}))
	}
	var seen []int64
	n, nextSince, err := db.Replay(ctx, ch, t0.Add(time.Minute), 10, func(a linkwatch.Alert) bool {
		seen = append(seen, a.IncidentID)
		return a.IncidentID != incs[1].ID
	})
	must(t, err)
	if n != 2 || !nextSince.IsZero() || !slices.Equal(seen, []int64{incs[0].ID, incs[1].ID, incs[2].ID}) {
		t.Errorf("replay = %d (next %v), alerts looked at in order %v", n, nextSince, seen)
	}
	got, _ := db.DeliveryLog(ctx, linkwatch.DeliveryQuery{Channel: ch, Limit: 10})
	var pending []int64
	for _, l := range got {
		if l.Status == "pending" {
			pending = append(pending, l.IncidentID)
		}
	}
	if !slices.Equal(pending, []int64{incs[2].ID, incs[0].ID}) {
		t.Errorf("replayed = %v, want incidents %d and %d", pending, incs[2].ID, incs[0].ID)
	}
	all := func(linkwatch.Alert) bool { return true }
	// A page never ends between alerts of one time: the three were made
	// at t0+1m, and a next page from that time would send the first again.
	if n, next, _ := db.Replay(ctx, ch, t0, 1, all); n != 3 || !next.IsZero() {
		t.Errorf("replay of one time's alerts, limit 1: %d, next %v; want all 3", n, next)
	}
	// Paged: webhook:ops has the older alert (t0) and the three. The next
	// page starts at the stored time of the first left out, and queues
	// each of the rest once.
	if n, next, _ := db.Replay(ctx, "webhook:ops", t0, 1, all); n != 1 || !next.Equal(t0.Add(time.Minute)) {
		t.Errorf("replay capped at 1: %d, next %v; want 1, next %v", n, next, t0.Add(time.Minute))
	} else if n, next, _ = db.Replay(ctx, "webhook:ops", next, 1, all); n != 3 || !next.IsZero() {
		t.Errorf("replay's next page: %d, next %v; want 3, the end", n, next)
	}
	if n, _, _ := db.Replay(ctx, ch, t0.Add(time.Hour), 10, all); n != 0 {
		t.Errorf("replay since a later time queued %d", n)
	}
	// Patch, pause, resume, rotate.
	desc, paused := "acme and friends", true
	f2 := linkwatch.Filter{Events: []linkwatch.AlertType{linkwatch.AlertResolved}}
	s, err = db.UpdateSubscription(ctx, s.ID, linkwatch.SubscriptionPatch{Filter: &f2, Description: &desc, Paused: &paused})
	must(t, err)
	if s.State() != linkwatch.SubscriptionPaused || s.Description != desc || len(s.Filter.Pages) != 0 || !slices.Equal(s.Filter.Events, f2.Events) {
		t.Errorf("patched = %+v", s)
	}
	// A replica that read the subscriptions before the pause fans out to
	// it: nothing is made for it while paused.
	_, err = db.Record(ctx, incidents.Change{Incident: openIncident("dest:while-paused", clk.Now()), Alert: &linkwatch.Alert{Type: linkwatch.AlertOpened}})
	must(t, err)
	must(t, db.FanOut(ctx, []string{ch}))
	if got, _ := db.DeliveryLog(ctx, linkwatch.DeliveryQuery{Channel: ch, Limit: 10}); len(got) != 3 {
		t.Errorf("fan-out to a paused subscription: %d deliveries, want the 3 from before", len(got))
	}
	rotateAt := clk.Now()
	s, err = db.RotateSecret(ctx, s.ID, "whsec_two")
	must(t, err)
	if s.Secret != "whsec_two" || s.PreviousSecret != "whsec_one" || !s.PreviousUntil.Equal(rotateAt.Add(linkwatch.SecretOverlap)) {
		t.Errorf("rotated = secret %q previous %q until %v", s.Secret, s.PreviousSecret, s.PreviousUntil)
	}
	// Disabled by a 410: redelivery refused until it is resumed.
	must(t, db.DisableChannel(ctx, ch, "410 Gone"))
	if s, _ = db.Subscription(ctx, s.ID); s.State() != linkwatch.SubscriptionDisabled || s.DisabledReason != "410 Gone" {
		t.Errorf("after a 410: %+v", s)
	}
	if _, err := db.Redeliver(ctx, log[0].ID); !errors.Is(err, linkwatch.ErrConflict) {
		t.Errorf("redelivery to a disabled subscription: %v, want a conflict", err)
	}
	paused = false
	s, err = db.UpdateSubscription(ctx, s.ID, linkwatch.SubscriptionPatch{Paused: &paused})
	must(t, err)
	if s.State() != linkwatch.SubscriptionActive {
		t.Errorf("resumed = %+v", s)
	}
	list, err := db.ListSubscriptions(ctx)
	must(t, err)
	if len(list) != 1 || list[0].ID != s.ID {
		t.Errorf("list = %+v", list)
	}
	// Delete: gone, its pending deliveries closed, its history kept, and
	// its id never given to another.
	must(t, db.DeleteSubscription(ctx, s.ID))
	if _, err := db.Subscription(ctx, s.ID); !errors.Is(err, linkwatch.ErrNotFound) {
		t.Errorf("deleted subscription: %v", err)
	}
	if err := db.DeleteSubscription(ctx, s.ID); !errors.Is(err, linkwatch.ErrNotFound) {
		t.Errorf("deleting twice: %v", err)
	}
	for _, err := range []error{
		func() error {
			_, err := db.UpdateSubscription(ctx, s.ID, linkwatch.SubscriptionPatch{Description: &desc})
			return err
		}(),
		func() error { _, err := db.RotateSecret(ctx, s.ID, "whsec_x"); return err }(),
		func() error { _, err := db.RequestVerification(ctx, s.ID); return err }(),
		db.RecordVerification(ctx, s.ID, linkwatch.Outcome{Status: "sent"}),
	} {
		if !errors.Is(err, linkwatch.ErrNotFound) {
			t.Errorf("a change to a deleted subscription: %v, want not found", err)
		}
	}
	// Nor after it is deleted (a replica's list read before): its
	// deliveries would stay pending for good, with nothing to send them.
	_, err = db.Record(ctx, incidents.Change{Incident: openIncident("dest:after-delete", clk.Now()), Alert: &linkwatch.Alert{Type: linkwatch.AlertOpened}})
	must(t, err)
	must(t, db.FanOut(ctx, []string{ch}))
	if b, _ := db.OutboxBacklog(ctx); b.Pending != 4 {
		t.Errorf("pending after delete = %d, want webhook:ops's 4 only", b.Pending)
	}
	if got, _ := db.DeliveryLog(ctx, linkwatch.DeliveryQuery{Channel: ch, Limit: 10}); len(got) != 3 {
		t.Errorf("history after delete: %d deliveries, want 3", len(got))
	}
	next, err := db.CreateSubscription(ctx, linkwatch.Subscription{URL: "https://hooks.example/b", Secret: "whsec_b"})
	must(t, err)
	if next.ID <= s.ID {
		t.Errorf("a deleted subscription's id %d was given again (%d)", s.ID, next.ID)
	}
}

// A paused subscription is sent nothing, but each alert made while it is
// paused is kept for it as skipped (out of the delivery log, never sent,
// never pending), so that replay, once it is resumed, queues what it
// missed: in order, with the alerts' own event ids, those made after the
// last fan-out before the resume included.
func pausedSubscriptionReplays(t *testing.T, db storage.Store, clk *Clock) {
	ctx := context.Background()
	s, err := db.CreateSubscription(ctx, linkwatch.Subscription{URL: "https://hooks.example/p", Secret: "whsec_p"})
	must(t, err)
	must(t, db.RecordVerification(ctx, s.ID, linkwatch.Outcome{Status: "sent"}))
	ch := s.Channel()
	record := func(inc linkwatch.Incident, typ linkwatch.AlertType) linkwatch.Incident {
		t.Helper()
		saved, err := db.Record(ctx, incidents.Change{Incident: inc, Alert: &linkwatch.Alert{Type: typ}})
		must(t, err)
		return saved
	}
	sent := record(openIncident("dest:sent", clk.Now()), linkwatch.AlertOpened)
	must(t, db.FanOut(ctx, []string{ch}))
	log, err := db.DeliveryLog(ctx, linkwatch.DeliveryQuery{Channel: ch, Limit: 10})
	must(t, err)
	if len(log) != 1 {
		t.Fatalf("before the pause: %+v", log)
	}
	must(t, db.MarkDelivery(ctx, log[0].ID, linkwatch.Outcome{Status: "sent"}))

	clk.Set(t0.Add(time.Minute))
	paused := true
	_, err = db.UpdateSubscription(ctx, s.ID, linkwatch.SubscriptionPatch{Paused: &paused})
	must(t, err)
	missed := record(openIncident("dest:missed", clk.Now()), linkwatch.AlertOpened)
	// A replica that read the subscriptions before the pause fans out to it.
	must(t, db.FanOut(ctx, []string{ch}))
	missed.Status, missed.ResolvedAt = linkwatch.StatusResolved, clk.Now()
	record(missed, linkwatch.AlertResolved) // no fan-out before the resume
	if b, _ := db.OutboxBacklog(ctx); b.Pending != 0 {
		t.Errorf("%d deliveries pending for a paused subscription", b.Pending)
	}

	clk.Set(t0.Add(2 * time.Minute))
	paused = false
	_, err = db.UpdateSubscription(ctx, s.ID, linkwatch.SubscriptionPatch{Paused: &paused})
	must(t, err)
	after := record(openIncident("dest:after", clk.Now()), linkwatch.AlertOpened)
	must(t, db.FanOut(ctx, []string{ch}))
	must(t, db.FanOut(ctx, []string{ch})) // idempotent
	log, err = db.DeliveryLog(ctx, linkwatch.DeliveryQuery{Channel: ch, Limit: 10})
	must(t, err)
	if len(log) != 2 || log[0].IncidentID != after.ID || log[0].Status != "pending" || log[1].IncidentID != sent.ID {
		t.Fatalf("the log after resuming: %+v, want the alert after and the one sent before only", log)
	}
	if ok, err := db.Followed(ctx, ch, missed.ID, log[0].ID+1000); err != nil || ok {
		t.Errorf("a skipped alert counts as received: %v, %v", ok, err)
	}
	// The two skipped are between the two in the log.
	if log[0].ID-log[1].ID != 3 {
		t.Fatalf("deliveries %d and %d: want the 2 skipped between them", log[1].ID, log[0].ID)
	}
	for id := log[1].ID + 1; id < log[0].ID; id++ {
		if _, err := db.Redeliver(ctx, id); !errors.Is(err, linkwatch.ErrNotFound) {
			t.Errorf("redelivering skipped delivery %d by itself: %v, want not found (replay queues them)", id, err)
		}
	}

	// Replay from the pause: the two missed, in order, and the pending one.
	var looked []linkwatch.AlertType
	n, next, err := db.Replay(ctx, ch, t0.Add(time.Minute), 10, func(a linkwatch.Alert) bool {
		looked = append(looked, a.Type)
		return true
	})
	must(t, err)
	if n != 3 || !next.IsZero() || !slices.Equal(looked, []linkwatch.AlertType{linkwatch.AlertOpened, linkwatch.AlertResolved, linkwatch.AlertOpened}) {
		t.Fatalf("replay = %d (next %v), alerts looked at %v; want the 2 missed and the one after", n, next, looked)
	}
	pending, err := db.PendingDeliveries(ctx, ch, 0, 10)
	must(t, err)
	outbox, err := db.Outbox(ctx, 10)
	must(t, err)
	eventOf := map[string]bool{}
	for _, a := range outbox {
		eventOf[a.EventID] = true
	}
	var got []string
	for _, d := range pending {
		if !eventOf[d.Alert.EventID] {
			t.Errorf("delivery %d has event id %q, not one of the outbox's", d.ID, d.Alert.EventID)
		}
		got = append(got, fmt.Sprint(d.Alert.IncidentID, " ", d.Alert.Type))
	}
	want := []string{fmt.Sprint(missed.ID, " incident.opened"), fmt.Sprint(missed.ID, " incident.resolved"), fmt.Sprint(after.ID, " incident.opened")}
	if !slices.Equal(got, want) {
		t.Errorf("pending after replay = %v, want %v", got, want)
	}
	if log, _ := db.DeliveryLog(ctx, linkwatch.DeliveryQuery{Channel: ch, Limit: 10}); len(log) != 4 {
		t.Errorf("replayed deliveries are in the log: %d entries, want 4", len(log))
	}
}

// A verification that failed is due again at its next time, not before,
// counting its attempts from the first; a new request starts them again;
// a 410 switches the subscription off, and resuming it asks for a new
// verification; given up, it is not due.
func verificationRetries(t *testing.T, db storage.Store, clk *Clock) {
	ctx := context.Background()
	s, err := db.CreateSubscription(ctx, linkwatch.Subscription{URL: "https://hooks.example/v", Secret: "whsec_v"})
	must(t, err)
	claim := func(owner string) bool {
		t.Helper()
		ok, err := db.ClaimVerification(ctx, s.ID, owner, time.Minute)
		must(t, err)
		return ok
	}
	get := func() linkwatch.Subscription {
		t.Helper()
		s, err := db.Subscription(ctx, s.ID)
		must(t, err)
		return s
	}
	if !claim("a") {
		t.Fatal("a new subscription's verification is not claimable")
	}
	next := t0.Add(5 * time.Second)
	must(t, db.RecordVerification(ctx, s.ID, linkwatch.Outcome{Status: "pending", HTTPStatus: 500, Error: "500", NextAt: next}))
	if got := get(); got.State() != linkwatch.SubscriptionPending || !got.VerifyDue || got.VerifyAttempts != 1 || !got.VerifyFirstAt.Equal(t0) ||
		!got.VerifyNextAt.Equal(next) || got.VerifyError != "500" {
		t.Fatalf("after a failed attempt: %+v", got)
	}
	if claim("a") || claim("b") {
		t.Error("claimed before its next attempt is due")
	}
	clk.Set(next)
	if !claim("b") {
		t.Fatal("not claimable once due")
	}
	clk.Set(next.Add(time.Second))
	must(t, db.RecordVerification(ctx, s.ID, linkwatch.Outcome{Status: "pending", Error: "timeout", NextAt: next.Add(31 * time.Second)}))
	if got := get(); got.VerifyAttempts != 2 || !got.VerifyFirstAt.Equal(t0) || got.VerifyError != "timeout" {
		t.Errorf("after a second failed attempt: %+v", got)
	}
	// Asked again: due now, counted from zero.
	if got, err := db.RequestVerification(ctx, s.ID); err != nil || !got.VerifyDue || got.VerifyAttempts != 0 || !got.VerifyFirstAt.IsZero() || !got.VerifyNextAt.IsZero() {
		t.Errorf("requested again: %+v, %v", got, err)
	}
	if !claim("c") {
		t.Fatal("a verification requested again is not claimable at once")
	}
	// 410 Gone: switched off, not due.
	must(t, db.RecordVerification(ctx, s.ID, linkwatch.Outcome{Status: "disabled", HTTPStatus: 410, Error: "POST https://hooks.example/[redacted]: 410 Gone"}))
	if got := get(); got.State() != linkwatch.SubscriptionDisabled || got.VerifyDue || !strings.Contains(got.DisabledReason, "410") || got.VerifyAttempts != 1 {
		t.Errorf("after a 410: %+v", got)
	}
	clk.Set(t0.Add(time.Hour))
	if claim("d") {
		t.Error("a verification answered 410 is claimable")
	}
	// Resumed by an operator: verified again.
	resumed := false
	got, err := db.UpdateSubscription(ctx, s.ID, linkwatch.SubscriptionPatch{Paused: &resumed})
	must(t, err)
	if got.State() != linkwatch.SubscriptionPending || !got.VerifyDue || got.VerifyAttempts != 0 {
		t.Errorf("resumed after a 410 to its verification: %+v", got)
	}
	if !claim("d") {
		t.Fatal("not claimable once resumed")
	}
	// Given up: not due; the error stays.
	must(t, db.RecordVerification(ctx, s.ID, linkwatch.Outcome{Status: "dead", Error: "gave up after 24h0m0s: 503"}))
	if got := get(); got.VerifyDue || got.State() != linkwatch.SubscriptionPending || got.VerifyError != "gave up after 24h0m0s: 503" || claim("e") {
		t.Errorf("given up: %+v", got)
	}
	// Verified: active, the attempts forgotten.
	_, err = db.RequestVerification(ctx, s.ID)
	must(t, err)
	if !claim("e") {
		t.Fatal("not claimable")
	}
	must(t, db.RecordVerification(ctx, s.ID, linkwatch.Outcome{Status: "sent"}))
	if got := get(); got.State() != linkwatch.SubscriptionActive || got.VerifyDue || got.VerifyAttempts != 0 || !got.VerifyFirstAt.IsZero() || got.VerifyError != "" {
		t.Errorf("verified: %+v", got)
	}
}
