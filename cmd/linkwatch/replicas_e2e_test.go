package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"linkwatch/storage/postgres/pgtest"
)

// buildLinkwatch builds the linkwatch binary into a temporary directory
// (the Go build cache makes it quick after the first time): replicas are
// real processes, killed and restarted like any deployment's.
func buildLinkwatch(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "linkwatch")
	cmd := exec.Command("go", "build", "-o", bin, ".")
	cmd.Stderr = os.Stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("go build: %v", err)
	}
	return bin
}

// fleet is a set of loopback destinations on distinct hosts (127.0.0.x,
// one listener each), counting every check each destination gets.
type fleet struct {
	mu    sync.Mutex
	hits  map[string][]time.Time // by URL
	hosts []*fleetHost
}

type fleetHost struct {
	addr string
	down atomic.Bool // answers 503 while set
	srv  *http.Server
}

func newFleet(t *testing.T, hosts, perHost int) (*fleet, []string) {
	t.Helper()
	f := &fleet{hits: map[string][]time.Time{}}
	var urls []string
	for h := range hosts {
		ln, err := net.Listen("tcp", fmt.Sprintf("127.0.0.%d:0", h+2))
		if err != nil {
			t.Skipf("loopback address 127.0.0.%d unusable here: %v", h+2, err)
		}
		fh := &fleetHost{addr: ln.Addr().String()}
		fh.srv = &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			f.mu.Lock()
			u := "http://" + fh.addr + r.URL.Path
			f.hits[u] = append(f.hits[u], time.Now())
			f.mu.Unlock()
			if fh.down.Load() {
				http.Error(w, "down", http.StatusServiceUnavailable)
				return
			}
			_, _ = io.WriteString(w, "ok")
		}), ReadHeaderTimeout: 5 * time.Second}
		go func() { _ = fh.srv.Serve(ln) }()
		t.Cleanup(func() { _ = fh.srv.Close() })
		f.hosts = append(f.hosts, fh)
		for p := range perHost {
			urls = append(urls, fmt.Sprintf("http://%s/d%d", fh.addr, p))
		}
	}
	return f, urls
}

// checks counts each destination's checks within [from, to).
func (f *fleet) checks(urls []string, from, to time.Time) map[string]int {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := map[string]int{}
	for _, u := range urls {
		for _, at := range f.hits[u] {
			if !at.Before(from) && at.Before(to) {
				out[u]++
			}
		}
	}
	return out
}

// replicaSet starts linkwatch serve processes sharing one PostgreSQL and
// one config. Tests that need replicas with other settings (a region)
// write another config with writeConfig and start those with start.
type replicaSet struct {
	t   *testing.T
	bin string
	dir string
	env []string // PG_DSN, HOOK_SECRET
	seq int
}

type replicaProc struct {
	cmd    *exec.Cmd
	URL    string
	stderr *lockedBuffer
	done   chan struct{}
}

// writeConfig writes a config file and returns its path.
func (rs *replicaSet) writeConfig(cfg string) string {
	rs.t.Helper()
	rs.seq++
	path := filepath.Join(rs.dir, fmt.Sprintf("config-%d.yaml", rs.seq))
	mustWrite(rs.t, path, cfg)
	return path
}

// start runs a replica with the config at cfgPath and extra environment,
// and waits until it serves.
func (rs *replicaSet) start(cfgPath string, env ...string) *replicaProc {
	rs.t.Helper()
	cmd := exec.Command(rs.bin, "serve", "-config", cfgPath, "-addr", "127.0.0.1:0")
	cmd.Env = append(append(os.Environ(), rs.env...), env...)
	p := &replicaProc{cmd: cmd, stderr: &lockedBuffer{}, done: make(chan struct{})}
	cmd.Stderr = p.stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		rs.t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		rs.t.Fatal(err)
	}
	go func() { _ = cmd.Wait(); close(p.done) }()
	rs.t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-p.done
		if rs.t.Failed() {
			rs.t.Logf("replica %s stderr:\n%s", p.URL, p.stderr)
		}
	})
	line := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		if sc.Scan() {
			line <- sc.Text()
		}
		close(line)
		_, _ = io.Copy(io.Discard, out)
	}()
	select {
	case l := <-line:
		u, ok := strings.CutPrefix(l, "linkwatch listening on ")
		if !ok {
			rs.t.Fatalf("replica's first line %q; stderr:\n%s", l, p.stderr)
		}
		p.URL = u
	case <-time.After(30 * time.Second):
		rs.t.Fatalf("replica did not start; stderr:\n%s", p.stderr)
	}
	return p
}

