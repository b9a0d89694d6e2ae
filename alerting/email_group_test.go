package alerting_test

import (
	"context"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"linkwatch"
	"linkwatch/alerting/smtptest"
	"linkwatch/incidents"
)

// engine runs an incident engine over the rig's database, on its clock,
// with alerts.group_interval of group: operators post their updates and
// resolve through it, as serve's admin API and console do. A result sent
// on its channel is handled before any call made after the send: the
// engine takes one at a time. It knows the
// targets of hostIncident's incidents, so it keeps them open.
func (rig *mailRig) engine(t *testing.T, group time.Duration) (*incidents.Engine, chan<- linkwatch.Result) {
	t.Helper()
	deps := map[string][]linkwatch.Affected{
		"https://shop.example/a": {{Page: "acme", Link: "shop", URL: "https://shop.example/a"}},
		"https://shop.example/b": {{Page: "beta", Link: "store", URL: "https://shop.example/b"}},
	}
	eng, err := incidents.NewEngine(context.Background(), incidents.Config{GroupInterval: group, Now: rig.clk.Now}, rig.db, deps,
		slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	results := make(chan linkwatch.Result) // unbuffered: a send returns once the engine took it
	go func() { eng.Run(ctx, results); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	return eng, results
}

func postUpdate(t *testing.T, eng *incidents.Engine, id int64, status linkwatch.IncidentStatus, body string) {
	t.Helper()
	if _, err := eng.PostUpdate(context.Background(), id, "ada", status, body); err != nil {
		t.Fatal(err)
	}
}

// inOrder reports whether text holds each of words, in this order.
func inOrder(text string, words ...string) bool {
	for _, w := range words {
		i := strings.Index(text, w)
		if i < 0 {
			return false
		}
		text = text[i+len(w):]
	}
	return true
}

// mailsSettle waits for a few dispatcher rounds and returns the mails
// that reached addr: none more will come of what is due.
func (rig *mailRig) mailsSettle(t *testing.T, addr string) []smtptest.Mail {
	t.Helper()
	rig.r.wait(t, 3)
	return rig.smtp.To(addr)
}

// An operator's public updates posted within alerts.group_interval are
// one mail carrying each, in order, under the newest one's status, sent
// when the interval has passed; an update posted after it is a mail of
// its own. Before, each posted update was a mail at once.
func TestEmailPostedUpdatesWithinTheGroupIntervalAreOneMail(t *testing.T) {
	rig := newMailRig(t)
	ann := rig.subscribe(t, "ann@example.com", "")
	rig.confirm(t, ann)
	eng, _ := rig.engine(t, 30*time.Second)
	inc := hostIncident(t, rig.db, "host:shop.example|http_5xx")
	eventually(t, "the opening mail", func() bool { return len(rig.smtp.To(ann.Address)) == 2 })

	postUpdate(t, eng, inc.ID, linkwatch.StatusIdentified, "The shop's host is restarting its servers.")
	rig.clk.Add(10 * time.Second)
	postUpdate(t, eng, inc.ID, linkwatch.StatusMonitoring, "A fix is out; we are watching.")
	if n := len(rig.mailsSettle(t, ann.Address)); n != 2 {
		t.Fatalf("%d mails inside the group interval, want the confirmation and the opening", n)
	}
	rig.clk.Add(20 * time.Second) // 30 s after the first update
	eventually(t, "the grouped mail", func() bool { return len(rig.smtp.To(ann.Address)) >= 3 })
	mails := rig.mailsSettle(t, ann.Address)
	if len(mails) != 3 {
		t.Fatalf("%d mails, want one for both updates", len(mails))
	}
	grouped := mails[2]
	if grouped.Subject != "[Acme status] Monitoring: "+inc.Title {
		t.Errorf("the grouped mail's subject %q: want the newest update's status", grouped.Subject)
	}
	for part, body := range map[string]string{"text": grouped.Text, "HTML": grouped.HTML} {
		if !inOrder(body, "Identified", "restarting its servers", "Monitoring", "A fix is out") {
			t.Errorf("the grouped mail's %s part does not carry both updates in order:\n%s", part, body)
		}
	}
	if grouped.Header.Get("List-Unsubscribe-Post") != "List-Unsubscribe=One-Click" {
		t.Errorf("the grouped mail lacks its one-click unsubscribe")
	}

	rig.clk.Add(5 * time.Second)
	postUpdate(t, eng, inc.ID, linkwatch.StatusMonitoring, "Still watching.")
	rig.clk.Add(30 * time.Second)
	eventually(t, "the later update's mail", func() bool { return len(rig.smtp.To(ann.Address)) >= 4 })
	mails = rig.mailsSettle(t, ann.Address)
	if len(mails) != 4 || !strings.Contains(mails[3].Text, "Still watching.") || strings.Contains(mails[3].Text, "A fix is out") {
		t.Fatalf("%d mails; the update after the interval, on its own:\n%s", len(mails), mails[len(mails)-1].Text)
	}
	log, err := rig.db.DeliveryLog(context.Background(), linkwatch.DeliveryQuery{Channel: ann.Channel(), Limit: 50})
	if err != nil {
		t.Fatal(err)
	}
	if len(log) != 3 {
		t.Errorf("%d deliveries to %s, want 3 (opening, the two updates, the later one): %+v", len(log), ann.Channel(), log)
	}
}

// The unlucky orders: updates posted while the opening mail is not sent
// yet (the server refuses it for now) are one mail after it, never before
// it; a resolution inside the interval of an update sends the update
// first, then the resolution with the published postmortem, and nothing
// is mailed twice when the interval passes.
func TestEmailPostedUpdateGroupKeepsOrder(t *testing.T) {
	rig := newMailRig(t)
	ann := rig.subscribe(t, "ann@example.com", "acme")
	rig.confirm(t, ann)
	eng, _ := rig.engine(t, 30*time.Second)
	rig.smtp.Refuse(ann.Address, 451)
	inc := hostIncident(t, rig.db, "host:shop.example|http_5xx")
	eventually(t, "a failed attempt at the opening", func() bool {
		log, err := rig.db.DeliveryLog(context.Background(), linkwatch.DeliveryQuery{Channel: ann.Channel(), Limit: 5})
		return err == nil && len(log) == 1 && log[0].Attempts == 1
	})
	postUpdate(t, eng, inc.ID, linkwatch.StatusIdentified, "Found it.")
	rig.clk.Add(3 * time.Second) // not yet the opening's first retry (5 s ± 20 %)
	postUpdate(t, eng, inc.ID, linkwatch.StatusIdentified, "Restarting the shop's servers.")
	rig.smtp.Refuse(ann.Address, 0)
	rig.clk.Add(7 * time.Second) // past the retry; the updates' group is held 20 s more
	eventually(t, "the opening mail", func() bool { return len(rig.smtp.To(ann.Address)) >= 2 })
	if n := len(rig.mailsSettle(t, ann.Address)); n != 2 {
		t.Fatalf("%d mails before the group interval passed, want the confirmation and the opening", n)
	}
	rig.clk.Add(20 * time.Second)
	eventually(t, "the grouped mail", func() bool { return len(rig.smtp.To(ann.Address)) >= 3 })
	mails := rig.mailsSettle(t, ann.Address)
	if len(mails) != 3 || !strings.Contains(mails[1].Subject, "Investigating") || !inOrder(mails[2].Text, "Found it.", "Restarting the shop's servers.") {
		t.Fatalf("%d mails; want the opening, then both updates in one:\n%s", len(mails), mails[len(mails)-1].Text)
	}

	if _, err := rig.db.EditPostmortem(context.Background(), inc.ID, linkwatch.Postmortem{PrimaryCause: "A full disk on the shop's host.", Published: true}); err != nil {
		t.Fatal(err)
	}
	rig.clk.Add(time.Minute)
	postUpdate(t, eng, inc.ID, linkwatch.StatusMonitoring, "Deploying the fix.")
	rig.clk.Add(5 * time.Second)
	if _, err := eng.Resolve(context.Background(), inc.ID, "ada", "Fixed: the disk is twice as large."); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the update and the resolution", func() bool { return len(rig.smtp.To(ann.Address)) >= 5 })
	rig.clk.Add(time.Minute) // past the update's interval: it was sent already
	mails = rig.mailsSettle(t, ann.Address)
	if len(mails) != 5 {
		t.Fatalf("%d mails, want the update and the resolution once each", len(mails))
	}
	if !strings.Contains(mails[3].Subject, "Monitoring") || !strings.Contains(mails[3].Text, "Deploying the fix.") {
		t.Errorf("mail 3 is not the held update:\n%s\n%s", mails[3].Subject, mails[3].Text)
	}
	resolved := mails[4]
	if !strings.Contains(resolved.Subject, "Resolved") || !inOrder(resolved.Text, "Fixed: the disk is twice as large.", "Postmortem", "A full disk on the shop's host.") {
		t.Errorf("mail 4 is not the resolution with its note and postmortem:\n%s\n%s", resolved.Subject, resolved.Text)
	}
	if strings.Contains(resolved.Text, "Deploying the fix.") {
		t.Errorf("the resolution repeats the update sent before it:\n%s", resolved.Text)
	}
}

// An operator's public update to an incident whose opening a maintenance
// window holds mails nothing then (the subscriber has not heard of the
// incident); once the window has ended and it still fails, the opening
// mail carries it. Before, the subscriber never read it by mail.
func TestEmailUpdatePostedWhileTheOpeningIsHeldRidesInIt(t *testing.T) {
	rig := newMailRig(t)
	ctx := context.Background()
	ann := rig.subscribe(t, "ann@example.com", "acme")
	rig.confirm(t, ann)
	eng, results := rig.engine(t, 30*time.Second)
	now := rig.clk.Now()
	if _, err := rig.db.CreateMaintenance(ctx, linkwatch.Maintenance{Title: "Shop move", StartsAt: now.Add(-time.Second), EndsAt: now.Add(time.Minute)}); err != nil {
		t.Fatal(err)
	}
	const shop = "https://shop.example/a"
	fail := func() {
		results <- linkwatch.Result{TargetID: shop, Kind: linkwatch.TargetDestination, URL: shop, Start: rig.clk.Now(),
			Status: linkwatch.StatusDown, Cause: linkwatch.CauseHTTP5xx, Summary: "503 Service Unavailable"}
	}
	fail()
	fail() // opens, held by the window
	var held linkwatch.Incident
	eventually(t, "the incident opened and held", func() bool {
		list, err := rig.db.ListIncidents(ctx, linkwatch.IncidentQuery{Limit: 5})
		if err != nil || len(list) != 1 {
			return false
		}
		held = list[0]
		return true
	})
	if !held.AlertsSuppressed {
		t.Fatalf("the incident is not held: %+v", held)
	}
	postUpdate(t, eng, held.ID, linkwatch.StatusIdentified, "The move takes longer than planned.")
	if n := len(rig.mailsSettle(t, ann.Address)); n != 1 {
		t.Fatalf("%d mails while the opening is held, want the confirmation alone", n)
	}
	rig.clk.Add(2 * time.Minute) // the window is over; it still fails
	fail()
	eventually(t, "the opening mail", func() bool { return len(rig.smtp.To(ann.Address)) >= 2 })
	mails := rig.mailsSettle(t, ann.Address)
	if len(mails) != 2 {
		t.Fatalf("%d mails, want the confirmation and the opening", len(mails))
	}
	opened := mails[1]
	if !strings.HasPrefix(opened.Subject, "[Acme status] Identified: ") || !strings.Contains(opened.Text, "The move takes longer than planned.") ||
		!strings.Contains(opened.HTML, "The move takes longer than planned.") {
		t.Errorf("the opening mail lacks the update posted while it was held: %q\n%s", opened.Subject, opened.Text)
	}
}
