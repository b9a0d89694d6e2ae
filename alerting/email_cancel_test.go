package alerting_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"linkwatch"
)

// A window announced as scheduled and deleted before it starts: the
// subscribers it was announced to in scope get one "Maintenance
// cancelled" mail, in the status page's words with RFC 8058 headers, and
// whoever subscribed after the announcement gets none. A window deleted
// before its announcement reached a subscriber (the server refused it
// for now) is mailed to it neither as scheduled nor as cancelled. Before,
// a deleted window was never mailed again: its subscribers expected it.
func TestMaintenanceCancelledReachesWhomItWasAnnouncedTo(t *testing.T) {
	rig := newMailRig(t)
	ctx := context.Background()
	ann := rig.subscribe(t, "ann@example.com", "acme")  // links to shop.example
	gus := rig.subscribe(t, "gus@example.com", "gamma") // no link there
	rig.confirm(t, ann)
	rig.confirm(t, gus)
	now := rig.clk.Now()
	shop, err := rig.db.CreateMaintenance(ctx, linkwatch.Maintenance{Title: "Shop upgrade", Component: "host:shop.example",
		StartsAt: now.Add(time.Hour), EndsAt: now.Add(2 * time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, "the scheduled mail to ann", func() bool { return len(rig.maintenanceMails(ann.Address)) == 1 })
	bob := rig.subscribe(t, "bob@example.com", "") // every page, after the announcement
	rig.confirm(t, bob)

	if err := rig.db.DeleteMaintenance(ctx, shop.ID); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the cancellation to ann", func() bool { return len(rig.maintenanceMails(ann.Address)) >= 2 })
	rig.r.wait(t, 3)
	got := rig.maintenanceMails(ann.Address)
	if len(got) != 2 || got[1].Subject != "[Acme status] Maintenance cancelled: Shop upgrade" {
		t.Fatalf("ann got %d maintenance mails, the last %q; want the announcement and one cancellation", len(got), got[len(got)-1].Subject)
	}
	c := got[1]
	if !strings.Contains(c.Text, "shop.example") || !strings.Contains(c.Text, "From ") || c.HTML == "" ||
		c.Header.Get("List-Unsubscribe-Post") != "List-Unsubscribe=One-Click" {
		t.Errorf("the cancellation mail:\n%s", c.Text)
	}
	for _, s := range []linkwatch.EmailSubscriber{bob, gus} {
		if n := len(rig.maintenanceMails(s.Address)); n != 0 {
			t.Errorf("%s got %d maintenance mails, want none: it was never told of the window", s.Channel(), n)
		}
	}

	// Deleted while its announcement waits to be sent to ann.
	rig.smtp.Refuse(ann.Address, 451)
	quick, err := rig.db.CreateMaintenance(ctx, linkwatch.Maintenance{Title: "Quick fix", StartsAt: now.Add(time.Hour), EndsAt: now.Add(2 * time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, "a refused attempt at the announcement to ann", func() bool {
		log, err := rig.db.DeliveryLog(ctx, linkwatch.DeliveryQuery{Channel: ann.Channel(), Limit: 50})
		return err == nil && len(log) > 0 && log[0].EventID == "maintenance.scheduled."+quick.Ref() && log[0].Attempts == 1
	})
	eventually(t, "the announcement to bob", func() bool { return len(rig.maintenanceMails(bob.Address)) == 1 })
	if err := rig.db.DeleteMaintenance(ctx, quick.ID); err != nil {
		t.Fatal(err)
	}
	rig.smtp.Refuse(ann.Address, 0)
	rig.clk.Add(time.Minute) // past the retry
	eventually(t, "the cancellation to bob", func() bool { return len(rig.maintenanceMails(bob.Address)) >= 2 })
	eventually(t, "ann's deliveries settled", func() bool {
		log, err := rig.db.DeliveryLog(ctx, linkwatch.DeliveryQuery{Channel: ann.Channel(), Limit: 50})
		if err != nil {
			return false
		}
		for _, l := range log {
			if l.Status == linkwatch.DeliveryPending {
				return false
			}
		}
		return true
	})
	rig.r.wait(t, 3)
	if n := len(rig.maintenanceMails(ann.Address)); n != 2 {
		t.Errorf("ann got %d maintenance mails, want still 2: a window deleted before it was announced to her is no news", n)
	}
	if got := rig.maintenanceMails(bob.Address); len(got) != 2 || got[1].Subject != "[Acme status] Maintenance cancelled: Quick fix" {
		t.Errorf("bob, told of the quick fix, got %d mails", len(got))
	}
}
