package main

import (
	"context"
	"encoding/base64"
	"flag"
	"fmt"
	"io"
	"maps"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"
)

// chaosChannels are the config file's webhooks the run receives: two, so
// that alerts are counted per channel.
var chaosChannels = []string{"ops", "audit"}

// chaosFailureThreshold is the replicas' probe.failure_threshold, which
// the judge of alerts reckons with (expectAlerts).
const chaosFailureThreshold = 2

// runChaos runs replicas of linkwatch on a PostgreSQL server of its own
// under a redirect load that follows /readyz, and breaks things on a
// schedule: a random replica killed with SIGKILL and restarted, the
// database shut down and restarted, hosts of the fleet failing and
// recovering. Then it judges what visitors, the fleet and the alert
// receivers got, and fails when a goal is missed.
func runChaos(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("linkbench chaos", flag.ContinueOnError)
	fs.SetOutput(stderr)
	bin := fs.String("linkwatch", "", "path to a linkwatch binary (default: go build ./cmd/linkwatch into a temporary directory)")
	replicas := fs.Int("replicas", 3, "linkwatch replicas")
	duration := fs.Duration("duration", time.Hour, "the whole run: warm-up, chaos, and a quiet end for the last alerts (-settle)")
	killEvery := fs.Duration("kill-every", 30*time.Second, "SIGKILL a random replica this often (0: never)")
	restartAfter := fs.Duration("restart-after", time.Second, "restart a killed replica after this long")
	dbEvery := fs.Duration("db-restart-every", 10*time.Minute, "shut the database down this often (0: never)")
	dbDown := fs.Duration("db-down", 45*time.Second, "how long the database stays down")
	hostEvery := fs.Duration("host-fail-every", 90*time.Second, "a fleet host fails this often, the next host each time (0: never)")
	hostFor := fs.Duration("host-fail-for", 40*time.Second, "how long a failed host answers 503")
	hosts := fs.Int("hosts", 8, "fleet hosts (127.0.0.2, 127.0.0.3, ...): what the replicas split")
	perHost := fs.Int("per-host", 25, "destinations per host")
	interval := fs.Duration("interval", 10*time.Second, "probe.interval")
	rate := fs.Float64("rate", 100, "redirects per second (open loop)")
	readyEvery := fs.Duration("ready-every", 250*time.Millisecond, "the load balancer polls each replica's /readyz this often")
	settle := fs.Duration("settle", time.Minute, "the end of the run without chaos: alerts of the last outage arrive")
	logs := fs.String("logs", "", "keep the replicas' logs in this directory (default: removed)")
	seed := fs.Uint64("seed", 0, "seed of the replica picks (0: from the clock)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	// The warm-up (every replica ready, every destination checked) takes
	// at most this long, or the run fails.
	const warmupLimit = 2 * time.Minute
	chaosFor := *duration - warmupLimit - *settle // at the least
	switch {
	case *replicas < 1:
		return fmt.Errorf("-replicas must be at least 1")
	case *hosts < 1 || *hosts > 250:
		return fmt.Errorf("-hosts must be from 1 to 250 (127.0.0.2 to 127.0.0.251)")
	case *perHost < 1:
		return fmt.Errorf("-per-host must be at least 1")
	case *interval < time.Second:
		return fmt.Errorf("-interval must be at least 1s (linkwatch's shortest probe.interval)")
	case fs.NArg() > 0:
		return fmt.Errorf("unexpected arguments %q: linkbench chaos takes flags only", fs.Args())
	case !(*rate > 0 && *rate <= 100000): // NaN too
		return fmt.Errorf("-rate must be above 0 and at most 100000 redirects per second")
	case *readyEvery <= 0:
		return fmt.Errorf("-ready-every must be positive")
	case *killEvery < 0 || *dbEvery < 0 || *hostEvery < 0:
		return fmt.Errorf("-kill-every, -db-restart-every and -host-fail-every must not be negative (0: never)")
	case *killEvery > 0 && (*restartAfter < 0 || *restartAfter >= *killEvery):
		return fmt.Errorf("-restart-after must be from 0 to less than -kill-every: one replica down at a time")
	case *hostEvery > 0 && (*hostFor <= 0 || *hostFor >= *hostEvery):
		return fmt.Errorf("-host-fail-for must be positive and shorter than -host-fail-every: one host down at a time")
	case *dbEvery > 0 && (*dbDown <= 0 || *dbDown >= *dbEvery):
		return fmt.Errorf("-db-down must be positive and shorter than -db-restart-every")
	case *settle < 2**interval:
		return fmt.Errorf("-settle must be at least 2 intervals (%s): the last outage's alerts come after it ends", 2**interval)
	case chaosFor < *interval:
		return fmt.Errorf("-duration (%s) must leave room for the warm-up (up to %s), -settle (%s) and some chaos", *duration, warmupLimit, *settle)
	// The database goes down half-way through each period after the
	// warm-up: a run that asks for outages has at least one.
	case *dbEvery > 0 && *dbEvery/2+*dbDown > chaosFor:
		return fmt.Errorf("-db-restart-every %s: the first outage (%s after the warm-up, for %s) would not fit in %s of chaos; make it at most %s, or 0 for none",
			*dbEvery, *dbEvery/2, *dbDown, chaosFor, 2*(chaosFor-*dbDown))
	}
	if *seed == 0 {
		*seed = uint64(time.Now().UnixNano())
	}
	rng := rand.New(rand.NewPCG(*seed, 0))
	runStart := time.Now()
	end := runStart.Add(*duration)

	dir, err := os.MkdirTemp("", "linkbench-chaos-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	logDir := *logs
	if logDir == "" {
		logDir = dir
	} else if err := os.MkdirAll(logDir, 0o755); err != nil {
		return err
	}
	if *bin, err = linkwatchBinary(ctx, *bin, dir, stdout, stderr); err != nil {
		return err
	}
	pg, dsn, err := startPostgres(ctx)
	if err != nil {
		return err
	}
	defer func() { _ = pg.Stop() }()

	fleet, err := newChaosFleet(*hosts)
	if err != nil {
		return err
	}
	defer fleet.close()
	secret := "whsec_" + base64.StdEncoding.EncodeToString([]byte("linkbench-chaos-secret-0123456789"))
	sink, err := newHookSink(secret)
	if err != nil {
		return err
	}
	defer sink.srv.Close()

	// The config, less the probe line: each replica's names it in its
	// User-Agent, so the fleet's log says who checked what.
	var cfg strings.Builder
	fmt.Fprintf(&cfg, `storage: {driver: postgres, dsn: '${LINKBENCH_DSN}'}
server: {drain_delay: 0s, rate_limit: {per_second: 1000000, burst: 1000000}}
alerts:
  webhooks:
`)
	for _, c := range chaosChannels {
		fmt.Fprintf(&cfg, "    - {name: %s, url: \"http://%s/hook/%s\", secret: %q}\n", c, sink.addr, c, secret)
	}
	cfg.WriteString("pages:\n")
	var urls, paths []string
	for h, fh := range fleet.hosts {
		fmt.Fprintf(&cfg, "  - slug: h%d\n    links:\n", h)
		for d := range *perHost {
			u := fmt.Sprintf("http://%s/d%d", fh.addr, d)
			fmt.Fprintf(&cfg, "      - {slug: l%d, url: %q}\n", d, u)
			urls = append(urls, u)
			paths = append(paths, fmt.Sprintf("/h%d/l%d", h, d))
		}
	}

	var reps []*chaosReplica
	defer func() {
		var wg sync.WaitGroup
		for _, r := range reps {
			wg.Add(1)
			go func() { defer wg.Done(); r.stop(); _ = r.log.Close() }()
		}
		wg.Wait()
	}()
	for i := range *replicas {
		addr, err := freeAddr()
		if err != nil {
			return err
		}
		lf, err := os.Create(filepath.Join(logDir, fmt.Sprintf("replica-%d.log", i)))
		if err != nil {
			return err
		}
		cfgPath := filepath.Join(dir, fmt.Sprintf("replica-%d.yaml", i))
		probe := fmt.Sprintf("probe: {interval: %s, timeout: %s, failure_threshold: %d, allow_private: [127.0.0.0/8], self_check: false, user_agent: %q}\n",
			*interval, *interval/2, chaosFailureThreshold, replicaAgent(i))
		if err := os.WriteFile(cfgPath, []byte(probe+cfg.String()), 0o600); err != nil {
			return err
		}
		r := &chaosReplica{slot: i, addr: addr, bin: *bin, config: cfgPath, log: lf,
			env: []string{"LINKBENCH_DSN=" + dsn}}
		reps = append(reps, r)
		if err := r.start(); err != nil {
			return err
		}
	}
	lb := newBalancer(reps)
	runCtx, stopRun := context.WithCancel(ctx)
	defer stopRun()
	var background sync.WaitGroup
	background.Add(1)
	go func() { defer background.Done(); lb.watch(runCtx, *readyEvery) }()

	fmt.Fprintf(stdout, "linkbench chaos: %d replicas on %s, %d destinations on %d hosts, probe.interval %s, %.0f redirects/s, %s (seed %d)\n",
		*replicas, postgresVersion(ctx), len(urls), *hosts, *interval, *rate, *duration, *seed)
	fmt.Fprintf(stdout, "  chaos: SIGKILL a replica every %s (restarted after %s), database down %s every %s, a host down %s every %s\n",
		*killEvery, *restartAfter, *dbDown, *dbEvery, *hostFor, *hostEvery)

	// Warm-up: every replica ready, every destination checked once.
	warmDeadline := time.Now().Add(warmupLimit)
	for lb.readyCount() < len(reps) || fleet.checked(urls) < len(urls) {
		for _, r := range reps {
			if r.exited() {
				return fmt.Errorf("replica %d exited during the warm-up; its log: %s", r.slot, r.log.Name())
			}
		}
		if time.Now().After(warmDeadline) {
			return fmt.Errorf("warm-up: %d of %d replicas ready, %d of %d destinations checked after %s",
				lb.readyCount(), len(reps), fleet.checked(urls), len(urls), warmupLimit)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
	warm := time.Now()
	chaosEnd := end.Add(-*settle)
	fmt.Fprintf(stdout, "  warm after %s; chaos until %s, then %s without\n", rel(runStart, warm), rel(runStart, chaosEnd), *settle)

	// The load, open loop: a visitor at every tick, whatever the last
	// one got.
	var loadMu sync.Mutex
	var redirects []redirect
	background.Add(1)
	go func() {
		defer background.Done()
		var inflight sync.WaitGroup
		defer inflight.Wait()
		pace(runCtx, *rate, end, func(i int, _ time.Time) {
			inflight.Go(func() {
				rd := lb.redirect(paths[i%len(paths)])
				loadMu.Lock()
				redirects = append(redirects, rd)
				loadMu.Unlock()
			})
		})
	}()

	// The chaos.
	var evMu sync.Mutex
	var events []string
	note := func(format string, a ...any) {
		evMu.Lock()
		events = append(events, fmt.Sprintf("%8s  ", rel(runStart, time.Now()))+fmt.Sprintf(format, a...))
		evMu.Unlock()
	}
	var dbOutages, hostOutages []window
	var stopErr error // why the chaos ended the run early
	var kills []kill
	restart := func(r *chaosReplica) {
		for runCtx.Err() == nil {
			if err := r.start(); err == nil {
				return
			} else {
				note("replica %d did not start: %v", r.slot, err)
			}
			select {
			case <-runCtx.Done():
			case <-time.After(time.Second):
			}
		}
	}
	var chaos sync.WaitGroup
	schedule := func(first, every time.Duration, act func()) {
		if every <= 0 {
			return
		}
		chaos.Add(1)
		go func() {
			defer chaos.Done()
			// The next time past the chaos ends the schedule, without
			// waiting for it.
			for next := warm.Add(first); next.Before(chaosEnd); next = next.Add(every) {
				select {
				case <-runCtx.Done():
					return
				case <-time.After(time.Until(next)):
				}
				if time.Now().After(chaosEnd) {
					return
				}
				act()
			}
		}()
	}
	var killMu sync.Mutex // one replica down at a time
	schedule(*killEvery, *killEvery, func() {
		killMu.Lock()
		defer killMu.Unlock()
		r := reps[rng.IntN(len(reps))]
		r.kill()
		evMu.Lock()
		kills = append(kills, kill{at: time.Now(), slot: r.slot})
		evMu.Unlock()
		note("SIGKILL replica %d", r.slot)
		select {
		case <-runCtx.Done():
			return
		case <-time.After(*restartAfter):
		}
		restart(r)
		note("replica %d restarted", r.slot)
	})
	// The database goes down half-way through each period: a run of one
	// period has an outage, and none starts in the warm-up's wake.
	schedule(*dbEvery/2, *dbEvery, func() {
		if time.Now().Add(*dbDown).After(chaosEnd) {
			return
		}
		w := window{from: time.Now(), what: "database"}
		pg.Down()
		note("database down")
		select {
		case <-runCtx.Done():
		case <-time.After(*dbDown):
		}
		if err := pg.Up(); err != nil {
			note("database did not restart: %v", err)
			stopErr = fmt.Errorf("the database did not restart: %w", err)
			stopRun()
			return
		}
		w.to = time.Now()
		evMu.Lock()
		dbOutages = append(dbOutages, w)
		evMu.Unlock()
		note("database up")
	})
	var nextHost int
	schedule(*hostEvery, *hostEvery, func() {
		if time.Now().Add(*hostFor).After(chaosEnd) {
			return
		}
		h := fleet.hosts[nextHost%len(fleet.hosts)]
		nextHost++
		host, _, _ := strings.Cut(h.addr, ":")
		w := window{from: time.Now(), what: host}
		h.down.Store(true)
		note("host %s down", host)
		select {
		case <-runCtx.Done():
		case <-time.After(*hostFor):
		}
		h.down.Store(false)
		w.to = time.Now()
		evMu.Lock()
		hostOutages = append(hostOutages, w)
		evMu.Unlock()
		note("host %s up", host)
	})
	chaos.Wait()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(time.Until(end)):
	}
	stopRun()
	background.Wait()
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if stopErr != nil {
		return stopErr
	}

	// The judgement.
	loadMu.Lock()
	rs := slices.Clone(redirects)
	loadMu.Unlock()
	slices.SortFunc(rs, func(a, b redirect) int { return a.at.Compare(b.at) })
	alerts, bad := sink.log()
	missed := chaosJudge(stdout, chaosRecord{
		start: runStart, warm: warm, end: end, interval: *interval, replicas: len(reps), kills: kills,
		redirects: rs, checks: fleet.log(), alerts: alerts, badAlerts: bad,
		dbOutages: dbOutages, hostOutages: hostOutages, events: events,
	})
	if *logs != "" {
		fmt.Fprintf(stdout, "logs: %s\n", *logs)
	}
	if len(missed) > 0 {
		return fmt.Errorf("goals missed: %s", strings.Join(missed, "; "))
	}
	fmt.Fprintln(stdout, "all goals met")
	return nil
}

// chaosRecord is what a chaos run recorded.
type chaosRecord struct {
	start, warm, end time.Time
	interval         time.Duration
	replicas         int
	kills            []kill
	redirects        []redirect
	checks           map[string][]check
	alerts           []alert
	badAlerts        []string
	dbOutages        []window
	hostOutages      []window
	events           []string
}

// chaosJudge prints the figures of a run and the details of every goal it
// missed, and returns the goals missed.
func chaosJudge(w io.Writer, rec chaosRecord) (missed []string) {
	at := func(t time.Time) string { return rel(rec.start, t) }
	fmt.Fprintf(w, "\nchaos: %d SIGKILLs, %d database outages, %d host outages\n", len(rec.kills), len(rec.dbOutages), len(rec.hostOutages))

	// Redirects.
	n, failed, rate, p99 := loadFigures(rec.redirects, nil, false)
	var retried, cut int
	var failures []redirect
	for _, r := range rec.redirects {
		if r.retried > 0 {
			retried++
		}
		if r.cut > 0 {
			cut++
		}
		if r.err != "" {
			failures = append(failures, r)
		}
	}
	fmt.Fprintf(w, "redirects: %d sent, %d failed (goal 0); %d went to another replica after a refused connection, %d after one cut before an answer\n",
		n, failed, retried, cut)
	fmt.Fprintf(w, "  all: %.0f/s, p99 %s\n", rate, p99.Round(10*time.Microsecond))
	if len(rec.dbOutages) > 0 {
		dn, dfailed, drate, dp99 := loadFigures(rec.redirects, rec.dbOutages, true)
		un, ufailed, urate, up99 := loadFigures(rec.redirects, rec.dbOutages, false)
		fmt.Fprintf(w, "  database down: %d sent, %d failed, %.0f/s, p99 %s\n", dn, dfailed, drate, dp99.Round(10*time.Microsecond))
		fmt.Fprintf(w, "  database up:   %d sent, %d failed, %.0f/s, p99 %s\n", un, ufailed, urate, up99.Round(10*time.Microsecond))
	}
	if failed > 0 {
		missed = append(missed, fmt.Sprintf("%d failed redirects", failed))
		byErr := map[string]int{}
		for _, r := range failures {
			byErr[r.err]++
		}
		for e, c := range byErr {
			fmt.Fprintf(w, "    %6d × %s\n", c, e)
		}
		fmt.Fprintln(w, "    first failures (time, replica, error):")
		printSome(w, failures, 10, func(r redirect) string { return fmt.Sprintf("%s replica %d: %s", at(r.at), r.replica, r.err) })
	}

	// Checks.
	// A gap is measured to the millisecond; a scheduler's timers are not
	// that exact, so 2 intervals and a few milliseconds more are 2
	// intervals.
	all, doubles := judgeChecks(rec.checks, rec.warm, rec.end, 2*rec.interval+checkSlack, rec.interval/2)
	unchecked, fromReturn, late, rekilled := judgeGapsAfterKills(all, rec.kills, rec.dbOutages, rec.interval, 2*rec.interval+checkSlack)
	unchecked, lagged, worstLag := lateNotMissed(unchecked, rec.interval)
	unchecked = append(unchecked, late...)
	var total int
	for _, at := range rec.checks {
		total += len(at)
	}
	var byTwo int
	for _, d := range doubles {
		if d.by[0] != d.by[1] {
			byTwo++
		}
	}
	fmt.Fprintf(w, "checks: %d on %d destinations; unchecked for more than 2 intervals: %d (goal 0); double checks (within half an interval): %d (goal 0), %d of them by two replicas\n",
		total, len(rec.checks), len(unchecked), len(doubles), byTwo)
	fmt.Fprintf(w, "  %d destinations whose checker was killed during a database outage (or just before), measured from its return (%d of them from a replica killed after it, before the next check, and only so within 2 intervals): %d unchecked for more than 2 intervals after it\n",
		len(fromReturn), rekilled, len(late))
	gap := func(g checkGap) string {
		line := fmt.Sprintf("%s: %s to %s (%s)", g.url, at(g.from), at(g.to), g.to.Sub(g.from).Round(time.Millisecond))
		if g.by != [2]string{} {
			line += fmt.Sprintf(" by %s, then %s", g.by[0], g.by[1])
		}
		if late, ok := lateAtSlot(g.url, g.to, rec.interval); ok && g.by[1] != "" {
			line += fmt.Sprintf(", the later check %s after its slot", late.Round(time.Millisecond))
		}
		return line
	}
	if len(lagged) > 0 {
		fmt.Fprintf(w, "  %d gaps of 2 intervals of the schedule and a scheduling lag (the later check at its slot, up to %s late; not counted above)\n",
			len(lagged), worstLag.Round(time.Millisecond))
		printSome(w, lagged, 15, gap)
	}
	if len(unchecked) > 0 {
		slices.SortFunc(unchecked, func(a, b checkGap) int { return a.from.Compare(b.from) })
		missed = append(missed, fmt.Sprintf("%d gaps of more than 2 intervals in checks", len(unchecked)))
		fmt.Fprintln(w, "    unchecked:")
		printSome(w, unchecked, 15, gap)
	}
	if len(doubles) > 0 {
		missed = append(missed, fmt.Sprintf("%d double checks", len(doubles)))
		fmt.Fprintln(w, "    checked twice:")
		printSome(w, doubles, 15, gap)
	}

	// Alerts.
	per, stray := judgeIncidentAlerts(rec.alerts, rec.hostOutages, rec.dbOutages, chaosChannels, rec.interval, chaosFailureThreshold, rec.end)
	fmt.Fprintln(w, "alerts per host outage and channel (goal: 1 opening and 1 resolution; none for an outage wholly inside the database's; re-sends of a webhook-id apart):")
	var wrong int
	for _, o := range per {
		var parts []string
		for _, c := range chaosChannels {
			a := o.by[c]
			parts = append(parts, fmt.Sprintf("%s %d opened %d resolved %d re-sent", c, a.opened, a.resolved, a.resent))
			if !o.expect.met(*a) {
				wrong++
			}
		}
		line := fmt.Sprintf("  %s %s for %s: %s", at(o.outage.from), o.outage.what, o.outage.to.Sub(o.outage.from).Round(time.Second), strings.Join(parts, "; "))
		if o.expect != expectOne {
			line += " (expected " + o.expect.String() + ")"
		}
		fmt.Fprintln(w, line)
	}
	if wrong > 0 {
		missed = append(missed, fmt.Sprintf("%d outage-channel pairs without the alerts expected", wrong))
	}
	if len(stray) > 0 {
		missed = append(missed, fmt.Sprintf("%d incident alerts for no scheduled outage", len(stray)))
		fmt.Fprintln(w, "    incident alerts for no scheduled outage:")
		printSome(w, stray, 15, func(a alert) string {
			return fmt.Sprintf("%s %s %s incident %d %v", at(a.at), a.channel, a.typ, a.incident, a.targets)
		})
	}
	if len(rec.dbOutages) > 0 {
		fmt.Fprintln(w, "storage alerts per database outage, channel and replica (one of each per replica):")
		for i, o := range judgeStorageAlerts(rec.alerts, rec.dbOutages) {
			fmt.Fprintf(w, "  %s database for %s:", at(rec.dbOutages[i].from), rec.dbOutages[i].to.Sub(rec.dbOutages[i].from).Round(time.Second))
			if len(o) == 0 {
				fmt.Fprint(w, " none")
			}
			fmt.Fprintln(w)
			for _, c := range chaosChannels {
				if len(o[c]) == 0 {
					missed = append(missed, fmt.Sprintf("no storage alert on %s for the database outage at %s", c, at(rec.dbOutages[i].from)))
				}
				for rep, n := range o[c] {
					fmt.Fprintf(w, "    %s %s: %d unreachable %d reachable %d re-sent\n", c, rep, n.unreachable, n.reachable, n.resent)
					if n.unreachable > 1 || n.reachable > 1 {
						missed = append(missed, fmt.Sprintf("replica %s sent more than one storage alert of a kind on %s", rep, c))
					}
				}
			}
		}
	}
	if other := unjudgedAlerts(rec.alerts); len(other) > 0 {
		fmt.Fprintln(w, "deliveries of event types the run does not judge:")
		for _, typ := range slices.Sorted(maps.Keys(other)) {
			fmt.Fprintf(w, "    %s: %d\n", typ, other[typ])
		}
	}
	if len(rec.badAlerts) > 0 {
		missed = append(missed, fmt.Sprintf("%d deliveries failed verification", len(rec.badAlerts)))
		printSome(w, rec.badAlerts, 10, func(s string) string { return s })
	}
	if len(missed) > 0 {
		fmt.Fprintln(w, "what the run did:")
		printSome(w, rec.events, 400, func(s string) string { return s })
	}
	return missed
}
