package alerting_test

import (
	"context"
	"log/slog"
	"regexp"
	"strings"
	"testing"
	"time"

	"linkwatch"

	"linkwatch/alerting"
	"linkwatch/alerting/smtptest"
	"linkwatch/incidents"
	"linkwatch/storage/sqlite"
	"linkwatch/storage/sqlite/sqlitetest"
)

// mailRig is a dispatcher mailing the subscribers of a SQLite database
// through a real SMTP server on loopback.
type mailRig struct {
	db   *sqlite.DB
	smtp *smtptest.Server
	clk  *clock
	r    *rounds
	log  *syncBuffer
}

func newMailRig(t *testing.T) *mailRig {
	t.Helper()
	rig := &mailRig{db: sqlitetest.MustOpen(t), smtp: smtptest.Start(t), clk: &clock{now: time.Now().UTC()}, log: new(syncBuffer)}
	m, err := alerting.NewMailer(alerting.MailOptions{Host: rig.smtp.Host, Port: rig.smtp.Port, Security: "none",
		From: "status@hub.example", SiteName: "Acme status", URL: "https://hub.example",
		PageLinks: func(page string) []string {
			return map[string][]string{"acme": {"https://shop.example/a"}, "beta": {"https://shop.example/b", "https://docs.example/"}}[page]
		}})
	if err != nil {
		t.Fatal(err)
	}
	rig.r = &rounds{DB: rig.db}
	d := alerting.NewDispatcher(rig.r, nil, nil, slog.New(slog.NewTextHandler(rig.log, nil)))
	d.SetClock(rig.clk.Now)
	d.SetPoll(20 * time.Millisecond)
	rig.db.SetClock(rig.clk.Now)
	d.Subscribe(rig.db, nil)
	d.MailSubscribers(rig.db, m)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { d.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	return rig
}

// subscribe requests a subscription and returns its subscriber.
func (rig *mailRig) subscribe(t *testing.T, addr, page string) linkwatch.EmailSubscriber {
	t.Helper()
	if err := rig.db.RequestEmailSubscription(context.Background(), addr, page, linkwatch.MaxPendingEmail); err != nil {
		t.Fatal(err)
	}
	list, err := rig.db.ListEmailSubscribers(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range list {
		if s.Address == addr {
			return s
		}
	}
	t.Fatalf("%s not stored", addr)
	return linkwatch.EmailSubscriber{}
}

// confirm follows the confirmation mail's link as the status page would:
// the token it carries must verify for the subscriber.
func (rig *mailRig) confirm(t *testing.T, s linkwatch.EmailSubscriber) {
	t.Helper()
	eventually(t, "the confirmation mail to "+s.Address, func() bool { return len(rig.smtp.To(s.Address)) > 0 })
	m := rig.smtp.To(s.Address)[0]
	tok := tokenIn(t, m.Text, linkwatch.EmailConfirmPath)
	pt, err := linkwatch.ParseEmailToken(tok)
	if err != nil || pt.Kind != linkwatch.TokenConfirm || pt.Verify(s, rig.clk.Now()) != nil {
		t.Fatalf("confirmation token %q does not verify: %v", tok, err)
	}
	if _, err := rig.db.ConfirmEmailSubscriber(context.Background(), pt.ID); err != nil {
		t.Fatal(err)
	}
}

func tokenIn(t *testing.T, text, path string) string {
	t.Helper()
	m := regexp.MustCompile(regexp.QuoteMeta(path) + `\?token=([A-Za-z0-9._-]+)`).FindStringSubmatch(text)
	if m == nil {
		t.Fatalf("no %s link in:\n%s", path, text)
	}
	return m[1]
}

func record(t *testing.T, db *sqlite.DB, c incidents.Change) linkwatch.Incident {
	t.Helper()
	inc, err := db.Record(context.Background(), c)
	if err != nil {
		t.Fatal(err)
	}
	return inc
}

// A subscriber to one page confirms, then gets the opening, the posted
// update and the resolution (with the published postmortem) of an
// incident touching its page, narrowed to its page, each with RFC 8058
// headers, while an unconfirmed address gets its confirmation only, and
// automatic updates and prober-offline incidents reach nobody.
func TestEmailSubscriberConfirmsThenGetsThePublicStory(t *testing.T) {
	t.Parallel()
	rig := newMailRig(t)
	ann := rig.subscribe(t, "ann@example.com", "acme")
	bob := rig.subscribe(t, "bob@example.com", "")
	// An incident while both are unconfirmed: nobody gets it.
	hostIncident(t, rig.db, "host:early|http_5xx")
	rig.confirm(t, ann)
	if got := rig.smtp.To(ann.Address)[0]; got.Header.Get("List-Unsubscribe") != "" || !strings.Contains(got.Subject, "Confirm") {
		t.Errorf("confirmation mail: subject %q, List-Unsubscribe %q", got.Subject, got.Header.Get("List-Unsubscribe"))
	}

	inc := hostIncident(t, rig.db, "host:shop.example|http_5xx")
	offline := record(t, rig.db, incidents.Change{Incident: linkwatch.Incident{Key: "prober_offline", Kind: linkwatch.KindProberOffline,
		Title: "The prober is offline", Status: linkwatch.StatusInvestigating, Impact: linkwatch.ImpactMajor, StartedAt: rig.clk.Now()},
		Alert: &linkwatch.Alert{Type: linkwatch.AlertOpened}})
	inc = record(t, rig.db, incidents.Change{Incident: inc, Alert: &linkwatch.Alert{Type: linkwatch.AlertUpdated, Reason: string(linkwatch.EventCauseChanged)}})
	inc = record(t, rig.db, incidents.Change{Incident: inc, Update: &linkwatch.Update{Status: linkwatch.StatusIdentified, Body: "The shop's host is restarting its servers."},
		Alert: &linkwatch.Alert{Type: linkwatch.AlertUpdated, Reason: string(linkwatch.EventUpdatePosted)}})
	inc, err := rig.db.EditPostmortem(context.Background(), inc.ID, linkwatch.Postmortem{PrimaryCause: "A full disk on the shop's host.", Published: true})
	if err != nil {
		t.Fatal(err)
	}
	resolved := inc
	resolved.Status, resolved.ResolvedAt = linkwatch.StatusResolved, rig.clk.Now()
	record(t, rig.db, incidents.Change{Incident: resolved, Alert: &linkwatch.Alert{Type: linkwatch.AlertResolved}})
	record(t, rig.db, incidents.Change{Incident: func() linkwatch.Incident { o := offline; o.ResolvedAt = rig.clk.Now(); return o }(),
		Alert: &linkwatch.Alert{Type: linkwatch.AlertResolved}})

	eventually(t, "three incident mails to ann", func() bool { return len(rig.smtp.To(ann.Address)) >= 4 })
	rig.r.wait(t, 3)
	mails := rig.smtp.To(ann.Address)[1:]
	if len(mails) != 3 {
		t.Fatalf("ann got %d incident mails, want 3 (opened, update, resolved)", len(mails))
	}
	wantSubjects := []string{"[Acme status] Investigating: shop.example", "[Acme status] Identified: shop.example", "[Acme status] Resolved: shop.example"}
	for i, m := range mails {
		if !strings.HasPrefix(m.Subject, wantSubjects[i]) {
			t.Errorf("mail %d: subject %q, want %q...", i, m.Subject, wantSubjects[i])
		}
		if !strings.Contains(m.Text, "acme/shop") || strings.Contains(m.Text, "beta/store") || strings.Contains(m.HTML, "beta/store") {
			t.Errorf("mail %d is not narrowed to ann's page:\n%s", i, m.Text)
		}
		unsub := m.Header.Get("List-Unsubscribe")
		if !strings.HasPrefix(unsub, "<https://hub.example"+linkwatch.EmailUnsubscribePath+"?token=m.") || m.Header.Get("List-Unsubscribe-Post") != "List-Unsubscribe=One-Click" {
			t.Errorf("mail %d: List-Unsubscribe %q, -Post %q", i, unsub, m.Header.Get("List-Unsubscribe-Post"))
		}
		if !strings.Contains(m.Text, "Unsubscribe: https://hub.example"+linkwatch.EmailUnsubscribePath) || !strings.Contains(m.HTML, ">Unsubscribe</a>") {
			t.Errorf("mail %d has no visible unsubscribe link", i)
		}
		if m.Text == "" || m.HTML == "" || strings.Contains(m.HTML, "<img") {
			t.Errorf("mail %d: want text and HTML parts, no images", i)
		}
	}
	if !strings.Contains(mails[1].Text, "restarting its servers") {
		t.Errorf("the update's mail lacks its words:\n%s", mails[1].Text)
	}
	if !strings.Contains(mails[2].Text, "A full disk on the shop's host.") {
		t.Errorf("the resolution lacks the published postmortem:\n%s", mails[2].Text)
	}
	if n := len(rig.smtp.To(bob.Address)); n != 1 {
		t.Errorf("the unconfirmed address got %d mails, want its confirmation only", n)
	}
	if strings.Contains(rig.log.String(), "ann@") || strings.Contains(rig.log.String(), "bob@") {
		t.Errorf("an address is in the log:\n%s", rig.log)
	}
	// Each mail is one email:<id> delivery in the delivery log.
	log, err := rig.db.DeliveryLog(context.Background(), linkwatch.DeliveryQuery{Channel: ann.Channel(), Limit: 50})
	if err != nil {
		t.Fatal(err)
	}
	sent := 0
	for _, l := range log {
		if l.Status == linkwatch.DeliverySent {
			sent++
		}
	}
	if sent != 3 {
		t.Errorf("delivery log of %s: %d sent, want 3: %+v", ann.Channel(), sent, log)
	}
}

// A 550 for one address marks that subscriber alone: its channel is
// switched off, the other subscriber keeps getting mail.
func TestEmailRefusedAddressMarksOnlyItsSubscriber(t *testing.T) {
	t.Parallel()
	rig := newMailRig(t)
	ann := rig.subscribe(t, "ann@example.com", "")
	cat := rig.subscribe(t, "cat@example.com", "")
	rig.confirm(t, ann)
	rig.confirm(t, cat)
	rig.smtp.Refuse(cat.Address, 550)
	hostIncident(t, rig.db, "host:shop.example|http_5xx")
	eventually(t, "ann's incident mail", func() bool { return len(rig.smtp.To(ann.Address)) == 2 })
	eventually(t, "cat marked bounced", func() bool {
		s, err := rig.db.EmailSubscriber(context.Background(), cat.ID)
		return err == nil && !s.BouncedAt.IsZero()
	})
	s, _ := rig.db.EmailSubscriber(context.Background(), cat.ID)
	if strings.Contains(s.BounceReason, "cat@") || !strings.Contains(s.BounceReason, "550") {
		t.Errorf("bounce reason %q: want the SMTP code, not the address", s.BounceReason)
	}
	disabled, err := rig.db.DisabledChannels(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if _, off := disabled[ann.Channel()]; off || len(disabled) != 1 {
		t.Errorf("disabled channels %v: want %s alone", disabled, cat.Channel())
	}
	// The next incident still reaches ann, and not cat.
	hostIncident(t, rig.db, "host:other.example|http_5xx")
	eventually(t, "ann's second incident mail", func() bool { return len(rig.smtp.To(ann.Address)) == 3 })
	if strings.Contains(rig.log.String(), "cat@") {
		t.Errorf("the refused address is in the log:\n%s", rig.log)
	}
}

// A confirmation mail refused with 550 deletes the pending subscriber:
// an address never confirmed is kept nowhere.
func TestEmailConfirmationRefusedForgetsTheAddress(t *testing.T) {
	t.Parallel()
	rig := newMailRig(t)
	rig.smtp.Refuse("gone@example.com", 550)
	// Not rig.subscribe, which reads the row back: the refusal may already
	// have deleted it.
	if err := rig.db.RequestEmailSubscription(context.Background(), "gone@example.com", "", linkwatch.MaxPendingEmail); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the pending subscriber deleted", func() bool {
		list, err := rig.db.ListEmailSubscribers(context.Background())
		return err == nil && len(list) == 0
	})
}

// A second request within the hour sends no second mail; a later one
// does (to a confirmed subscriber: its manage link).
func TestEmailOneConfirmationPerHour(t *testing.T) {
	t.Parallel()
	rig := newMailRig(t)
	ann := rig.subscribe(t, "ann@example.com", "")
	eventually(t, "the first confirmation", func() bool { return len(rig.smtp.To(ann.Address)) == 1 })
	for range 3 {
		rig.subscribe(t, ann.Address, "")
	}
	rig.r.wait(t, 3)
	if n := len(rig.smtp.To(ann.Address)); n != 1 {
		t.Fatalf("%d mails within the hour, want 1", n)
	}
	rig.confirm(t, ann)
	rig.clk.Add(linkwatch.EmailConfirmEvery)
	rig.subscribe(t, ann.Address, "")
	eventually(t, "the second mail", func() bool { return len(rig.smtp.To(ann.Address)) == 2 })
	m := rig.smtp.To(ann.Address)[1]
	tokenIn(t, m.Text, linkwatch.EmailManagePath)
	if strings.Contains(m.Text, linkwatch.EmailConfirmPath) {
		t.Errorf("a confirmed subscriber asking again got a confirmation link:\n%s", m.Text)
	}
}

// Links of a subscriber's page joining another page's incident in two
// updates within alerts.group_interval are one mail, naming both, as the
// engine holds them for every channel; a later posted update follows it.
func TestEmailGroupedJoinIsOneMail(t *testing.T) {
	t.Parallel()
	rig := newMailRig(t)
	bea := rig.subscribe(t, "bea@example.com", "beta")
	rig.confirm(t, bea)
	now := rig.clk.Now()
	inc := record(t, rig.db, incidents.Change{Incident: linkwatch.Incident{Key: "host:shop.example|http_5xx", Kind: linkwatch.KindHost,
		Title: "shop.example: destinations failing", Status: linkwatch.StatusInvestigating, Impact: linkwatch.ImpactMajor, Host: "shop.example",
		Targets: []string{"https://shop.example/a"}, Affected: []linkwatch.Affected{{Page: "acme", Link: "shop", URL: "https://shop.example/a"}},
		StartedAt: now, UpdatedAt: now}, Alert: &linkwatch.Alert{Type: linkwatch.AlertOpened}})
	for _, l := range []linkwatch.Affected{{Page: "beta", Link: "store", URL: "https://shop.example/b"}, {Page: "beta", Link: "cart", URL: "https://shop.example/c"}} {
		inc.Targets = append(inc.Targets, l.URL)
		inc.Affected = append(inc.Affected, l)
		inc = record(t, rig.db, incidents.Change{Incident: inc, Alert: &linkwatch.Alert{Type: linkwatch.AlertUpdated, Reason: string(linkwatch.EventTargetAdded),
			Added: []linkwatch.Affected{l}}, GroupUntil: now.Add(30 * time.Second)})
	}
	rig.r.wait(t, 3)
	if n := len(rig.smtp.To(bea.Address)); n != 1 {
		t.Fatalf("%d mails while the group is held, want the confirmation alone", n)
	}
	rig.clk.Add(31 * time.Second)
	eventually(t, "the grouped mail", func() bool { return len(rig.smtp.To(bea.Address)) == 2 })
	inc = record(t, rig.db, incidents.Change{Incident: inc, Update: &linkwatch.Update{Status: linkwatch.StatusIdentified, Body: "Found it."},
		Alert: &linkwatch.Alert{Type: linkwatch.AlertUpdated, Reason: string(linkwatch.EventUpdatePosted)}})
	eventually(t, "the posted update", func() bool { return len(rig.smtp.To(bea.Address)) == 3 })
	rig.r.wait(t, 3)
	mails := rig.smtp.To(bea.Address)
	if len(mails) != 3 {
		t.Fatalf("%d mails, want the confirmation, one for the two joins, and the update", len(mails))
	}
	joined := mails[1]
	if !strings.Contains(joined.Text, "beta/store") || !strings.Contains(joined.Text, "beta/cart") || strings.Contains(joined.Text, "acme/shop") {
		t.Errorf("the grouped mail does not name both of beta's links alone:\n%s", joined.Text)
	}
	if !strings.Contains(mails[2].Text, "Found it.") {
		t.Errorf("the update's mail:\n%s", mails[2].Text)
	}
}

// A temporary refusal (4xx) is retried with the deliveries' backoff and
// marks nobody; the mail goes out once the server takes it.
func TestEmailTemporaryRefusalIsRetried(t *testing.T) {
	t.Parallel()
	rig := newMailRig(t)
	ann := rig.subscribe(t, "ann@example.com", "")
	rig.confirm(t, ann)
	rig.smtp.Refuse(ann.Address, 451)
	hostIncident(t, rig.db, "host:shop.example|http_5xx")
	eventually(t, "a failed attempt", func() bool {
		log, err := rig.db.DeliveryLog(context.Background(), linkwatch.DeliveryQuery{Channel: ann.Channel(), Limit: 5})
		return err == nil && len(log) == 1 && log[0].Attempts == 1 && log[0].Status == linkwatch.DeliveryPending
	})
	if s, _ := rig.db.EmailSubscriber(context.Background(), ann.ID); !s.BouncedAt.IsZero() {
		t.Fatalf("a 451 marked the subscriber: %+v", s)
	}
	rig.smtp.Refuse(ann.Address, 0)
	rig.clk.Add(time.Minute) // past the first retry (about 5 s)
	eventually(t, "the retried mail", func() bool { return len(rig.smtp.To(ann.Address)) == 2 })
}
