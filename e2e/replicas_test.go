package e2e

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"linkwatch/storage/postgres/pgtest"
)

// replicaInterval is the probe interval of the replica tests. Their
// checks count each destination's checks an interval, and a replica's
// heartbeats (three an interval, a lease of three intervals: checker/shard)
// must survive a loaded machine, and so must its checks (900ms timeout),
// or a healthy destination would open an incident. One second: a lease of
// 3 s, which a replica's heartbeats kept with two suites running at once
// beside them (the README's Tests).
const replicaInterval = time.Second

// strictInterval is replicaInterval for the tests that time checks
// against each other (two within half an interval are a double check: a
// scheduling delay of half a second on a loaded machine would be one at
// 1 s) or whose database goes away and comes back. Two seconds for the
// latter, not one: after a database's return a replica counts only the
// members heard within a beat (a third of an interval, checker/shard), and
// a third of a second was too short for a replica's reconnect while CI's
// whole suite ran beside it (TestDatabaseRestartKeepsTheSplit, 1 run in 8).
const strictInterval = 2 * time.Second

// jobsLockRetry is how often a replica tries to take the singleton jobs'
// lock (5s in cmd/linkwatch): a killed holder's jobs resume within it.
const jobsLockRetry = 5 * time.Second

// replicas asks a replica's admin API for the live replicas and its split.
func replicas(t *testing.T, p *proc, token string) (ids []string, sharing int) {
	t.Helper()
	ids, sharing, err := readReplicas(p, token)
	if err != nil {
		t.Fatal(err)
	}
	return ids, sharing
}

