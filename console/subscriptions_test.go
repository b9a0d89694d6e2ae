package console_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"linkwatch"
	"linkwatch/console"
	"linkwatch/incidents"
	"linkwatch/incidents/admin"
	"linkwatch/storage/sqlite/sqlitetest"
)

// TestSubscriptionsPage: an operator makes a webhook subscription through
// the admin API's call; the page that answers shows its secret, which no
// later page, no URL and no log holds. Bad input (an unsafe URL, an
// unknown page) is the form again with the API's message (400), nothing
// made; a forged form is 403. Pause, resume, rotate (a new secret, shown
// once), replay, redeliver and delete each change the subscription as the
// API would, and every one is in the audit log.
func TestSubscriptionsPage(t *testing.T) {
	t.Parallel()
	db := sqlitetest.MustOpen(t)
	clk := &clock{t: time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC)}
	db.SetClock(clk.Now)
	secrets := 0
	api := admin.New(db, admin.Options{Token: token, Now: clk.Now, Catalog: linkwatch.PageLinks{"acme": {"shop"}},
		CheckURL: func(_ context.Context, raw string) error {
			if strings.Contains(raw, "127.0.0.1") {
				return errors.New("the address 127.0.0.1 is not allowed (loopback)")
			}
			return nil
		},
		NewSecret: func() string { secrets++; return fmt.Sprintf("whsec_SECRETNUMBER%dXYZ", secrets) },
	})
	e := serveOn(t, db.DB, clk, console.Options{Admin: api})
	ctx := context.Background()
	b := newBrowser(t)
	b.mustSignIn(e, "Grace")
	page := e.srv.URL + "/admin/subscriptions"
	csrf := b.csrf(page)
	count := func() int {
		t.Helper()
		list, err := db.ListSubscriptions(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return len(list)
	}
	for _, bad := range []struct {
		form url.Values
		code int
		says string
	}{
		{url.Values{"url": {"https://hooks.example/a"}}, http.StatusForbidden, "CSRF token is missing or wrong"},
		{url.Values{"csrf": {"forged"}, "url": {"https://hooks.example/a"}}, http.StatusForbidden, "CSRF token is missing or wrong"},
		{url.Values{"csrf": {csrf}, "url": {"http://127.0.0.1/hook"}, "description": {"typed"}}, http.StatusBadRequest, "the address 127.0.0.1 is not allowed"},
		{url.Values{"csrf": {csrf}, "url": {"https://hooks.example/a"}, "pages": {"acme nowhere"}, "description": {"typed"}}, http.StatusBadRequest, "nowhere"},
		{url.Values{"csrf": {csrf}, "url": {""}}, http.StatusBadRequest, "is required"},
		{url.Values{"csrf": {csrf}, "url": {"https://hooks.example/a"}, "events": {"storage.unreachable"}, "description": {"typed"}}, http.StatusBadRequest, "goes to the config file&#39;s channels only"},
	} {
		a := b.do("POST", page, bad.form)
		if a.code != bad.code || !strings.Contains(a.body, bad.says) || count() != 0 {
			t.Errorf("%v = %d (want %d saying %q), %d subscriptions:\n%s", bad.form, a.code, bad.code, bad.says, count(), a.body)
		}
		if bad.code == http.StatusBadRequest && bad.form.Get("description") != "" && !strings.Contains(a.body, `value="typed"`) {
			t.Errorf("%v: the form lost what was typed", bad.form)
		}
	}
	a := b.do("POST", page, url.Values{"csrf": {csrf}, "url": {"https://hooks.example/a"}, "description": {"acme team"},
		"pages": {"acme"}, "events": {"incident.opened", "incident.resolved"}, "min_impact": {"major"}})
	if a.code != http.StatusCreated || !strings.Contains(a.body, `value="whsec_SECRETNUMBER1XYZ"`) || !strings.Contains(a.body, "shown this once") {
		t.Fatalf("create = %d:\n%s", a.code, a.body)
	}
	subs, err := db.ListSubscriptions(ctx)
	if err != nil || len(subs) != 1 || subs[0].Filter.MinImpact != linkwatch.ImpactMajor || len(subs[0].Filter.Events) != 2 || subs[0].Filter.Pages[0] != "acme" {
		t.Fatalf("made %+v, %v", subs, err)
	}
	id := subs[0].ID
	one := fmt.Sprintf("%s/%d", page, id)
	for _, u := range []string{page, one} {
		if a := b.do("GET", u, nil); a.code != 200 || strings.Contains(a.body, "SECRETNUMBER") || !strings.Contains(a.body, "pages acme; events incident.opened, incident.resolved; impact major or more") {
			t.Errorf("GET %s = %d shows the secret or not the filters:\n%s", u, a.code, a.body)
		}
	}
	// Replay needs an active subscription: pending verification, it is
	// refused with the API's words.
	since := "2026-12-07T09:00"
	if a := b.do("POST", one+"/replay", url.Values{"csrf": {csrf}, "since": {since}}); a.code != http.StatusConflict ||
		!strings.Contains(a.body, "is pending_verification: only an active one can replay") || !strings.Contains(a.body, `value="`+since+`"`) {
		t.Errorf("replay while pending = %d:\n%s", a.code, a.body)
	}
	if err := db.RecordVerification(ctx, id, linkwatch.Outcome{Status: linkwatch.DeliverySent}); err != nil {
		t.Fatal(err)
	}
	// An alert for it, and its delivery, sent.
	clk.Add(time.Minute)
	now := clk.Now()
	if _, err := db.Record(ctx, incidents.Change{Alert: &linkwatch.Alert{Type: linkwatch.AlertOpened}, Incident: linkwatch.Incident{Key: "dest:a", Kind: linkwatch.KindDestination,
		Title: "shop down", Cause: linkwatch.CauseHTTP5xx, Status: linkwatch.StatusInvestigating, Impact: linkwatch.ImpactMajor, StartedAt: now, UpdatedAt: now,
		Targets: []string{"https://shop.example/"}, Affected: []linkwatch.Affected{{Page: "acme", Link: "shop", URL: "https://shop.example/"}}}}); err != nil {
		t.Fatal(err)
	}
	ch := linkwatch.SubscriptionChannel(id)
	if err := db.FanOut(ctx, []string{ch}); err != nil {
		t.Fatal(err)
	}
	log, err := db.DeliveryLog(ctx, linkwatch.DeliveryQuery{Channel: ch, Limit: 10})
	if err != nil || len(log) != 1 {
		t.Fatalf("delivery log %+v, %v", log, err)
	}
	del := log[0].ID
	if err := db.MarkDelivery(ctx, del, linkwatch.Outcome{Status: linkwatch.DeliverySent, HTTPStatus: 200}); err != nil {
		t.Fatal(err)
	}
	if a := b.do("GET", one, nil); !strings.Contains(a.body, fmt.Sprintf(`<tr id="delivery-%d"><td>%d</td><td>incident.opened</td>`, del, del)) ||
		!strings.Contains(a.body, "<td>sent</td>") || !strings.Contains(a.body, "HTTP 200") {
		t.Errorf("the delivery log lacks the delivery:\n%s", a.body)
	}
	redeliveries := func() int {
		t.Helper()
		log, err := db.DeliveryLog(ctx, linkwatch.DeliveryQuery{Channel: ch, Limit: 10})
		if err != nil {
			t.Fatal(err)
		}
		return log[0].Redeliveries
	}
	for _, bad := range []url.Values{{"delivery": {fmt.Sprint(del)}}, {"csrf": {csrf}, "delivery": {"x"}}, {"csrf": {csrf}, "delivery": {fmt.Sprint(del + 1)}}} {
		if a := b.do("POST", one+"/redeliver", bad); (a.code != http.StatusForbidden && a.code != http.StatusBadRequest) || redeliveries() != 0 {
			t.Errorf("redeliver %v = %d, %d redeliveries", bad, a.code, redeliveries())
		}
	}
	if a := b.do("POST", one+"/redeliver", url.Values{"csrf": {csrf}, "delivery": {fmt.Sprint(del)}}); a.code != http.StatusSeeOther || redeliveries() != 1 {
		t.Errorf("redeliver = %d, %d redeliveries", a.code, redeliveries())
	}
	for _, bad := range []string{"", "yesterday", "2026-12-08T09:00", "2026-11-01T09:00"} {
		if a := b.do("POST", one+"/replay", url.Values{"csrf": {csrf}, "since": {bad}}); a.code != http.StatusBadRequest || !strings.Contains(a.body, "form-error") || redeliveries() != 1 {
			t.Errorf("replay since %q = %d, %d redeliveries:\n%s", bad, a.code, redeliveries(), a.body)
		}
	}
	if a := b.do("POST", one+"/replay", url.Values{"csrf": {csrf}, "since": {since}}); a.code != http.StatusSeeOther ||
		a.hdr.Get("Location") != fmt.Sprintf("/admin/subscriptions/%d?done=replayed", id) || redeliveries() != 2 {
		t.Errorf("replay = %d to %q, %d redeliveries", a.code, a.hdr.Get("Location"), redeliveries())
	}
	paused := func() bool {
		t.Helper()
		s, err := db.Subscription(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		return s.Paused
	}
	if a := b.do("POST", one+"/pause", url.Values{"csrf": {csrf}, "paused": {"maybe"}}); a.code != http.StatusBadRequest || paused() {
		t.Errorf("pause maybe = %d, paused %v", a.code, paused())
	}
	if a := b.do("POST", one+"/pause", url.Values{"csrf": {csrf}, "paused": {"true"}}); a.code != http.StatusSeeOther || !paused() {
		t.Errorf("pause = %d, paused %v", a.code, paused())
	}
	if a := b.do("GET", one+"?done=subscription-paused", nil); !strings.Contains(a.body, "The subscription is paused") || !strings.Contains(a.body, ">Resume</button>") {
		t.Errorf("page after pausing:\n%s", a.body)
	}
	if a := b.do("POST", one+"/pause", url.Values{"csrf": {csrf}, "paused": {"false"}}); a.code != http.StatusSeeOther || paused() {
		t.Errorf("resume = %d, paused %v", a.code, paused())
	}
	if a := b.do("POST", one+"/rotate", url.Values{}); a.code != http.StatusForbidden || secrets != 1 {
		t.Errorf("forged rotate = %d, %d secrets made", a.code, secrets)
	}
	if a := b.do("POST", one+"/rotate", url.Values{"csrf": {csrf}}); a.code != http.StatusOK || !strings.Contains(a.body, `value="whsec_SECRETNUMBER2XYZ"`) ||
		!strings.Contains(a.body, "The new signing secret") || strings.Contains(a.body, "SECRETNUMBER1") {
		t.Errorf("rotate = %d:\n%s", a.code, a.body)
	}
	if s, _ := db.Subscription(ctx, id); s.Secret != "whsec_SECRETNUMBER2XYZ" {
		t.Errorf("the secret is %q after rotation", s.Secret)
	}
	if a := b.do("GET", one, nil); strings.Contains(a.body, "SECRETNUMBER") {
		t.Errorf("a later page shows the secret:\n%s", a.body)
	}
	if a := b.do("POST", one+"/delete", url.Values{"csrf": {csrf}}); a.code != http.StatusSeeOther || count() != 0 ||
		a.hdr.Get("Location") != "/admin/subscriptions?done=subscription-deleted" {
		t.Errorf("delete = %d to %q, %d left", a.code, a.hdr.Get("Location"), count())
	}
	if a := b.do("POST", one+"/delete", url.Values{"csrf": {csrf}}); a.code != http.StatusNotFound {
		t.Errorf("delete again = %d, want 404", a.code)
	}
	var got []string
	for _, en := range auditLog(t, db.DB) {
		got = append(got, en.Action+" "+en.Detail+" "+en.Outcome)
	}
	all := strings.Join(got, "\n")
	for _, want := range []*regexp.Regexp{
		regexp.MustCompile(`(?m)^subscription\.create subscription \d+: https://hooks.example/a ok$`),
		regexp.MustCompile(`(?m)^subscription\.create http://127.0.0.1/hook failed: url: the address`),
		regexp.MustCompile(`(?m)^subscription\.replay subscription \d+ since 2026-12-07T09:00:00Z refused: subscription \d+ is pending_verification`),
		regexp.MustCompile(`(?m)^subscription\.replay subscription \d+ since 2026-12-07T09:00:00Z: 1 queued ok$`),
		regexp.MustCompile(`(?m)^delivery\.redeliver delivery \d+ of subscription \d+ ok$`),
		regexp.MustCompile(`(?m)^subscription\.pause subscription \d+ ok$`),
		regexp.MustCompile(`(?m)^subscription\.resume subscription \d+ ok$`),
		regexp.MustCompile(`(?m)^subscription\.rotate subscription \d+ ok$`),
		regexp.MustCompile(`(?m)^subscription\.delete subscription \d+ ok$`),
		regexp.MustCompile(`(?m)^subscription\.delete subscription \d+ refused: `),
	} {
		if !want.MatchString(all) {
			t.Errorf("audit log lacks %s:\n%s", want, all)
		}
	}
	if strings.Contains(all, "SECRETNUMBER") || strings.Contains(e.log.String(), "SECRETNUMBER") {
		t.Errorf("the secret is in the audit log or the console's log")
	}
}

// TestSubscriptionsPageCountsEmailSubscribers: the subscriptions page
// counts the status page's confirmed email subscribers per page (the
// whole hub's apart), and shows no address, nor a pending one's count.
func TestSubscriptionsPageCountsEmailSubscribers(t *testing.T) {
	t.Parallel()
	db := sqlitetest.MustOpen(t)
	clk := &clock{t: time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC)}
	db.SetClock(clk.Now)
	ctx := context.Background()
	for _, sub := range []struct {
		addr, page string
		confirm    bool
	}{{"ada@example.com", "acme", true}, {"bob@example.com", "acme", true}, {"cy@example.com", "", true}, {"pending@example.com", "blog", false}} {
		if err := db.RequestEmailSubscription(ctx, sub.addr, sub.page, 100); err != nil {
			t.Fatal(err)
		}
	}
	list, err := db.ListEmailSubscribers(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range list {
		if s.Address != "pending@example.com" {
			if _, err := db.ConfirmEmailSubscriber(ctx, s.ID); err != nil {
				t.Fatal(err)
			}
		}
	}
	e := serveOn(t, db.DB, clk, console.Options{Admin: admin.New(db, admin.Options{Token: token, Now: clk.Now})})
	b := newBrowser(t)
	b.mustSignIn(e, "Grace")
	a := b.do("GET", e.srv.URL+"/admin/subscriptions", nil)
	for _, want := range []string{"<tr><td>the whole hub</td><td>1</td></tr>", "<tr><td><code>acme</code></td><td>2</td></tr>"} {
		if !strings.Contains(a.body, want) {
			t.Errorf("the page lacks %q", want)
		}
	}
	if strings.Contains(a.body, "example.com") || strings.Contains(a.body, "<code>blog</code>") {
		t.Errorf("the page shows an address or a pending subscriber's page:\n%s", a.body)
	}
}
