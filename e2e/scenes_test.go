package e2e

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"linkwatch"
	"linkwatch/alerting/smtptest"
	"linkwatch/incidents"
	"linkwatch/internal/refused"
	"linkwatch/storage/sqlite"
)

// The scenes of the browser test: each a linkwatch process over a SQLite
// database seeded with a history (checks, incidents, postmortems,
// maintenance windows), its destinations on loopback hosts of their own
// that answer as the history goes on. linkwatch carries on from the
// database as after a restart: an open incident stays open while its
// destination still fails.

// loopbackHost serves h on 127.0.0.n (a host of its own to linkwatch) and
// returns its base URL.
func loopbackHost(t *testing.T, n int, h http.HandlerFunc) string {
	t.Helper()
	ln, err := net.Listen("tcp", fmt.Sprintf("127.0.0.%d:0", n))
	if err != nil {
		t.Skipf("loopback address 127.0.0.%d unusable here: %v", n, err)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	return "http://" + ln.Addr().String()
}

// answering answers 200 "ok" on every path but those in failing, which
// answer 503.
func answering(failing ...string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		for _, p := range failing {
			if r.URL.Path == p {
				http.Error(w, "down", http.StatusServiceUnavailable)
				return
			}
		}
		_, _ = io.WriteString(w, "ok")
	}
}

// closedPort is a loopback URL where nothing listens: every check is refused.
func closedPort(t *testing.T, path string) string {
	t.Helper()
	return "http://" + refused.Addr(t) + path
}