// readReplicas is replicas for a caller that expects failures (while the
// database is down, or not reached yet: a replica listens before it is,
// and its admin API reads fail until then) or is not the test's
// goroutine.
func readReplicas(p *proc, token string) (ids []string, sharing int, err error) {
	req, _ := http.NewRequest(http.MethodGet, p.URL+"/api/admin/replicas", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := noRedirect.Do(req)
	if err != nil {
		return nil, 0, err
	}
	defer resp.Body.Close()
	var body struct {
		Sharing  int                   `json:"sharing"`
		Replicas []struct{ ID string } `json:"replicas"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil || resp.StatusCode != http.StatusOK {
		return nil, 0, fmt.Errorf("GET /api/admin/replicas: %d %v", resp.StatusCode, err)
	}
	for _, r := range body.Replicas {
		ids = append(ids, r.ID)
	}
	return ids, body.Sharing, nil
}

// sharedFleet is the world of the replica tests on one database: a fleet
// of 30 destinations on 6 hosts (the second host's links have a fallback
// on the first), a webhook receiver, a PostgreSQL database and one config
// every replica runs.
type sharedFleet struct {
	t       *testing.T
	f       *fleet
	urls    []string
	hook    *hookReceiver
	cfgPath string
	env     []string
	// interval is the probe interval of every replica.
	interval time.Duration
	started  int // replicas started: each is named in its User-Agent
}

const replicasAdminToken = "replicas-admin-token-0123456789"

func newSharedFleet(t *testing.T) *sharedFleet {
	t.Helper()
	return newSharedFleetOn(t, pgtest.DSN(t), replicaInterval)
}

// newSharedFleetOn is newSharedFleet on the database at dsn, checking
// every interval.
func newSharedFleetOn(t *testing.T, dsn string, interval time.Duration) *sharedFleet {
	t.Helper()
	f, urls := newFleet(t, 6, 5)
	hook := newHookReceiver(t)
	var links strings.Builder
	for i, u := range urls {
		if strings.Contains(u, f.hosts[1].addr) {
			fmt.Fprintf(&links, "      - {slug: l%d, url: %q, fallback: %q}\n", i, u, urls[0])
			continue
		}
		fmt.Fprintf(&links, "      - {slug: l%d, url: %q}\n", i, u)
	}
	// drain_delay: how long a stopping replica, unready, still serves,
	// for the rolling restart's balancer (polling every 100 ms) to take it
	// out; one second was too short at a load of 30 (one 502 in 190).
	cfgPath := writeConfig(t, t.TempDir(), `
storage: {driver: postgres, dsn: "${PG_DSN}"}
server: {drain_delay: 2s, admin_token: "${ADMIN_TOKEN}", rate_limit: {per_second: 100000, burst: 100000}}
probe: {interval: `+interval.String()+`, timeout: 900ms, allow_private: [127.0.0.0/8], user_agent: "linkwatch (${REPLICA})"}
alerts:
  group_interval: 0s
  webhooks: [{name: ops, url: "`+hook.srv.URL+`", secret: "${HOOK_SECRET}"}]
pages:
  - slug: p
    links:
`+links.String())
	return &sharedFleet{t: t, f: f, urls: urls, hook: hook, cfgPath: cfgPath, interval: interval,
		env: []string{"PG_DSN=" + dsn, "HOOK_SECRET=" + hookSecret, "ADMIN_TOKEN=" + replicasAdminToken}}
}

// start starts a replica, with env added to the fleet's; its checks name
// it in their User-Agent (r1, r2, ...).
func (s *sharedFleet) start(env ...string) *proc {
	s.started++
	return startServe(s.t, s.cfgPath, append(append([]string{fmt.Sprintf("REPLICA=r%d", s.started)}, s.env...), env...)...)
}

// checkRate checks that each destination was checked once per interval,
// across all replicas, in the intervals from from on (and waits for them
// to pass).
func (s *sharedFleet) checkRate(what string, from time.Time, intervals int) {
	s.t.Helper()
	to := from.Add(time.Duration(intervals) * s.interval)
	time.Sleep(time.Until(to)) // the window to measure has passed
	counts := s.f.checks(s.urls, from, to)
	total := 0
	for _, u := range s.urls {
		n := counts[u]
		total += n
		if n < intervals-1 || n > intervals+1 {
			s.t.Errorf("%s: %s checked %d times in %d intervals", what, u, n, intervals)
		}
	}
	s.t.Logf("%s: %d checks of %d destinations in %d intervals (%.2f per destination per interval)",
		what, total, len(s.urls), intervals, float64(total)/float64(len(s.urls)*intervals))
}

// doubleChecks is fleet.doubleChecks of the fleet's destinations within
// [from, to), once it has made sure that each check named the replica that
// made it (or two replicas' checks would look like one's).
func (s *sharedFleet) doubleChecks(from, to time.Time) map[string][]time.Time {
	s.t.Helper()
	names := map[string]bool{}
	for n := 1; n <= s.started; n++ {
		names[fmt.Sprintf("linkwatch (r%d)", n)] = true
	}
	for _, by := range s.f.checkers(s.urls, from, to) {
		if !names[by] {
			s.t.Errorf("a check by %q, which names none of the %d replicas started", by, s.started)
		}
	}
	return s.f.doubleChecks(s.urls, s.interval, from, to)
}

// settled waits until each replica's admin API lists the n live replicas
// and its split shares with n: the split is settled.
func (s *sharedFleet) settled(reps []*proc, n int) {
	s.t.Helper()
	waitUntil(s.t, 30*time.Second, fmt.Sprintf("every replica listing and sharing with %d replicas", n), func() bool {
		for _, p := range reps {
			if ids, sharing, err := readReplicas(p, replicasAdminToken); err != nil || len(ids) != n || sharing != n {
				return false
			}
		}
		return true
	})
}

// adminGet reads an admin API path of a process.
func adminGet(t *testing.T, p *proc, token, path string) string {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, p.URL+path, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := noRedirect.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d %s", path, resp.StatusCode, body)
	}
	return string(body)
}

// TestReplicasShareOnePostgres runs three linkwatch processes on one
// PostgreSQL and a fleet of 30 destinations on 6 hosts: each destination
// is checked once per interval across the replicas, not three times; a
// replica killed with -9 has its hosts checked by the others within two
// intervals, and another takes the singleton jobs; one host's outage is
// one incident and one opening webhook, and every replica's hub sends its
// visitors to the fallback and back.
func TestReplicasShareOnePostgres(t *testing.T) {
	endToEnd(t)
	s := newSharedFleet(t)
	f, urls, hook := s.f, s.urls, s.hook
	fallback := urls[0]
	divertedLink := fmt.Sprintf("/p/l%d", slices.IndexFunc(urls, func(u string) bool { return strings.Contains(u, f.hosts[1].addr) }))
	sendsTo := func(p *proc, want string) bool {
		resp, err := noRedirect.Get(p.URL + divertedLink)
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusFound && resp.Header.Get("Location") == want
	}
	interval := s.interval
	reps := []*proc{s.start(), s.start(), s.start()}
	s.settled(reps, 3)
	s.checkRate("3 replicas", time.Now().Add(interval), 5)

	// kill -9 of the replica running the singleton jobs: its sessions end,
	// its locks with them; the others take its hosts at their next
	// heartbeat, and one of them the jobs within a few seconds.
	const jobsLine = "this replica runs the singleton jobs"
	holder := -1
	waitUntil(t, 3*jobsLockRetry, "a replica running the singleton jobs", func() bool {
		holder = slices.IndexFunc(reps, func(p *proc) bool { return strings.Contains(p.stderr.String(), jobsLine) })
		return holder >= 0
	})
	killed := time.Now()
	reps[holder].kill()
	reps = slices.Delete(reps, holder, holder+1)
	s.checkRate("after kill -9 of one replica", killed.Add(2*interval), 3)
	if ids, sharing := replicas(t, reps[0], replicasAdminToken); len(ids) != 2 || sharing != 2 {
		t.Errorf("after the kill, replicas %v, sharing %d; want 2 and 2", ids, sharing)
	}
	waitUntil(t, 3*jobsLockRetry, "another replica running the singleton jobs", func() bool {
		return slices.ContainsFunc(reps, func(p *proc) bool { return strings.Contains(p.stderr.String(), jobsLine) })
	})

	// One host fails: one incident, one opening alert, whoever checks it.
	down := f.hosts[1]
	host, _, _ := net.SplitHostPort(down.addr)
	down.down.Store(true)
	onHost := func(b hookBody) bool { return strings.Contains(b.Data.Incident.Key, host) }
	hook.waitFor(reps[0], 30*time.Second, "opened for the failing host", func(b hookBody) bool {
		return b.Type == "incident.opened" && onHost(b)
	})
	openedAt := time.Now()
	hook.waitFor(reps[0], 30*time.Second, "the host incident with all five destinations", func(b hookBody) bool {
		return onHost(b) && len(b.Data.Incident.Targets) == 5
	})
	// Each replica's hub follows the incident, whoever opened it: its
	// engine reloads the open incidents every interval.
	for _, p := range reps {
		waitUntil(t, 6*interval, "every replica sending the failing host's visitors to the fallback", func() bool { return sendsTo(p, fallback) })
	}
	time.Sleep(time.Until(openedAt.Add(3 * interval))) // a duplicate would have opened by now
	opened := 0
	for _, b := range hook.got() {
		if b.Type == "incident.opened" {
			opened++
			if !onHost(b) {
				t.Errorf("an incident opened for a healthy destination: %v", b)
			}
		}
	}
	if opened != 1 {
		t.Errorf("%d incident.opened webhooks for one host's outage across the replicas, want 1: %v", opened, hook.got())
	}
	down.down.Store(false)
	hook.waitFor(reps[0], 30*time.Second, "resolved", func(b hookBody) bool {
		return b.Type == "incident.resolved" && onHost(b)
	})
	for _, p := range reps {
		waitUntil(t, 6*interval, "every replica sending visitors back to the recovered host", func() bool {
			return sendsTo(p, urls[slices.IndexFunc(urls, func(u string) bool { return strings.Contains(u, f.hosts[1].addr) })])
		})
	}

}

// TestReplicasRollingRestart restarts three linkwatch processes on one
// PostgreSQL one by one, behind a load balancer that follows /readyz,
// under steady redirect load: no redirect fails, and afterwards each
// destination is still checked once per interval across the replicas.
func TestReplicasRollingRestart(t *testing.T) {
	endToEnd(t)
	s := newSharedFleet(t)
	urls := s.urls
	interval := s.interval
	reps := []*proc{s.start(), s.start(), s.start()}
	s.settled(reps, 3)

	// Rolling restart under steady redirect load: a replacement starts
	// and becomes ready, then the old one gets SIGTERM, one at a time.
	rr := newRoundRobin()
	rr.set(reps...)
	load := startRedirectLoad(t, rr, 4, func(i int64) string { return fmt.Sprintf("/p/l%d", i%int64(len(urls))) },
		func(resp *http.Response) string {
			if resp.StatusCode != http.StatusFound {
				return resp.Status
			}
			return ""
		})
	for i := range reps {
		next := s.start()
		rr.set(append(append([]*proc(nil), reps...), next)...)
		waitUntil(t, 20*time.Second, "the replacement routed", func() bool { return rr.routes(next) })
		old := reps[i]
		reps[i] = next
		old.stop(t)
		rr.set(reps...)
	}
	time.Sleep(interval) // the load goes on past the last restart
	load.stop()
	t.Logf("rolling restart of 3 replicas: %s", load)
	if load.failed.Load() != 0 || load.sent.Load() < 100 {
		t.Errorf("rolling restart: %s", load)
	}
	s.settled(reps, 3)
	s.checkRate("after the rolling restart", time.Now().Add(interval), 3)
}

// TestReplicasInTwoRegions runs three linkwatch processes on one
// PostgreSQL, two in eu-west and one in us-east, with one config file that
// takes the region from the environment. Every destination is checked once
// per interval from each region. A host that fails only from eu-west is a
// regional note on every replica's status page and never a page; when it
// fails from both regions, one incident opens with one webhook.
func TestReplicasInTwoRegions(t *testing.T) {
	endToEnd(t)
	dsn := pgtest.DSN(t)
	f, urls := newFleet(t, 4, 3)
	hook := newHookReceiver(t)
	const interval = replicaInterval
	const adminToken = "regions-admin-token-0123456789"
	var links strings.Builder
	for i, u := range urls[1:] {
		fmt.Fprintf(&links, "      - {slug: l%d, url: %q}\n", i, u)
	}
	env := []string{"PG_DSN=" + dsn, "HOOK_SECRET=" + hookSecret, "ADMIN_TOKEN=" + adminToken}
	// The canary is the first host's first destination: each region proves
	// its own network with it.
	cfgPath := writeConfig(t, t.TempDir(), `
storage: {driver: postgres, dsn: "${PG_DSN}"}
server: {drain_delay: 0s, admin_token: "${ADMIN_TOKEN}", rate_limit: {per_second: 100000, burst: 100000}}
probe:
  interval: `+interval.String()+`
  timeout: 900ms
  self_check: false
  allow_private: [127.0.0.0/8]
  region: ${LINKWATCH_REGION}
  user_agent: "linkwatch (${LINKWATCH_REGION})"
  canary: "`+urls[0]+`"
alerts:
  group_interval: 0s
  webhooks: [{name: ops, url: "`+hook.srv.URL+`", secret: "${HOOK_SECRET}"}]
pages:
  - slug: p
    links:
`+links.String())
	start := func(region string) *proc {
		return startServe(t, cfgPath, append([]string{"LINKWATCH_REGION=" + region}, env...)...)
	}
	reps := []*proc{start("eu-west"), start("eu-west"), start("us-east")}
	// Each replica splits its region's destinations with the live
	// replicas of its region: two in eu-west, one in us-east.
	waitUntil(t, 30*time.Second, "every replica sharing with its region's replicas", func() bool {
		for i, p := range reps {
			if ids, sharing, err := readReplicas(p, adminToken); err != nil || len(ids) != 3 || sharing != []int{2, 2, 1}[i] {
				return false
			}
		}
		return true
	})

	// Once per interval from each region: twice in all, not three times.
	from := time.Now().Add(interval)
	const intervals = 5
	time.Sleep(time.Until(from.Add(intervals * interval))) // the window to measure has passed
	counts := f.checks(urls[1:], from, from.Add(intervals*interval))
	for _, u := range urls[1:] {
		if n := counts[u]; n < 2*(intervals-1) || n > 2*(intervals+1) {
			t.Errorf("%s checked %d times in %d intervals from two regions, want about %d", u, n, intervals, 2*intervals)
		}
	}

	// The third host fails from eu-west only: a note, no page.
	regional := f.hosts[2]
	host, _, _ := net.SplitHostPort(regional.addr)
	onHost := func(b hookBody) bool { return strings.Contains(b.Data.Incident.Key, host) }
	regional.downFrom.Store("eu-west")
	// The note in the database first: a status page asked before it
	// would be the one served for the next 5 s (the page's cache).
	waitUntil(t, 30*time.Second, "the regional note", func() bool {
		return strings.Contains(adminGet(t, reps[0], adminToken, "/api/admin/incidents?open=true"), `"kind": "regional"`)
	})
	noted := time.Now()
	for _, p := range reps {
		waitUntil(t, 30*time.Second, "the note on "+p.URL+"/status", func() bool {
			resp, err := noRedirect.Get(p.URL + "/status")
			if err != nil {
				return false
			}
			defer resp.Body.Close()
			body, _ := io.ReadAll(resp.Body)
			return strings.Contains(string(body), "unreachable from eu-west")
		})
	}
	time.Sleep(time.Until(noted.Add(3 * interval))) // a page would have gone out by now
	for _, b := range hook.got() {
		if onHost(b) {
			t.Fatalf("a failure seen from one region of two paged: %v", b)
		}
	}

	// Now from both regions: one incident, one opening webhook.
	regional.down.Store(true)
	hook.waitFor(reps[2], 30*time.Second, "opened once both regions see it", func(b hookBody) bool {
		return b.Type == "incident.opened" && onHost(b)
	})
	time.Sleep(3 * interval) // a duplicate would have opened by now
	opened := 0
	for _, b := range hook.got() {
		if b.Type == "incident.opened" {
			opened++
			if !onHost(b) {
				t.Errorf("an incident opened for a healthy destination: %v", b)
			}
		}
	}
	if opened != 1 {
		t.Errorf("%d incident.opened webhooks across two regions and three replicas, want 1: %v", opened, hook.got())
	}
	for _, p := range reps {
		p.stop(t)
	}
}
