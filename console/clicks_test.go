package console_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"linkwatch/console"
	"linkwatch/hub"
	"linkwatch/incidents/admin"
	"linkwatch/storage/sqlite/sqlitetest"
)

// TestClicksPage: the clicks page counts each link's clicks today, over 7
// and 30 days (fallback clicks among them), busiest first, from the
// clicks the hub stored, and draws them over the range chosen, for every
// link or one; older clicks are left out. A bad range or link is a 400
// saying so, with the page drawn for every link over 7 days.
func TestClicksPage(t *testing.T) {
	t.Parallel()
	db := sqlitetest.MustOpen(t)
	now := time.Date(2026, 12, 7, 10, 30, 0, 0, time.UTC)
	clk := &clock{t: now}
	db.SetClock(clk.Now)
	ctx := context.Background()
	shop, blog := hub.LinkKey{Page: "acme", Link: "shop"}, hub.LinkKey{Page: "acme", Link: "blog"}
	for _, add := range []struct {
		ago   time.Duration
		key   hub.LinkKey
		count hub.ClickCount
	}{
		{0, shop, hub.ClickCount{Clicks: 3}},                          // today, 10:00
		{9 * time.Hour, shop, hub.ClickCount{Clicks: 2, Fallback: 1}}, // today, 01:00
		{11 * time.Hour, shop, hub.ClickCount{Clicks: 5}},             // yesterday
		{3 * 24 * time.Hour, blog, hub.ClickCount{Clicks: 20}},        // this week
		{10 * 24 * time.Hour, shop, hub.ClickCount{Clicks: 40}},       // this month
		{40 * 24 * time.Hour, blog, hub.ClickCount{Clicks: 1000}},     // too old
	} {
		if err := db.AddClicks(ctx, now.Add(-add.ago).Truncate(time.Hour), map[hub.LinkKey]hub.ClickCount{add.key: add.count}); err != nil {
			t.Fatal(err)
		}
	}
	e := serveOn(t, db.DB, clk, console.Options{Admin: admin.New(db, admin.Options{Token: token, Now: clk.Now}), Clicks: db})
	b := newBrowser(t)
	b.mustSignIn(e, "Grace")
	page := e.srv.URL + "/admin/clicks"
	a := b.do("GET", page, nil)
	shopRow := `<tr id="clicks-acme-shop"><td><a href="/admin/clicks?link=acme%2Fshop&amp;range=7d" aria-label="Chart of acme/shop"><code>acme/shop</code></a></td><td>5</td><td>10</td><td>50</td><td>1</td></tr>`
	blogRow := `<tr id="clicks-acme-blog">`
	for _, want := range []string{shopRow, `<td>20</td><td>20</td><td>0</td></tr>`,
		`<tfoot><tr><th scope="row">All links</th><td>5</td><td>30</td><td>70</td><td>1</td></tr></tfoot>`,
		`<title id="clicks-chart-t">Clicks on every link over the last 7 days</title>`,
		`<desc id="clicks-chart-d">30 clicks over the last 7 days, peak 20 at 4 Dec 10:00 UTC.</desc>`, `<path class="count"`} {
		if !strings.Contains(a.body, want) {
			t.Errorf("page lacks %q", want)
		}
	}
	if a.code != http.StatusOK || strings.Index(a.body, shopRow) > strings.Index(a.body, blogRow) {
		t.Errorf("page = %d, the busiest link not first:\n%s", a.code, a.body)
	}
	a = b.do("GET", page+"?link=acme%2Fshop&range=30d", nil)
	if a.code != http.StatusOK || !strings.Contains(a.body, "50 clicks over the last 30 days, peak 40 at 27 Nov 06:00 UTC.") ||
		!strings.Contains(a.body, `<option value="30d" selected>`) || !strings.Contains(a.body, `<input type="hidden" name="link" value="acme/shop">`) {
		t.Errorf("one link over 30 days = %d:\n%s", a.code, a.body)
	}
	for _, bad := range []struct{ query, says string }{
		{"?range=1y", "The range must be 24h, 7d, 30d."},
		{"?link=acme", "The link must be page/link"},
		{"?link=acme%2F..%2Fx", "The link must be page/link"},
	} {
		a := b.do("GET", page+bad.query, nil)
		if a.code != http.StatusBadRequest || !strings.Contains(a.body, bad.says) || !strings.Contains(a.body, "Clicks on every link over the last 7 days") {
			t.Errorf("%s = %d:\n%s", bad.query, a.code, a.body)
		}
	}
	// Signed out: sent to sign in, no clicks shown.
	if a := newBrowser(t).do("GET", page, nil); a.code != http.StatusSeeOther || a.hdr.Get("Location") != "/admin/signin" {
		t.Errorf("signed out = %d to %q", a.code, a.hdr.Get("Location"))
	}
}
