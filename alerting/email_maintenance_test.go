package alerting_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"linkwatch"
	"linkwatch/alerting/smtptest"
)

// maintenanceMails returns the maintenance mails that reached addr.
func (rig *mailRig) maintenanceMails(addr string) []smtptest.Mail {
	var out []smtptest.Mail
	for _, m := range rig.smtp.To(addr) {
		if strings.Contains(m.Subject, "aintenance") {
			out = append(out, m)
		}
	}
	return out
}

func (rig *mailRig) notice(t *testing.T) {
	t.Helper()
	if err := rig.db.NoticeMaintenance(context.Background()); err != nil {
		t.Fatal(err)
	}
}

// A window on one host is scheduled, starts and ends: the confirmed
// subscribers of the page linking to that host and of every page get
// three mails each, in the status page's words with RFC 8058 headers;
// the subscriber of a page with no link there and an unconfirmed address
// get none. The start is noticed late (no replica ran when it began) and
// twice (the restarted replica and another): it is mailed once.
func TestMaintenanceMailsReachConfirmedSubscribersInScope(t *testing.T) {
	t.Parallel()
	rig := newMailRig(t)
	ctx := context.Background()
	ann := rig.subscribe(t, "ann@example.com", "acme") // links to shop.example
	bob := rig.subscribe(t, "bob@example.com", "")     // every page
	cat := rig.subscribe(t, "cat@example.com", "beta") // links to shop.example and docs.example
	dan := rig.subscribe(t, "dan@example.com", "acme") // never confirms
	for _, s := range []linkwatch.EmailSubscriber{ann, bob, cat} {
		rig.confirm(t, s)
	}
	now := rig.clk.Now()
	w, err := rig.db.CreateMaintenance(ctx, linkwatch.Maintenance{Title: "Docs move", Component: "host:docs.example",
		StartsAt: now.Add(time.Hour), EndsAt: now.Add(2 * time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	shop, err := rig.db.CreateMaintenance(ctx, linkwatch.Maintenance{Title: "Shop upgrade", Component: "host:shop.example",
		StartsAt: now.Add(time.Hour), EndsAt: now.Add(2 * time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	rig.notice(t) // nothing has started
	eventually(t, "the scheduled mails to bob", func() bool { return len(rig.maintenanceMails(bob.Address)) >= 2 })
	// No replica noticed the start when it came; the restarted one, and
	// another, notice it later.
	rig.clk.Add(90 * time.Minute)
	rig.notice(t)
	rig.notice(t)
	eventually(t, "two started mails to bob", func() bool { return len(rig.maintenanceMails(bob.Address)) >= 4 })
	rig.clk.Add(time.Hour)
	rig.notice(t)
	rig.notice(t)
	eventually(t, "the ended mails to bob", func() bool { return len(rig.maintenanceMails(bob.Address)) >= 6 })
	eventually(t, "the ended mail to ann", func() bool { return len(rig.maintenanceMails(ann.Address)) >= 3 })
	eventually(t, "the ended mails to cat", func() bool { return len(rig.maintenanceMails(cat.Address)) >= 6 })
	rig.r.wait(t, 3)

	want := []string{"[Acme status] Scheduled maintenance: Shop upgrade", "[Acme status] Maintenance in progress: Shop upgrade", "[Acme status] Maintenance completed: Shop upgrade"}
	got := rig.maintenanceMails(ann.Address)
	if len(got) != len(want) {
		t.Fatalf("ann got %d maintenance mails, want %d (the shop's window only)", len(got), len(want))
	}
	for i, m := range got {
		if m.Subject != want[i] {
			t.Errorf("ann's mail %d: subject %q, want %q", i, m.Subject, want[i])
		}
		if !strings.Contains(m.Text, "From "+shop.StartsAt.UTC().Format("Mon 2 Jan 2006 15:04 UTC")) || !strings.Contains(m.Text, "shop.example") ||
			!strings.Contains(m.HTML, "Shop upgrade") || strings.Contains(m.HTML, "<img") {
			t.Errorf("ann's mail %d does not say the window:\n%s", i, m.Text)
		}
		unsub := m.Header.Get("List-Unsubscribe")
		if !strings.HasPrefix(unsub, "<https://hub.example"+linkwatch.EmailUnsubscribePath+"?token=m.") || m.Header.Get("List-Unsubscribe-Post") != "List-Unsubscribe=One-Click" ||
			!strings.Contains(m.Text, "Unsubscribe: https://hub.example"+linkwatch.EmailUnsubscribePath) {
			t.Errorf("ann's mail %d: List-Unsubscribe %q, -Post %q", i, unsub, m.Header.Get("List-Unsubscribe-Post"))
		}
	}
	if n := len(rig.maintenanceMails(bob.Address)); n != 6 {
		t.Errorf("bob (every page) got %d maintenance mails, want 6 (two windows, three each)", n)
	}
	// cat's page links to both hosts: both windows, each change once.
	if n := len(rig.maintenanceMails(cat.Address)); n != 6 {
		t.Errorf("cat got %d maintenance mails, want 6", n)
	}
	if n := len(rig.smtp.To(dan.Address)); n != 1 {
		t.Errorf("the unconfirmed address got %d mails, want its confirmation only", n)
	}
	for _, m := range rig.maintenanceMails(ann.Address) {
		if strings.Contains(m.Subject, w.Title) {
			t.Errorf("ann got the docs window, which is not on her page: %q", m.Subject)
		}
	}
}

// A window on one page reaches that page's subscribers and the hub-wide
// ones, not another page's.
func TestMaintenanceMailsOfAPageWindow(t *testing.T) {
	t.Parallel()
	rig := newMailRig(t)
	ann := rig.subscribe(t, "ann@example.com", "acme")
	cat := rig.subscribe(t, "cat@example.com", "beta")
	rig.confirm(t, ann)
	rig.confirm(t, cat)
	now := rig.clk.Now()
	if _, err := rig.db.CreateMaintenance(context.Background(), linkwatch.Maintenance{Title: "Acme page rework", Component: linkwatch.PageComponent("acme"),
		StartsAt: now.Add(time.Hour), EndsAt: now.Add(2 * time.Hour)}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the scheduled mail to ann", func() bool { return len(rig.maintenanceMails(ann.Address)) == 1 })
	rig.r.wait(t, 3)
	if n := len(rig.maintenanceMails(cat.Address)); n != 0 {
		t.Errorf("beta's subscriber got %d mails of acme's window", n)
	}
}

// A recurring window: its first occurrence is announced when it is
// made, and each occurrence's start and end are mailed once, the next
// day's occurrence on its own.
func TestMaintenanceMailsOfARecurringWindow(t *testing.T) {
	t.Parallel()
	rig := newMailRig(t)
	ctx := context.Background()
	bob := rig.subscribe(t, "bob@example.com", "")
	rig.confirm(t, bob)
	day := rig.clk.Now().UTC().Truncate(24 * time.Hour).Add(24 * time.Hour)
	rig.clk.Add(day.Add(time.Hour).Sub(rig.clk.Now())) // 01:00 tomorrow
	if _, err := rig.db.CreateRecurringMaintenance(ctx, linkwatch.RecurringMaintenance{Title: "Nightly backup", Schedule: "0 3 * * *", Duration: time.Hour}); err != nil {
		t.Fatal(err)
	}
	rig.notice(t)
	eventually(t, "the scheduled mail to bob", func() bool { return len(rig.maintenanceMails(bob.Address)) >= 1 })
	for _, at := range []time.Duration{3*time.Hour + 30*time.Minute, 4*time.Hour + 30*time.Minute, 27*time.Hour + 10*time.Minute} {
		rig.clk.Add(day.Add(at).Sub(rig.clk.Now()))
		rig.notice(t)
		rig.notice(t)
		rig.r.wait(t, 2)
	}
	eventually(t, "four maintenance mails to bob", func() bool { return len(rig.maintenanceMails(bob.Address)) >= 4 })
	rig.r.wait(t, 3)
	got := rig.maintenanceMails(bob.Address)
	want := []string{"Scheduled maintenance", "Maintenance in progress", "Maintenance completed", "Maintenance in progress"}
	if len(got) != len(want) {
		t.Fatalf("bob got %d mails, want %d", len(got), len(want))
	}
	first := "From " + day.Add(3*time.Hour).Format("Mon 2 Jan 2006 15:04 UTC")
	second := "From " + day.Add(27*time.Hour).Format("Mon 2 Jan 2006 15:04 UTC")
	for i, m := range got {
		span := first
		if i == 3 {
			span = second
		}
		if !strings.Contains(m.Subject, want[i]+": Nightly backup") || !strings.Contains(m.Text, span) || !strings.Contains(m.Text, "every component") {
			t.Errorf("mail %d: subject %q, want %q, %s:\n%s", i, m.Subject, want[i], span, m.Text)
		}
	}
}