// stop sends SIGTERM and waits for the replica to exit.
func (p *replicaProc) stop(t *testing.T) {
	t.Helper()
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(30 * time.Second):
		_ = p.cmd.Process.Signal(syscall.SIGQUIT) // its goroutines' stacks, to stderr
		<-p.done
		t.Fatalf("replica %s did not stop on SIGTERM:\n%s", p.URL, p.stderr)
	}
}

// kill sends SIGKILL: no goodbye, no member row deleted.
func (p *replicaProc) kill() {
	_ = p.cmd.Process.Kill()
	<-p.done
}

// ready reports whether the replica answers /readyz with 200.
func (p *replicaProc) ready(c *http.Client) bool {
	resp, err := c.Get(p.URL + "/readyz")
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

// roundRobin is a small load balancer in front of the replicas: each
// request goes to the next replica whose /readyz answered 200 at the last
// poll (every 100 ms), as a Kubernetes Service follows its endpoints.
type roundRobin struct {
	client *http.Client
	next   atomic.Uint64

	mu    sync.Mutex
	all   []*replicaProc
	ready []*replicaProc
}

func newRoundRobin() *roundRobin {
	return &roundRobin{client: &http.Client{Timeout: 10 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

func (rr *roundRobin) set(all ...*replicaProc) {
	rr.mu.Lock()
	rr.all = all
	rr.mu.Unlock()
	rr.poll()
}

// poll asks each replica whether it is ready.
func (rr *roundRobin) poll() {
	rr.mu.Lock()
	all := append([]*replicaProc(nil), rr.all...)
	rr.mu.Unlock()
	var ready []*replicaProc
	for _, p := range all {
		if p.ready(rr.client) {
			ready = append(ready, p)
		}
	}
	rr.mu.Lock()
	rr.ready = ready
	rr.mu.Unlock()
}

func (rr *roundRobin) routes(p *replicaProc) bool {
	rr.mu.Lock()
	defer rr.mu.Unlock()
	for _, r := range rr.ready {
		if r == p {
			return true
		}
	}
	return false
}

func (rr *roundRobin) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rr.mu.Lock()
	ready := rr.ready
	rr.mu.Unlock()
	if len(ready) == 0 {
		http.Error(w, "no ready replica", http.StatusServiceUnavailable)
		return
	}
	p := ready[rr.next.Add(1)%uint64(len(ready))]
	resp, err := rr.client.Get(p.URL + r.URL.Path)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	defer resp.Body.Close()
	if loc := resp.Header.Get("Location"); loc != "" {
		w.Header().Set("Location", loc)
	}
	w.WriteHeader(resp.StatusCode)
	_, _ = io.Copy(w, resp.Body)
}

// TestReplicasShareOnePostgres runs three linkwatch processes on one
// PostgreSQL and a fleet of 30 destinations on 6 hosts, checked every
// second: each destination is checked once per interval across the
// replicas, not three times; a replica killed with -9 has its hosts
// checked by the others within two intervals; one host's outage is one
// incident and one opening webhook; and restarting the replicas one by
// one behind a load balancer that follows /readyz fails no redirect.
func TestReplicasShareOnePostgres(t *testing.T) {
	if testing.Short() {
		t.Skip("starts PostgreSQL and linkwatch processes")
	}
	dsn := pgtest.DSN(t)
	bin := buildLinkwatch(t)
	f, urls := newFleet(t, 6, 5)
	hook := newHookReceiver(t)
	// The links of the host that will fail have a fallback on another
	// host: every replica's hub must divert them, whichever replica's
	// engine opened the incident.
	var links strings.Builder
	fallback := urls[0]
	for i, u := range urls {
		if strings.Contains(u, f.hosts[1].addr) {
			fmt.Fprintf(&links, "      - {slug: l%d, url: %q, fallback: %q}\n", i, u, fallback)
			continue
		}
		fmt.Fprintf(&links, "      - {slug: l%d, url: %q}\n", i, u)
	}
	divertedLink := fmt.Sprintf("/p/l%d", slices.IndexFunc(urls, func(u string) bool { return strings.Contains(u, f.hosts[1].addr) }))
	sendsTo := func(p *replicaProc, want string) bool {
		resp, err := noRedirect.Get(p.URL + divertedLink)
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusFound && resp.Header.Get("Location") == want
	}
	const interval = time.Second
	const adminToken = "replicas-admin-token-0123456789"
	rs := &replicaSet{t: t, bin: bin, dir: t.TempDir(), env: []string{"PG_DSN=" + dsn, "HOOK_SECRET=" + hookSecret, "ADMIN_TOKEN=" + adminToken}}
	cfgPath := rs.writeConfig(`
storage: {driver: postgres, dsn: "${PG_DSN}"}
server: {drain_delay: 1s, admin_token: "${ADMIN_TOKEN}", rate_limit: {per_second: 100000, burst: 100000}}
probe: {interval: 1s, timeout: 800ms, allow_private: [127.0.0.0/8]}
alerts:
  group_interval: 0s
  webhooks: [{name: ops, url: "` + hook.srv.URL + `", secret: "${HOOK_SECRET}"}]
pages:
  - slug: p
    links:
` + links.String())
	reps := []*replicaProc{rs.start(cfgPath), rs.start(cfgPath), rs.start(cfgPath)}

	// Once per interval per destination, across all replicas.
	checkRate := func(what string, from time.Time, intervals int) {
		t.Helper()
		time.Sleep(time.Until(from.Add(time.Duration(intervals) * interval)))
		counts := f.checks(urls, from, from.Add(time.Duration(intervals)*interval))
		total := 0
		for _, u := range urls {
			n := counts[u]
			total += n
			if n < intervals-1 || n > intervals+1 {
				t.Errorf("%s: %s checked %d times in %d intervals", what, u, n, intervals)
			}
		}
		t.Logf("%s: %d checks of %d destinations in %d intervals (%.2f per destination per interval)",
			what, total, len(urls), intervals, float64(total)/float64(len(urls)*intervals))
	}
	time.Sleep(3 * interval) // every replica has seen the others
	// Each replica's admin API lists the live replicas.
	replicas := func(p *replicaProc) (ids []string, sharing int) {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, p.URL+"/api/admin/replicas", nil)
		req.Header.Set("Authorization", "Bearer "+adminToken)
		resp, err := noRedirect.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var body struct {
			Sharing  int                   `json:"sharing"`
			Replicas []struct{ ID string } `json:"replicas"`
		}
		if err := json.NewDecoder(resp.Body).Decode(&body); err != nil || resp.StatusCode != http.StatusOK {
			t.Fatalf("GET /api/admin/replicas: %d %v", resp.StatusCode, err)
		}
		for _, r := range body.Replicas {
			ids = append(ids, r.ID)
		}
		return ids, body.Sharing
	}
	for _, p := range reps {
		if ids, sharing := replicas(p); len(ids) != 3 || sharing != 3 {
			t.Errorf("%s lists replicas %v, sharing %d; want 3 and 3", p.URL, ids, sharing)
		}
	}
	checkRate("3 replicas", time.Now(), 5)

	// kill -9 of the replica running the singleton jobs: its sessions end,
	// its locks with them; the others take its hosts at their next
	// heartbeat, and one of them the jobs within a few seconds.
	const jobsLine = "this replica runs the singleton jobs"
	holder := slices.IndexFunc(reps, func(p *replicaProc) bool { return strings.Contains(p.stderr.String(), jobsLine) })
	if holder < 0 {
		t.Fatal("no replica runs the singleton jobs")
	}
	killed := time.Now()
	reps[holder].kill()
	reps = slices.Delete(reps, holder, holder+1)
	checkRate("after kill -9 of one replica", killed.Add(2*interval), 3)
	if ids, sharing := replicas(reps[0]); len(ids) != 2 || sharing != 2 {
		t.Errorf("after the kill, replicas %v, sharing %d; want 2 and 2", ids, sharing)
	}
	waitUntil(t, 3*jobsLockRetry, "another replica running the singleton jobs", func() bool {
		return slices.ContainsFunc(reps, func(p *replicaProc) bool { return strings.Contains(p.stderr.String(), jobsLine) })
	})

	// One host fails: one incident, one opening alert, whoever checks it.
	down := f.hosts[1]
	host, _, _ := net.SplitHostPort(down.addr)
	down.down.Store(true)
	onHost := func(b hookBody) bool { return strings.Contains(b.Data.Incident.Key, host) }
	hook.waitFor(&servedApp{stderr: reps[0].stderr}, 20*time.Second, "opened for the failing host", func(b hookBody) bool {
		return b.Type == "incident.opened" && onHost(b)
	})
	hook.waitFor(&servedApp{stderr: reps[0].stderr}, 20*time.Second, "the host incident with all five destinations", func(b hookBody) bool {
		return onHost(b) && len(b.Data.Incident.Targets) == 5
	})
	time.Sleep(3 * interval) // a duplicate would open now
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
	// Each replica's hub follows the incident, whoever opened it: its
	// engine reloads the open incidents every interval.
	for _, p := range reps {
		waitUntil(t, 3*interval, "every replica sending the failing host's visitors to the fallback", func() bool { return sendsTo(p, fallback) })
	}
	down.down.Store(false)
	hook.waitFor(&servedApp{stderr: reps[0].stderr}, 20*time.Second, "resolved", func(b hookBody) bool {
		return b.Type == "incident.resolved" && onHost(b)
	})
	for _, p := range reps {
		waitUntil(t, 3*interval, "every replica sending visitors back to the recovered host", func() bool {
			return sendsTo(p, urls[slices.IndexFunc(urls, func(u string) bool { return strings.Contains(u, f.hosts[1].addr) })])
		})
	}

	// Rolling restart under steady redirect load: a replacement starts
	// and becomes ready, then the old one gets SIGTERM, one at a time.
	reps = append(reps, rs.start(cfgPath))
	rr := newRoundRobin()
	rr.set(reps...)
	stopPoll := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stopPoll:
				return
			case <-tick.C:
				rr.poll()
			}
		}
	})
	lb := &http.Server{Handler: rr, ReadHeaderTimeout: 5 * time.Second}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = lb.Serve(ln) }()
	defer lb.Close()
	var sent, failed atomic.Int64
	var failures sync.Map
	stopLoad := make(chan struct{})
	client := newRoundRobin().client
	for w := range 4 {
		wg.Go(func() {
			for i := w; ; i += 4 {
				select {
				case <-stopLoad:
					return
				default:
				}
				resp, err := client.Get(fmt.Sprintf("http://%s/p/l%d", ln.Addr(), i%len(urls)))
				sent.Add(1)
				if err != nil {
					failed.Add(1)
					failures.Store(err.Error(), true)
					continue
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusFound {
					failed.Add(1)
					failures.Store(resp.Status, true)
				}
			}
		})
	}
	for i := range reps {
		next := rs.start(cfgPath)
		rr.set(append(append([]*replicaProc(nil), reps...), next)...)
		waitUntil(t, 10*time.Second, "the replacement routed", func() bool { return rr.routes(next) })
		old := reps[i]
		reps[i] = next
		old.stop(t)
		rr.set(reps...)
	}
	time.Sleep(500 * time.Millisecond)
	close(stopLoad)
	close(stopPoll)
	wg.Wait()
	var why []string
	failures.Range(func(k, _ any) bool { why = append(why, k.(string)); return true })
	t.Logf("rolling restart of 3 replicas: %d redirects, %d failed %v", sent.Load(), failed.Load(), why)
	if failed.Load() != 0 || sent.Load() < 100 {
		t.Errorf("rolling restart: %d of %d redirects failed: %v", failed.Load(), sent.Load(), why)
	}
	checkRate("after the rolling restart", time.Now().Add(2*interval), 3)
}
