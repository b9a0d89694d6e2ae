package e2e

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"linkwatch"
	"linkwatch/storage/postgres"
	"linkwatch/storage/postgres/pgtest"
)

// TestTwoRegionsVote runs two replicas, eu-west and us-east, on one
// PostgreSQL with one config file that takes the region from the
// environment and names it in the User-Agent. The destination fails only
// for eu-west's prober: a regional note, no alert. An operator resolves
// it by hand on us-east's replica; eu-west still fails, and a new note
// opens only from its fresh failures after that. Then it fails for both:
// one incident, one opening alert. Then it recovers for both, the two
// probers' checks a moment apart: the incident resolves, and no note
// opens from the region a check behind.
func TestTwoRegionsVote(t *testing.T) {
	endToEnd(t)
	dsn := pgtest.DSN(t) // skips without PostgreSQL, fails under CI=true
	// The destination fails from eu-west once both replicas run and each
	// has proven its network (its canary answered): before that, a region
	// alone is every voting region, and its failure the majority's.
	var failFor atomic.Value
	failFor.Store([]string{})
	var canaryFrom sync.Map // region -> true
	dest := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/canary" {
			for _, region := range []string{"eu-west", "us-east"} {
				if strings.Contains(r.UserAgent(), "("+region+")") {
					canaryFrom.Store(region, true)
				}
			}
		}
		for _, region := range failFor.Load().([]string) {
			if r.URL.Path == "/shop" && strings.Contains(r.UserAgent(), "("+region+")") {
				http.Error(w, "not from "+region, http.StatusServiceUnavailable)
				return
			}
		}
		_, _ = w.Write([]byte("ok"))
	}))
	defer dest.Close()
	const interval = time.Second
	cfgPath := writeConfig(t, t.TempDir(), `
server: {public_url: "http://127.0.0.1:9", drain_delay: 0s, admin_token: "${ADMIN_TOKEN}"}
storage: {driver: postgres, dsn: '${LINKWATCH_TEST_DSN}'}
probe:
  interval: `+interval.String()+`
  timeout: 900ms
  self_check: false
  allow_private: [127.0.0.1/32]
  region: ${LINKWATCH_REGION}
  user_agent: "linkwatch (${LINKWATCH_REGION})"
  canary: "`+dest.URL+`/canary"
alerts: {group_interval: 0s}
pages:
  - slug: ada
    links:
      - {slug: shop, url: "`+dest.URL+`/shop"}
`)
	const adminToken = "regions-vote-admin-token-0123456789"
	var apps []*proc
	for _, region := range []string{"eu-west", "us-east"} {
		apps = append(apps, startServe(t, cfgPath, "LINKWATCH_TEST_DSN="+dsn, "LINKWATCH_REGION="+region, "ADMIN_TOKEN="+adminToken))
	}
	waitUntil(t, 30*time.Second, "both replicas listing both, and each region's canary answered", func() bool {
		for _, app := range apps {
			if ids, _, err := readReplicas(app, adminToken); err != nil || len(ids) != 2 {
				return false
			}
		}
		_, eu := canaryFrom.Load("eu-west")
		_, us := canaryFrom.Load("us-east")
		return eu && us
	})
	failFor.Store([]string{"eu-west"})
	db, err := postgres.Open(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ctx := context.Background()
	open := func(kind linkwatch.IncidentKind) []linkwatch.Incident {
		list, err := db.OpenIncidents(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var out []linkwatch.Incident
		for _, inc := range list {
			if inc.Kind == kind {
				out = append(out, inc)
			}
		}
		return out
	}
	outbox := func() []linkwatch.Alert {
		a, err := db.Outbox(ctx, 100)
		if err != nil {
			t.Fatal(err)
		}
		return a
	}

	waitUntil(t, 30*time.Second, "a regional note", func() bool { return len(open(linkwatch.KindRegional)) == 1 })
	note := open(linkwatch.KindRegional)[0]
	if note.Title != "ada/shop is unreachable from eu-west" {
		t.Errorf("note title %q", note.Title)
	}
	// A few more intervals: still a note, never a page.
	time.Sleep(3 * interval)
	if incs := open(linkwatch.KindDestination); len(incs) != 0 {
		t.Fatalf("a failure seen from one region of two opened %+v", incs)
	}
	if a := outbox(); len(a) != 0 {
		t.Fatalf("alerts for a regional note: %+v", a)
	}
	for _, app := range apps {
		waitUntil(t, 30*time.Second, "the note on "+app.URL+"/status", func() bool {
			_, body := get(t, "GET", app.URL+"/status")
			return strings.Contains(body, "unreachable from eu-west")
		})
	}

	// Resolved by hand on the replica that sees the destination up (no
	// engine holds a note): no alert, and eu-west's failure opens a new
	// note only once it has failed again after the resolution.
	code, body := adminCall(t, apps[1], adminToken, "POST", "/api/admin/incidents/"+strconv.FormatInt(note.ID, 10)+"/resolve", `{"by":"alice","note":"eu-west's transit, fixed"}`)
	if code != http.StatusOK {
		t.Fatalf("resolve the note on us-east: %d %s", code, body)
	}
	resolved, err := db.Incident(ctx, note.ID)
	if err != nil || resolved.Open() {
		t.Fatalf("note after its resolution: %+v, %v", resolved, err)
	}
	waitUntil(t, 20*time.Second, "eu-west's new note", func() bool { return len(open(linkwatch.KindRegional)) == 1 })
	if again := open(linkwatch.KindRegional)[0]; again.ID == note.ID || again.StartedAt.Before(resolved.ResolvedAt) {
		t.Errorf("note after the resolution by hand: %+v, want a new one begun after %v", again, resolved.ResolvedAt)
	}
	if a := outbox(); len(a) != 0 {
		t.Fatalf("alerts for a regional note: %+v", a)
	}

	failFor.Store([]string{"eu-west", "us-east"})
	waitUntil(t, 30*time.Second, "the incident", func() bool { return len(open(linkwatch.KindDestination)) == 1 })
	time.Sleep(3 * interval) // a second incident or alert would appear now
	majority := open(linkwatch.KindDestination)
	if len(majority) != 1 || !strings.Contains(majority[0].Summary, "failing from eu-west and us-east") {
		t.Fatalf("incidents = %+v", majority)
	}
	var opened int
	for _, a := range outbox() {
		if a.Type == linkwatch.AlertOpened && a.Incident.Kind == linkwatch.KindDestination {
			opened++
		}
	}
	if opened != 1 {
		t.Errorf("%d incident.opened alerts, want 1: %+v", opened, outbox())
	}
	if n := open(linkwatch.KindRegional); len(n) != 0 {
		t.Errorf("the note is still open beside the incident: %+v", n)
	}

	failFor.Store([]string(nil))
	recovery := time.Now()
	shop := dest.URL + "/shop"
	waitUntil(t, 20*time.Second, "both regions to record the recovery", func() bool {
		verdicts, err := db.Verdicts(ctx, []string{shop})
		if err != nil {
			t.Fatal(err)
		}
		up := 0
		for _, v := range verdicts {
			if !v.Failing {
				up++
			}
		}
		return up == 2 && len(open(linkwatch.KindDestination)) == 0
	})
	notes, err := db.ListIncidents(ctx, linkwatch.IncidentQuery{Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range notes {
		if n.Kind == linkwatch.KindRegional && (n.Open() || n.ResolvedAt.After(recovery)) {
			t.Errorf("a regional note at the recovery, from the region a check behind: %q, %v to %v", n.Title, n.StartedAt, n.ResolvedAt)
		}
	}
	for _, app := range apps {
		app.stop(t)
	}
}

// adminCall sends an authenticated request to a replica's admin API and
// returns the status and body.
func adminCall(t *testing.T, p *proc, token, method, path, body string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, p.URL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := noRedirect.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}
