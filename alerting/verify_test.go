package alerting_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"linkwatch"
	"linkwatch/alerting"
	"linkwatch/storage/sqlite"
	"linkwatch/storage/sqlite/sqlitetest"
)

// verifying makes a subscription for a receiver answering statuses (then
// 200) and runs a dispatcher on clk.
func verifying(t *testing.T, statuses ...int) (*sqlite.DB, *clock, *subReceiver, linkwatch.Subscription) {
	t.Helper()
	db := sqlitetest.MustOpen(t)
	clk := &clock{now: time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)}
	db.SetClock(clk.Now)
	rc, srv := newSubReceiver(t)
	secret := alerting.NewSecret()
	rc.setSecret(secret)
	rc.script(statuses...)
	s, err := db.CreateSubscription(context.Background(), linkwatch.Subscription{URL: srv.URL + "/hook", Secret: secret})
	if err != nil {
		t.Fatal(err)
	}
	runDispatcher(t, db, clk, nil)
	return db, clk, rc, s
}

func calls(rc *subReceiver) int {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return rc.calls
}

// A receiver down when its subscription is made (500 to the
// verification) is tried again after the deliveries' first backoff (about
// 5 s), not only when someone asks: the second attempt, answered 200,
// makes the subscription active.
func TestVerificationRetriedWithBackoff(t *testing.T) {
	t.Parallel()
	db, clk, rc, s := verifying(t, http.StatusInternalServerError)
	failedAt := clk.Now()
	eventually(t, "the failed attempt recorded", func() bool { return subscription(t, db, s.ID).VerifyAttempts == 1 })
	got := subscription(t, db, s.ID)
	if got.State() != linkwatch.SubscriptionPending || !got.VerifyDue || !strings.Contains(got.VerifyError, "500") || !got.VerifyFirstAt.Equal(failedAt) {
		t.Fatalf("after a 500: %s due %v error %q first %v", got.State(), got.VerifyDue, got.VerifyError, got.VerifyFirstAt)
	}
	if wait := got.VerifyNextAt.Sub(failedAt); wait < 4*time.Second || wait > 6*time.Second {
		t.Errorf("next attempt %s after the first, want the backoff's 5 s ±20 %%", wait)
	}
	// Not due yet: no replica may claim it before its time.
	if ok, err := db.ClaimVerification(context.Background(), s.ID, "another-replica", time.Minute); err != nil || ok {
		t.Errorf("claimed before its next attempt: %v, %v", ok, err)
	}
	if n := calls(rc); n != 1 {
		t.Fatalf("%d calls before the backoff passed", n)
	}
	clk.Add(6 * time.Second)
	eventually(t, "verified on the second attempt", func() bool { return subscription(t, db, s.ID).State() == linkwatch.SubscriptionActive })
	got = subscription(t, db, s.ID)
	if got.VerifyDue || got.VerifyError != "" || got.VerifyAttempts != 0 || !got.VerifyNextAt.IsZero() || calls(rc) != 2 {
		t.Errorf("after the 200: due %v error %q attempts %d next %v, %d calls", got.VerifyDue, got.VerifyError, got.VerifyAttempts, got.VerifyNextAt, calls(rc))
	}
	if types := rc.types(); len(types) != 1 || types[0] != "subscription.verify" {
		t.Errorf("the receiver got %v", types)
	}
}

// A receiver that answers its verification 410 Gone, after a 500, is
// disabled, as a delivery's 410 disables its channel: not left pending,
// and not called again.
func TestVerificationGoneDisables(t *testing.T) {
	t.Parallel()
	db, clk, rc, s := verifying(t, http.StatusInternalServerError, http.StatusGone)
	eventually(t, "the failed attempt recorded", func() bool { return subscription(t, db, s.ID).VerifyAttempts == 1 })
	clk.Add(6 * time.Second)
	eventually(t, "disabled by the 410", func() bool { return subscription(t, db, s.ID).State() == linkwatch.SubscriptionDisabled })
	got := subscription(t, db, s.ID)
	if got.VerifyDue || !strings.Contains(got.DisabledReason, "410") || got.VerifyAttempts != 2 {
		t.Errorf("after the 410: due %v reason %q attempts %d", got.VerifyDue, got.DisabledReason, got.VerifyAttempts)
	}
	clk.Add(time.Hour)
	if ok, err := db.ClaimVerification(context.Background(), s.ID, "another-replica", time.Minute); err != nil || ok {
		t.Errorf("a verification answered 410 is claimable: %v, %v", ok, err)
	}
	if n := calls(rc); n != 2 {
		t.Errorf("%d calls, want the 500 and the 410", n)
	}
	// Resumed by an operator, it is verified again.
	paused := false
	if _, err := db.UpdateSubscription(context.Background(), s.ID, linkwatch.SubscriptionPatch{Paused: &paused}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "verified once resumed", func() bool { return subscription(t, db, s.ID).State() == linkwatch.SubscriptionActive })
}

// A receiver that never answers 2xx is tried with backoff for a day after
// the first attempt, then no more until someone asks; a 4xx other than 410
// is not retried at all.
func TestVerificationGivesUp(t *testing.T) {
	t.Parallel()
	statuses := make([]int, 50)
	for i := range statuses {
		statuses[i] = http.StatusServiceUnavailable
	}
	db, clk, rc, s := verifying(t, statuses...)
	eventually(t, "the first attempt", func() bool { return subscription(t, db, s.ID).VerifyAttempts == 1 })
	clk.Add(alerting.GiveUpAfter)
	eventually(t, "given up", func() bool { return !subscription(t, db, s.ID).VerifyDue })
	got := subscription(t, db, s.ID)
	if got.State() != linkwatch.SubscriptionPending || got.VerifyAttempts != 2 || !strings.HasPrefix(got.VerifyError, "gave up after 24h0m0s: ") {
		t.Errorf("after a day: %s attempts %d error %q", got.State(), got.VerifyAttempts, got.VerifyError)
	}
	if n := calls(rc); n != 2 {
		t.Errorf("%d calls", n)
	}

	db, _, rc, s = verifying(t, http.StatusNotFound)
	eventually(t, "the 404 recorded", func() bool { return subscription(t, db, s.ID).VerifyAttempts == 1 })
	if got := subscription(t, db, s.ID); got.VerifyDue || got.State() != linkwatch.SubscriptionPending || !strings.Contains(got.VerifyError, "404") || calls(rc) != 1 {
		t.Errorf("after a 404: due %v %s %q, %d calls", got.VerifyDue, got.State(), got.VerifyError, calls(rc))
	}
}
