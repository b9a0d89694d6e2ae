package alerting_test

import (
	"context"
	"strings"
	"testing"

	"linkwatch"
	"linkwatch/alerting/smtptest"
	"linkwatch/incidents"
)

// postmortemMails returns the postmortem mails that reached addr.
func (rig *mailRig) postmortemMails(addr string) []smtptest.Mail {
	var out []smtptest.Mail
	for _, m := range rig.smtp.To(addr) {
		if strings.Contains(m.Subject, "Postmortem:") {
			out = append(out, m)
		}
	}
	return out
}

func (rig *mailRig) editPostmortem(t *testing.T, id int64, pm linkwatch.Postmortem) {
	t.Helper()
	if _, err := rig.db.EditPostmortem(context.Background(), id, pm); err != nil {
		t.Fatal(err)
	}
}

// An incident resolves, then its postmortem is saved as a draft, then
// published: the confirmed subscribers in its scope get one mail carrying
// it, in the status page's words with RFC 8058 headers. Publishing again,
// editing it, and taking it down and publishing it again send nothing
// more; the subscriber of a page the incident does not touch and an
// unconfirmed address get nothing. Before the postmortem alert, the
// resolution (without one) was the last mail they ever got.
func TestPostmortemPublishedAfterResolutionIsMailedOnce(t *testing.T) {
	t.Parallel()
	rig := newMailRig(t)
	ann := rig.subscribe(t, "ann@example.com", "acme")  // the incident's page
	bob := rig.subscribe(t, "bob@example.com", "")      // every page
	gus := rig.subscribe(t, "gus@example.com", "gamma") // a page the incident does not touch
	dan := rig.subscribe(t, "dan@example.com", "acme")  // never confirms
	for _, s := range []linkwatch.EmailSubscriber{ann, bob, gus} {
		rig.confirm(t, s)
	}
	inc := hostIncident(t, rig.db, "host:shop.example|http_5xx")
	inc.Status, inc.ResolvedAt = linkwatch.StatusResolved, rig.clk.Now()
	inc = record(t, rig.db, incidents.Change{Incident: inc, Alert: &linkwatch.Alert{Type: linkwatch.AlertResolved}})
	eventually(t, "the resolution to ann", func() bool { return len(rig.smtp.To(ann.Address)) >= 3 })

	draft := linkwatch.Postmortem{PrimaryCause: "A full disk on the shop's host.", ContributingFactors: "Log rotation was off.",
		WhyNotCaught: "Disk usage had no alert."}
	rig.editPostmortem(t, inc.ID, draft)
	rig.r.wait(t, 3)
	if n := len(rig.postmortemMails(ann.Address)); n != 0 {
		t.Fatalf("a draft was mailed %d times", n)
	}
	published := draft
	published.Published = true
	rig.editPostmortem(t, inc.ID, published)
	eventually(t, "the postmortem to ann", func() bool { return len(rig.postmortemMails(ann.Address)) >= 1 })
	eventually(t, "the postmortem to bob", func() bool { return len(rig.postmortemMails(bob.Address)) >= 1 })
	// Published again, edited, taken down and published again.
	rig.editPostmortem(t, inc.ID, published)
	edited := published
	edited.Notes = "The disk is now twice as large."
	rig.editPostmortem(t, inc.ID, edited)
	rig.editPostmortem(t, inc.ID, draft)
	rig.editPostmortem(t, inc.ID, edited)
	rig.r.wait(t, 3)

	for _, s := range []linkwatch.EmailSubscriber{ann, bob} {
		got := rig.postmortemMails(s.Address)
		if len(got) != 1 {
			t.Fatalf("%s got %d postmortem mails, want 1", s.Channel(), len(got))
		}
		m := got[0]
		if m.Subject != "[Acme status] Postmortem: "+inc.Title {
			t.Errorf("subject %q", m.Subject)
		}
		for _, want := range []string{"Primary cause: A full disk on the shop's host.", "Contributing factors: Log rotation was off.",
			"Why it wasn't caught: Disk usage had no alert."} {
			if !strings.Contains(m.Text, want) {
				t.Errorf("%s's postmortem mail lacks %q:\n%s", s.Channel(), want, m.Text)
			}
		}
		if !strings.Contains(m.HTML, "<dt>Primary cause</dt><dd>A full disk on the shop&#39;s host.</dd>") || strings.Contains(m.HTML, "<img") {
			t.Errorf("%s's postmortem mail's HTML:\n%s", s.Channel(), m.HTML)
		}
		unsub := m.Header.Get("List-Unsubscribe")
		if !strings.HasPrefix(unsub, "<https://hub.example"+linkwatch.EmailUnsubscribePath+"?token=m.") || m.Header.Get("List-Unsubscribe-Post") != "List-Unsubscribe=One-Click" ||
			!strings.Contains(m.Text, "Unsubscribe: https://hub.example"+linkwatch.EmailUnsubscribePath) {
			t.Errorf("%s: List-Unsubscribe %q, -Post %q", s.Channel(), unsub, m.Header.Get("List-Unsubscribe-Post"))
		}
	}
	if m := rig.postmortemMails(ann.Address)[0]; strings.Contains(m.Text, "beta/store") {
		t.Errorf("ann's postmortem mail is not narrowed to her page:\n%s", m.Text)
	}
	if n := len(rig.smtp.To(gus.Address)); n != 1 {
		t.Errorf("the subscriber of an untouched page got %d mails, want its confirmation only", n)
	}
	if n := len(rig.smtp.To(dan.Address)); n != 1 {
		t.Errorf("the unconfirmed address got %d mails, want its confirmation only", n)
	}
}

// A postmortem published while the incident is open reaches the
// subscribers with the resolution, and not again: taken down and
// published again after it, it sends nothing.
func TestPostmortemCarriedByTheResolutionIsNotMailedAgain(t *testing.T) {
	t.Parallel()
	rig := newMailRig(t)
	bob := rig.subscribe(t, "bob@example.com", "")
	rig.confirm(t, bob)
	inc := hostIncident(t, rig.db, "host:shop.example|http_5xx")
	pm := linkwatch.Postmortem{PrimaryCause: "A full disk on the shop's host.", Published: true}
	rig.editPostmortem(t, inc.ID, pm)
	inc, err := rig.db.Incident(context.Background(), inc.ID)
	if err != nil {
		t.Fatal(err)
	}
	inc.Status, inc.ResolvedAt = linkwatch.StatusResolved, rig.clk.Now()
	record(t, rig.db, incidents.Change{Incident: inc, Alert: &linkwatch.Alert{Type: linkwatch.AlertResolved}})
	eventually(t, "the resolution to bob", func() bool { return len(rig.smtp.To(bob.Address)) >= 3 })
	draft := pm
	draft.Published = false
	rig.editPostmortem(t, inc.ID, draft)
	rig.editPostmortem(t, inc.ID, pm)
	rig.r.wait(t, 3)
	got := rig.smtp.To(bob.Address)
	if len(got) != 3 || !strings.Contains(got[2].Text, "A full disk") || len(rig.postmortemMails(bob.Address)) != 0 {
		t.Errorf("bob got %d mails, want the confirmation, the opening and the resolution carrying the postmortem", len(got))
	}
}