// seedDB opens a fresh SQLite database in dir, lets seed fill it, and
// closes it for linkwatch.
func seedDB(t *testing.T, dir string, seed func(ctx context.Context, db *sqlite.DB) error) string {
	t.Helper()
	path := filepath.Join(dir, "lw.db")
	db, err := sqlite.Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	if err := seed(context.Background(), db); err != nil {
		db.Close()
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	return path
}

// sceneConfig is a scene's config: its database, a short interval, its
// pages, and extra probe settings.
func sceneConfig(dbPath, probe, pages string) string {
	return `
server: {public_url: "https://links.example", drain_delay: 0s}
storage: {path: "` + dbPath + `"}
probe: {interval: 600ms, timeout: 500ms, allow_private: [127.0.0.0/8], self_check: false` + probe + `}
pages:
` + pages
}

// upEvery is a result of url that answered in latency, every step over
// [from, to).
func upEvery(url string, from, to time.Time, step, latency time.Duration) []linkwatch.Result {
	var batch []linkwatch.Result
	for at := from; at.Before(to); at = at.Add(step) {
		batch = append(batch, linkwatch.Result{TargetID: url, Kind: linkwatch.TargetDestination, URL: url, Start: at, Latency: latency,
			Status: linkwatch.StatusUp, StatusCode: 200})
	}
	return batch
}

// seededScene: two days of checks of the shop and the blog (the blog
// down for an hour), an open incident on the shop whose visitors go to its
// fallback, a resolved one on the blog with a published postmortem, and a
// maintenance window on the blog's host, where the blog fails again (its
// button carries the note that it may be unavailable). Pages acme (shop
// and blog), ada (blog) and zed (a link on the shop's host that works).
func seededScene(t *testing.T) *proc {
	t.Helper()
	shop := loopbackHost(t, 2, answering("/shop"))
	blog := loopbackHost(t, 3, answering("/posts"))
	backup := loopbackHost(t, 4, answering())
	shopURL, blogURL, zedURL, backupURL := shop+"/shop", blog+"/posts", shop+"/zed", backup+"/shop"
	shopHost, blogHost := linkwatch.HostOf(shopURL), linkwatch.HostOf(blogURL)
	now := time.Now().UTC()
	dir := t.TempDir()
	var links map[string]string
	dbPath := seedDB(t, dir, func(ctx context.Context, db *sqlite.DB) error {
		var batch []linkwatch.Result
		for i := 0; i < 2*24*60; i++ { // a check a minute for two days
			at := now.Add(-48*time.Hour + time.Duration(i)*time.Minute)
			for _, u := range []string{shopURL, blogURL} {
				st := linkwatch.StatusUp
				if u == blogURL && i >= 600 && i < 660 {
					st = linkwatch.StatusDown
				}
				batch = append(batch, linkwatch.Result{TargetID: u, Kind: linkwatch.TargetDestination, URL: u, Start: at, Latency: time.Millisecond, Status: st})
			}
		}
		if err := db.SaveResults(ctx, batch); err != nil {
			return err
		}
		if err := db.RollUp(ctx); err != nil {
			return err
		}
		open, err := db.Record(ctx, incidents.Change{Incident: linkwatch.Incident{Key: linkwatch.DestKey(shopURL), Kind: linkwatch.KindDestination,
			Title: "acme/shop is down (http_5xx)", Cause: linkwatch.CauseHTTP5xx, Summary: "503 Service Unavailable at " + shopURL,
			Status: linkwatch.StatusInvestigating, Impact: linkwatch.ImpactMajor, Host: shopHost, Targets: []string{shopURL},
			Affected:  []linkwatch.Affected{{Page: "acme", Link: "shop", URL: shopURL, Fallback: backupURL, Diverted: true}},
			StartedAt: now.Add(-10 * time.Minute), UpdatedAt: now}})
		if err != nil {
			return err
		}
		identified := open
		identified.Status = linkwatch.StatusIdentified
		if _, err := db.Record(ctx, incidents.Change{Incident: identified,
			Update: &linkwatch.Update{Status: linkwatch.StatusIdentified, Body: "The shop's payment provider is down."}}); err != nil {
			return err
		}
		past, err := db.Record(ctx, incidents.Change{Incident: linkwatch.Incident{Key: linkwatch.DestKey(blogURL), Kind: linkwatch.KindDestination,
			Title: "acme/blog is down (dns)", Cause: linkwatch.CauseDNS, Summary: "DNS lookup for blog.example: no such host",
			Status: linkwatch.StatusResolved, Impact: linkwatch.ImpactMajor, Targets: []string{blogURL},
			StartedAt: now.Add(-38 * time.Hour), UpdatedAt: now.Add(-37 * time.Hour), ResolvedAt: now.Add(-37 * time.Hour)}})
		if err != nil {
			return err
		}
		if _, err := db.EditPostmortem(ctx, past.ID, linkwatch.Postmortem{PrimaryCause: "The blog's domain <b>expired</b>",
			WhyNotCaught: "No expiry monitoring", Published: true}); err != nil {
			return err
		}
		_, err = db.CreateMaintenance(ctx, linkwatch.Maintenance{Title: "Blog migration", Component: linkwatch.HostComponent(blogHost),
			StartsAt: now.Add(-time.Minute), EndsAt: now.Add(time.Hour)})
		if err != nil {
			return err
		}
		links, err = seedSubscribers(ctx, db, now)
		return err
	})
	// Status page visitors may subscribe by email: every status page shows
	// the form, and the confirmation and manage pages are seen too.
	mails := smtptest.Start(t)
	email := fmt.Sprintf("alerts:\n  email: {host: 127.0.0.1, port: %d, security: none, from: status@links.example}\n", mails.Port)
	p := startServe(t, writeConfig(t, dir, email+sceneConfig(dbPath, "", `
  - slug: acme
    title: "Acme <script>alert(1)</script>"
    links:
      - {slug: shop, url: "`+shopURL+`", fallback: "`+backupURL+`"}
      - {slug: blog, url: "`+blogURL+`"}
  - slug: ada
    title: Ada
    links:
      - {slug: blog, url: "`+blogURL+`"}
  - slug: zed
    title: Zed
    links:
      - {slug: store, url: "`+zedURL+`"}
`)))
	waitUntil(t, 30*time.Second, "the blog's button to say it may be unavailable", func() bool {
		_, body := get(t, "GET", p.URL+"/acme")
		return strings.Contains(body, "may be unavailable right now")
	})
	p.Links = links
	return p
}

// seedSubscribers adds an email subscriber waiting for its confirmation
// and a confirmed one, and returns the paths of the confirmation page of
// the first and the manage page of the second, signed as their mails'.
func seedSubscribers(ctx context.Context, db *sqlite.DB, now time.Time) (map[string]string, error) {
	for _, a := range []string{"pending@example.com", "confirmed@example.com"} {
		if err := db.RequestEmailSubscription(ctx, a, "acme", linkwatch.MaxPendingEmail); err != nil {
			return nil, err
		}
	}
	list, err := db.ListEmailSubscribers(ctx)
	if err != nil {
		return nil, err
	}
	confirmed, err := db.ConfirmEmailSubscriber(ctx, list[1].ID)
	if err != nil {
		return nil, err
	}
	return map[string]string{
		"confirm": linkwatch.EmailConfirmPath + "?token=" + linkwatch.NewEmailToken(list[0], linkwatch.TokenConfirm, now.Add(linkwatch.EmailConfirmFor)),
		"manage":  linkwatch.EmailManagePath + "?token=" + linkwatch.NewEmailToken(confirmed, linkwatch.TokenManage, time.Time{}),
	}, nil
}

// maintenanceScene: the shop has been down for 5 minutes (an open
// incident, its alert held) inside an active maintenance window on its
// host, "Shop move", with a second one scheduled in two hours.
func maintenanceScene(t *testing.T) *proc {
	t.Helper()
	shopURL := loopbackHost(t, 5, answering("/shop")) + "/shop"
	now := time.Now().UTC()
	dir := t.TempDir()
	dbPath := seedDB(t, dir, func(ctx context.Context, db *sqlite.DB) error {
		if err := db.SaveResults(ctx, upEvery(shopURL, now.Add(-2*time.Hour), now, time.Minute, 30*time.Millisecond)); err != nil {
			return err
		}
		if _, err := db.Record(ctx, incidents.Change{Incident: linkwatch.Incident{Key: linkwatch.DestKey(shopURL), Kind: linkwatch.KindDestination,
			Title: "acme/shop is down (http_5xx)", Cause: linkwatch.CauseHTTP5xx, Summary: "503 Service Unavailable at " + shopURL,
			Status: linkwatch.StatusInvestigating, Impact: linkwatch.ImpactMajor, Host: linkwatch.HostOf(shopURL), Targets: []string{shopURL},
			Affected:  []linkwatch.Affected{{Page: "acme", Link: "shop", URL: shopURL}},
			StartedAt: now.Add(-5 * time.Minute), UpdatedAt: now, AlertsSuppressed: true}}); err != nil {
			return err
		}
		component := linkwatch.HostComponent(linkwatch.HostOf(shopURL))
		for _, m := range []linkwatch.Maintenance{
			{Title: "Shop move", Component: component, StartsAt: now.Add(-10 * time.Minute), EndsAt: now.Add(time.Hour)},
			{Title: "Shop move", Component: component, StartsAt: now.Add(2 * time.Hour), EndsAt: now.Add(3 * time.Hour)},
		} {
			if _, err := db.CreateMaintenance(ctx, m); err != nil {
				return err
			}
		}
		return nil
	})
	return startServe(t, writeConfig(t, dir, sceneConfig(dbPath, "", `
  - slug: acme
    title: Acme
    links:
      - {slug: shop, url: "`+shopURL+`"}
`)))
}

// proberOfflineScene: linkwatch's prober has been offline for the last 29
// minutes (an open prober_offline incident, and still: the canary and the
// shop are refused) and was offline yesterday from 10:01 to 13:00; every
// check of those spans failed on DNS in 3 s, the prober's network, not the
// link's; the two days before, the shop answered in 20 ms.
func proberOfflineScene(t *testing.T) *proc {
	t.Helper()
	shopURL, canaryURL := closedPort(t, "/shop"), closedPort(t, "/")
	now := time.Now().UTC()
	yesterday := now.Add(-24 * time.Hour).Truncate(24 * time.Hour)
	dir := t.TempDir()
	dbPath := seedDB(t, dir, func(ctx context.Context, db *sqlite.DB) error {
		offline := []linkwatch.Span{{From: yesterday.Add(10 * time.Hour), To: yesterday.Add(13 * time.Hour)}, {From: now.Add(-30 * time.Minute), To: now}}
		var batch []linkwatch.Result
		for _, r := range upEvery(shopURL, now.Add(-48*time.Hour), now, time.Minute, 20*time.Millisecond) {
			for _, s := range offline {
				if !r.Start.Before(s.From) && r.Start.Before(s.To) {
					r.Status, r.Cause, r.Latency, r.StatusCode, r.Summary = linkwatch.StatusDown, linkwatch.CauseDNS, 3*time.Second, 0, "lookup shop.example: no such host"
				}
			}
			batch = append(batch, r)
		}
		if err := db.SaveResults(ctx, batch); err != nil {
			return err
		}
		canary := linkwatch.CanaryID(canaryURL)
		for _, inc := range []linkwatch.Incident{
			{Key: "prober", Kind: linkwatch.KindProberOffline, Title: "Prober offline: destination alerts held back", Cause: linkwatch.CauseProberOffline,
				Summary: "the canary and 1 of 1 destinations fail at once", Status: linkwatch.StatusResolved, Impact: linkwatch.ImpactMajor,
				Targets: []string{canary}, StartedAt: yesterday.Add(10*time.Hour + time.Minute), UpdatedAt: yesterday.Add(13 * time.Hour),
				ResolvedAt: yesterday.Add(13 * time.Hour)},
			{Key: "canary", Kind: linkwatch.KindCanary, Title: "Canary unreachable: prober-offline detection is off", Cause: linkwatch.CauseTimeout,
				Summary: "the canary fails (timeout) while destinations answer", Status: linkwatch.StatusResolved, Impact: linkwatch.ImpactMinor,
				Targets: []string{canary}, StartedAt: yesterday.Add(2 * time.Hour), UpdatedAt: yesterday.Add(3 * time.Hour),
				ResolvedAt: yesterday.Add(3 * time.Hour)},
			{Key: "prober", Kind: linkwatch.KindProberOffline, Title: "Prober offline: destination alerts held back", Cause: linkwatch.CauseProberOffline,
				Summary: "the canary and 1 of 1 destinations fail at once", Status: linkwatch.StatusInvestigating, Impact: linkwatch.ImpactMajor,
				Targets: []string{canary}, StartedAt: now.Add(-29 * time.Minute), UpdatedAt: now},
		} {
			if _, err := db.Record(ctx, incidents.Change{Incident: inc}); err != nil {
				return err
			}
		}
		return nil
	})
	return startServe(t, writeConfig(t, dir, sceneConfig(dbPath, `, canary: "`+canaryURL+`"`, `
  - slug: acme
    title: Acme
    links:
      - {slug: shop, url: "`+shopURL+`"}
`)))
}

// postmortemsScene: the shop was down twice, a day apart, with the same
// cause: two resolved incidents of one title, each with a published
// postmortem.
func postmortemsScene(t *testing.T) *proc {
	t.Helper()
	shopURL := loopbackHost(t, 6, answering()) + "/shop"
	now := time.Now().UTC()
	dir := t.TempDir()
	dbPath := seedDB(t, dir, func(ctx context.Context, db *sqlite.DB) error {
		if err := db.SaveResults(ctx, upEvery(shopURL, now.Add(-50*time.Hour), now, 10*time.Minute, 30*time.Millisecond)); err != nil {
			return err
		}
		for _, ago := range []time.Duration{48 * time.Hour, 24 * time.Hour} {
			start := now.Add(-ago)
			inc, err := db.Record(ctx, incidents.Change{Incident: linkwatch.Incident{Key: linkwatch.DestKey(shopURL), Kind: linkwatch.KindDestination,
				Title: "acme/shop is down (tls_expired)", Cause: linkwatch.CauseTLSExpired, Summary: "the certificate of shop.example expired",
				Status: linkwatch.StatusResolved, Impact: linkwatch.ImpactMajor, Host: linkwatch.HostOf(shopURL), Targets: []string{shopURL},
				Affected:  []linkwatch.Affected{{Page: "acme", Link: "shop", URL: shopURL}},
				StartedAt: start, UpdatedAt: start.Add(20 * time.Minute), ResolvedAt: start.Add(20 * time.Minute)}})
			if err != nil {
				return err
			}
			if _, err := db.EditPostmortem(ctx, inc.ID, linkwatch.Postmortem{PrimaryCause: "The payment provider let its certificate expire",
				Published: true}); err != nil {
				return err
			}
		}
		return nil
	})
	return startServe(t, writeConfig(t, dir, sceneConfig(dbPath, "", `
  - slug: acme
    title: Acme
    links:
      - {slug: shop, url: "`+shopURL+`"}
`)))
}
