package main

import (
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"sync"
	"syscall"
	"time"

	"linkwatch"
	"linkwatch/alerting"
	"linkwatch/alerting/datadog"
	"linkwatch/checker"
	"linkwatch/checker/schedule"
	"linkwatch/checker/shard"
	"linkwatch/cmd/linkwatch/config"
	"linkwatch/cmd/linkwatch/web"
	"linkwatch/console"
	"linkwatch/errlog"
	"linkwatch/hub"
	"linkwatch/hub/middleware"
	"linkwatch/incidents"
	"linkwatch/incidents/admin"
	"linkwatch/metrics"
	"linkwatch/metrics/prom"
	"linkwatch/statuspage"
	"linkwatch/statuspage/storesource"
	"linkwatch/storage"
)

const (
	// clickFlushInterval is how often the clicks counted in memory are written.
	clickFlushInterval = 5 * time.Second
	// lastFlushTimeout bounds the last click flush at shutdown.
	lastFlushTimeout = 10 * time.Second
	// readyTimeout bounds a health answer, and a storage check.
	readyTimeout = 2 * time.Second
	// jobsLockRetry is how often a replica tries to take the jobs lock, and
	// the holder checks it still holds it: a killed holder's jobs resume on
	// another replica within it.
	jobsLockRetry = 5 * time.Second
)

func runServe(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := newFlagSet("serve", stderr)
	path := fs.String("config", "", "config file (default: the embedded demo config)")
	addr := fs.String("addr", "", "listen address, overriding server.addr (e.g. 127.0.0.1:0)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	cfg, err := config.Load(ctx, *path, getenv)
	if err != nil {
		return err
	}
	if *addr != "" {
		cfg.Server.Addr = *addr
	}
	a, err := newServeApp(ctx, cfg, *path, getenv, stdout, stderr)
	if err != nil {
		return err
	}
	defer a.close()
	return a.run(ctx)
}

// newServeApp builds everything linkwatch serve runs, from cfg (path is
// where it was read, for SIGHUP reloads). What visitors need serves as
// soon as the listener does, from memory: the pages and redirects of the
// catalog, the health probes, the status page (its last state, or a 503
// page before it has one). The database is not waited for: a replica
// that starts during an outage serves redirects from its config at once,
// and the rest (the incident engine, the prober, the dispatcher, the
// result writer, the periodic jobs, the membership) starts once the
// database is reached.
//
// Stages are added consumers first, so shutdown goes: reloads stop, the
// HTTP server drains, the prober stops, the incident engine handles the
// last results, the dispatcher stops (undelivered alerts wait in the
// outbox), the result writer writes what is queued, the periodic jobs
// stop, storage stops being watched, and the clicks are flushed a last
// time.
func newServeApp(ctx context.Context, cfg *config.Config, path string, getenv func(string) string, stdout, stderr io.Writer) (_ *app, err error) {
	sentry, err := newSentry(cfg)
	if err != nil {
		return nil, err
	}
	var logHandler slog.Handler = slog.NewTextHandler(stderr, nil)
	if sentry != nil {
		logHandler = alerting.NewSentryLogHandler(logHandler, sentry) // our own errors reach Sentry too
	}
	log := slog.New(logHandler)
	a := &app{log: log}
	defer func() {
		if err != nil {
			a.close()
		}
	}()
	if sentry != nil {
		a.onClose(sentry.Close)
	}

	// Listen first: the public URL, the self-checks and every link the
	// status page and alerts carry depend on the address really served
	// (-addr, or port 0).
	ln, err := net.Listen("tcp", cfg.Server.Addr)
	if err != nil {
		return nil, fmt.Errorf("listen on %s: %w", cfg.Server.Addr, err)
	}
	a.onClose(func() { ln.Close() }) // Serve closes it too; this covers a failed start
	var selfCheckURL, mismatch string
	cfg.Server.PublicURL, selfCheckURL, mismatch = web.ServedURLs(cfg.Server.PublicURL, cfg.Server.PublicURLSet, ln.Addr())
	if mismatch != "" {
		log.Warn(mismatch, "public_url", cfg.Server.PublicURL, "served", ln.Addr().String(), "self_checks", selfCheckURL)
	}
	if !*cfg.Probe.SelfCheck {
		selfCheckURL = "" // no self-checks
	}

	local, err := processClock(getenv)
	if err != nil {
		return nil, err
	}
	db, where, reach, err := openStore(ctx, cfg.Storage, local)
	if err != nil {
		return nil, err
	}
	// Everything a replica stamps or compares with what the others wrote
	// (results, incidents, verdicts, retries, the checks' intervals) goes
	// by the database's clock, as this process reckons it between
	// transactions; leases and claims are reckoned in the database itself.
	// With SQLite, the database's clock is this process's.
	clock := db.Now
	// reached is closed once the database is reached and migrated: at
	// once for SQLite, a file; for PostgreSQL, when reach succeeds.
	// Storage's health and the metrics sampler read no table before.
	reached := make(chan struct{})
	if reach == nil {
		close(reached)
	}
	a.onClose(func() {
		if err := db.Close(); err != nil {
			log.Error("close storage", "err", err)
		}
	})

	counter := hub.NewCounter(db)
	catalog, err := hub.NewCatalog(cfg.CatalogSpec(), counter)
	if err != nil {
		return nil, fmt.Errorf("build catalog: %w", err)
	}
	hubServer := hub.NewServer(catalog, log)
	// A fresh token per process tells the hub and the rate limiter which
	// requests are our own self-checks.
	selfToken := rand.Text()
	hubServer.SetSelfCheckToken(selfToken)
	// Replicas share one PostgreSQL: each is a member with an id unique to
	// this start, probes its share of the hosts, and keeps its own network's
	// incidents apart. SQLite is one process: it owns everything.
	interval := time.Duration(cfg.Probe.Interval)
	shared := cfg.Storage.Driver == config.DriverPostgres
	self := linkwatch.Member{ID: shard.NewID(), Region: cfg.Probe.Region, Addr: ln.Addr().String()}
	engineCfg := incidents.Config{
		FailureThreshold: cfg.Probe.FailureThreshold,
		SuccessThreshold: cfg.Probe.SuccessThreshold,
		GroupInterval:    time.Duration(*cfg.Alerts.GroupInterval),
		Region:           cfg.Probe.Region,
		Interval:         interval,
		Now:              clock,
	}
	if cfg.Probe.Canary != "" {
		engineCfg.CanaryID = linkwatch.CanaryID(cfg.Probe.Canary)
	}
	if shared {
		engineCfg.Replica, engineCfg.RefreshEvery = self.ID, interval
	}
	// The hub redirects to fallbacks and notes down links from the health
	// the engine publishes: memory only, on the redirect path. The
	// self-checks compare the hub's redirects with the same health.
	diverted := checker.NewDiversions(interval, hubServer)
	diverted.SetClock(clock) // the checker's, whose results it is asked about

	sinks, err := newSinks(cfg, db, sentry)
	if err != nil {
		return nil, err
	}
	dogstatsd, err := newMetrics(cfg)
	if err != nil {
		return nil, err
	}
	a.onClose(func() { _ = dogstatsd.Close() }) // a final UDP flush: nothing to do if it fails

	channels := make([]string, 0, len(sinks))
	for _, s := range sinks {
		channels = append(channels, s.Name())
	}
	guard := receiverGuard(cfg)
	// The replicas' membership: the split of the targets follows it (share,
	// made with the scheduler once the engine is loaded).
	var share *shard.Share
	var members *shard.Membership
	extra := map[string]http.Handler{"/clicks": hub.NewClicksAPI(db, log)}
	var replicas console.ReplicaReader // nil on SQLite: one process
	if shared {
		members = shard.New(db, self, shard.Options{Interval: interval, Now: local, OnChange: func(as shard.Assignment) { share.SetAssignment(as) }, Log: log})
		replicasAPI := shard.NewAPI(db, members, log)
		extra["/replicas"], replicas = replicasAPI, replicasAPI
	}
	adminOpts := admin.Options{Token: cfg.Server.AdminToken, Channels: channels, Log: log,
		CheckURL: checkReceiverURL(guard), NewSecret: alerting.NewSecret,
		Extra: extra, Catalog: hubServer, Now: clock}
	var mailer *alerting.Mailer
	var subscribe *statuspage.SubscribeOptions
	if e := cfg.Alerts.Email; e != nil {
		var err error
		mailer, err = alerting.NewMailer(alerting.MailOptions{Host: e.Host, Port: e.Port, Security: e.Security, User: e.User, Password: e.Password,
			From: e.From, SiteName: statuspage.DefaultName, URL: cfg.Server.PublicURL,
			PageLinks: func(page string) []string {
				p, ok := hubServer.Catalog().Page(page)
				if !ok {
					return nil
				}
				var dests []string
				for _, l := range p.Links {
					dests = append(dests, l.URL)
				}
				return dests
			}})
		if err != nil {
			return nil, err
		}
		subscribe = &statuspage.SubscribeOptions{Store: db, Off: cfg.SubscribeOff(), Trusted: cfg.Server.TrustedPrefixes(),
			Limiter: statuspage.NewSubscribeLimiter(cfg.Server.RateLimit.IPv6Prefix)}
	}
	status := statuspage.New(storesource.New(db), statuspage.Options{
		URL: cfg.Server.PublicURL, Interval: time.Duration(cfg.Probe.Interval), SelfCheck: *cfg.Probe.SelfCheck,
		Catalog: hubServer.Catalog, Now: clock, Log: log, Subscribe: subscribe,
	})
	limiter := middleware.NewRateLimiter(cfg.Server.RateLimit.PerSecond, cfg.Server.RateLimit.Burst, cfg.Server.RateLimit.IPv6Prefix)
	ready := new(web.Readiness)
	// A write refused this recently means storage is not healthy: results
	// are written every interval, the dispatcher's state every second.
	storageHealth := web.NewStorageHealth(db, max(interval, 2*time.Second), reached)

	// A refused batch is retried once, then dropped: counted (the
	// results.dropped metric) and logged, once a minute at most.
	var writer *storage.ResultWriter
	writes := &errlog.Reporter{Log: log, Msg: "storage refused check results"}
	writer = storage.NewResultWriter(db, 500, time.Second, func(err error) {
		if err != nil {
			writes.Error(ctx, err, "dropped_total", writer.Dropped())
			return
		}
		writes.OK(ctx)
	})
	// Each check's result and delivery attempt is told to every metrics
	// exporter: Prometheus's, and DataDog's when configured (made below,
	// once what they read exists).
	var record metrics.Recorders
	dispatcher := alerting.NewDispatcher(db, sinks, &record, log)
	dispatcher.SetClock(clock)
	if shared {
		// Its claims are this process start's own; with SQLite the one
		// process keeps one name, and takes back after a crash what it
		// had claimed.
		dispatcher.SetClaim(self.ID, alerting.DefaultClaimLease)
	}
	dispatcher.Subscribe(db, guard.Dial)
	if mailer != nil {
		dispatcher.MailSubscribers(db, mailer)
	}
	// The engine runs on one goroutine; it drains this channel until the
	// prober has stopped and the channel is closed.
	engineIn := make(chan linkwatch.Result, 4096)
	targets := catalog.Targets(selfCheckURL, cfg.Probe.Canary)
	sched := schedule.New(newChecker(cfg, selfToken, diverted.Diverted, clock), nil, schedule.Options{
		Interval: interval,
		Now:      clock,
		Workers:  cfg.Probe.Workers,
		OnResult: func(r linkwatch.Result) {
			record.Result(r)
			writer.Add(r)
			engineIn <- r
		},
		Log: log,
	})
	// A database outage is an alert of its own, sent without the
	// database: each replica says so for itself.
	outageAfter := time.Duration(*cfg.Alerts.DatabaseOutageAfter)
	outages := alerting.NewStorageAlerts(alerting.StorageAlertOptions{After: outageAfter, Replica: self, Database: where,
		Senders: storageSenders(sinks), Log: log})

	// The metrics: what storage keeps is sampled once for every exporter;
	// the rest each exporter reads where it is kept. Storage's health is
	// /readyz/storage's verdict.
	sampler := metrics.NewSampler(db, metrics.SamplerOptions{Health: storageHealth.Check, Log: log,
		Now:      clock, // ages of stored times, by the clock that stamped them
		Readable: reached})
	sources := metrics.Sources{
		Scheduler: sched.Stats, Dropped: writer.Dropped, Redirects: hubServer.Redirects,
		Replicas:      func() int { return 1 },
		StorageFaults: func() int64 { return db.LastWriteFault().Count },
		ClicksDropped: counter.Dropped,
		Sampled:       sampler.Last,
	}
	if members != nil {
		sources.Replicas = func() int { return len(members.Assignment().Members) }
		sources.Lease = members.Lease()
	}
	exporter := prom.New(sources, prom.Options{Log: log})
	hubServer.SetRedirectTimer(exporter)
	record = metrics.Recorders{exporter}
	if dogstatsd != nil {
		record = append(record, dogstatsd)
	}
	// Slack's actions and the console act through the admin API's calls,
	// which act through the engine: until it runs, they answer 503.
	apps := slackApps(sinks)
	// The console's sign-in limit outlives the handlers the switch swaps.
	signIns := console.NewSignInLimiter(cfg.Server.RateLimit.IPv6Prefix)
	secure := strings.HasPrefix(cfg.Server.PublicURL, "https://")
	pageSlugs := func() []string {
		var out []string
		for _, p := range hubServer.Catalog().Pages() {
			out = append(out, p.Slug)
		}
		return out
	}
	tester := alerting.NewTester(sinks, clock) // the console's "send test"
	var actions *alerting.SlackActions         // the last made: closed at shutdown
	front := func(opts admin.Options) http.Handler {
		api := admin.New(db, opts)
		conOpts := console.Options{Admin: api, Pages: pageSlugs, Replicas: replicas, Tester: tester, Clicks: db, Token: cfg.Server.AdminToken, Secure: secure, SignIns: signIns,
			Trusted: cfg.Server.TrustedPrefixes(), Now: clock, Log: log}
		if opts.Unavailable != "" {
			conOpts.Unavailable = "linkwatch has not reached its database yet (" + where + "): the console works once it has."
		}
		con := console.New(db, conOpts)
		slackOpts := alerting.SlackActionsOptions{Apps: apps, Log: log}
		if opts.Operator != nil {
			slackOpts.Actions, slackOpts.Store = api, db
		}
		actions = alerting.NewSlackActions(slackOpts)
		return middleware.SecurityHeaders(web.New(web.Handlers{
			Hub: hubServer, Admin: api, Console: con, Status: status, Metrics: exporter.Handler(), Slack: actions,
			Health: web.Health{Ready: ready, Storage: storageHealth, Timeout: readyTimeout},
			Limit: func(next http.Handler) http.Handler {
				return limiter.Middleware(cfg.Server.TrustedPrefixes(), hubServer.IsSelfCheck, next)
			},
		}), console.Path+"/", "/status/") // the forms: the console's, and visitors' email subscription
	}
	// Until the database is reached and migrated, the admin API answers
	// 503 saying so; until the incident engine runs, its incident actions
	// do; after, its reads fail while the database does.
	initial := adminOpts
	if reach != nil {
		initial.Unavailable = "linkwatch has not reached its database yet (" + where + "): the admin API answers once it has"
	}
	handler := web.NewSwitch(front(initial))
	srv := web.NewServer(handler, log)
	// SIGHUP reloads the pages and links from the config file. Notify now,
	// before serving: a SIGHUP nobody listens for ends the process.
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	a.onClose(func() { signal.Stop(hup) })

	a.add("click flush", func(ctx context.Context) error {
		// Flushes fail while the database is out of reach: the counter
		// holds the clicks (hub.MaxHeldClicks link-hours; the oldest
		// dropped first, counted), and the next flush that succeeds
		// writes them.
		flushes := &errlog.Reporter{Log: log, Msg: "flush clicks"}
		drops := &errlog.Reporter{Log: log, Msg: "clicks dropped: more were held than the hub keeps while the database is out of reach"}
		var dropped int64
		flush := func(ctx context.Context) error {
			err := counter.Flush(ctx)
			if n := counter.Dropped(); n > dropped {
				drops.Error(ctx, fmt.Errorf("%d clicks dropped", n-dropped), "dropped_total", n, "held_max", hub.MaxHeldClicks)
				dropped = n
			}
			return err
		}
		every(ctx, clickFlushInterval, func() {
			select {
			case <-reached:
				flushes.Report(ctx, flush(ctx))
			default: // nothing to write to yet
			}
		})
		// The last flush, once no click can come: its own deadline, however
		// long the stages before it took to stop. A process stopped before
		// it reached the database tries once more to, so that its clicks
		// are not lost to a quick restart.
		flushCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), lastFlushTimeout)
		defer cancel()
		select {
		case <-reached:
		default:
			if err := reach(flushCtx); err != nil {
				return fmt.Errorf("the database was never reached: %d link click counts lost: %w", len(counter.Pending()), err)
			}
		}
		return flush(flushCtx)
	})
	// Sampled once a probe interval: what it reads changes with checks.
	a.add("metrics sampler", func(ctx context.Context) error {
		sampler.Run(ctx, interval)
		return nil
	})
	if dogstatsd != nil {
		rep := datadog.NewReporter(dogstatsd, sources)
		a.add("metrics reporter", func(ctx context.Context) error {
			every(ctx, 10*time.Second, rep.Report)
			return nil
		})
	}
	a.add("database outage alerts", outages.Run)
	a.add("storage health", func(ctx context.Context) error {
		// Often enough that an outage is two failed checks at least by
		// alerts.database_outage_after; a check writes once a second at
		// most.
		storageHealth.Run(ctx, min(5*time.Second, max(web.ProbeEvery, outageAfter/2)), readyTimeout, outages.Observe)
		return nil
	})
	keep := storage.Retention{
		Raw:    time.Duration(cfg.Storage.Retention.Raw),
		Minute: time.Duration(cfg.Storage.Retention.MinuteRollups),
		Hour:   time.Duration(cfg.Storage.Retention.Rollups),
	}
	a.add("storage", func(ctx context.Context) error {
		// What needs the database waits for it: with PostgreSQL, its
		// schema migrated, the engine's state loaded and, for replicas,
		// the first heartbeat written, so that a replica which cannot
		// reach the database never probes as if it were alone.
		var engine *incidents.Engine
		load := func(ctx context.Context) (err error) {
			engine, err = incidents.NewEngine(ctx, engineCfg, db, catalog.Dependencies(), log)
			return err
		}
		if reach != nil {
			if untilDone(ctx, reach, where, log) != nil {
				return nil // stopped while waiting
			}
			close(reached)
			handler.Set(front(adminOpts)) // its tables exist now
		}
		if untilDone(ctx, load, where, log) != nil {
			return nil
		}
		share = shard.NewShare(sched, engine, targets, shard.Alone(self.ID))
		if members != nil && untilDone(ctx, members.Tick, where, log) != nil {
			return nil
		}
		engine.SetHealthObserver(diverted)
		sched.SetTargets(share.Owned())
		adminOpts.Operator = engine
		handler.Set(front(adminOpts))
		log.Info("storage reached: checking, recording and alerting", "storage", where)
		b := &app{log: log}
		if sentry != nil {
			b.add("sentry heartbeat", alerting.NewHeartbeat(sentry, sched.Stats, log).Run)
		}
		b.add("periodic jobs", func(ctx context.Context) error {
			// One replica runs them: the holder of the jobs lock.
			return shard.RunWhileHolding(ctx, db, "jobs", jobsLockRetry, func(ctx context.Context) func() {
				c := storage.PeriodicJobs(ctx, db, keep, log)
				c.Start()
				var departed sync.WaitGroup
				departed.Go(func() {
					// Maintenance windows starting and ending, by the
					// database's clock: at once (one may have started while
					// no replica ran), then every check interval.
					fails := &errlog.Reporter{Log: log, Msg: "notice maintenance windows starting and ending"}
					fails.Report(ctx, db.NoticeMaintenance(ctx))
					every(ctx, interval, func() { fails.Report(ctx, db.NoticeMaintenance(ctx)) })
				})
				if members != nil {
					departed.Go(func() {
						fails := &errlog.Reporter{Log: log, Msg: "resolve departed replicas' incidents"}
						every(ctx, interval, func() { fails.Report(ctx, engine.ResolveLeftReplicas(ctx, db, members.Lookback())) })
					})
				}
				return func() { <-c.Stop().Done(); departed.Wait() }
			}, log)
		})
		b.add("result writer", func(ctx context.Context) error {
			writer.Run(ctx)
			return nil
		})
		b.add("dispatcher", func(ctx context.Context) error {
			dispatcher.Run(ctx)
			return nil
		})
		b.add("incident engine", func(ctx context.Context) error {
			// Stopped after the prober, its only sender: closing the
			// channel lets the engine handle every result queued, then
			// return.
			defer context.AfterFunc(ctx, func() { close(engineIn) })()
			engine.Run(context.WithoutCancel(ctx), engineIn)
			return nil
		})
		b.add("slack actions", func(ctx context.Context) error {
			// Stopped before the engine, after the HTTP server: the work
			// of the requests answered finishes through the engine.
			<-ctx.Done()
			actions.Close()
			return nil
		})
		if members != nil {
			// Stopped after the prober: the row is deleted (the others
			// take this replica's hosts at once) once it checks nothing.
			b.add("replica membership", members.Run)
		}
		b.add("prober", func(ctx context.Context) error {
			sched.Run(ctx)
			return nil
		})
		reloader := &reloader{path: path, getenv: getenv, selfCheckURL: selfCheckURL, running: cfg, counter: counter, hub: hubServer, sched: share, engine: engine, log: log}
		b.add("reload", func(ctx context.Context) error { return reloader.run(ctx, hup) })
		return b.run(ctx)
	})
	a.add("http server", func(ctx context.Context) error {
		log.Info("linkwatch serving", "addr", ln.Addr().String(), "public_url", cfg.Server.PublicURL,
			"pages", len(cfg.Pages), "targets", len(targets), "interval", time.Duration(cfg.Probe.Interval), "storage", where, "version", buildVersion())
		return web.Serve(ctx, srv, ln, stdout, log)
	})
	// Stopped first: /readyz fails while everything still serves, for
	// server.drain_delay, so load balancers stop sending visitors before
	// the listener closes; then the stages above stop in turn.
	drainDelay := time.Duration(*cfg.Server.DrainDelay)
	a.add("drain", func(ctx context.Context) error {
		<-ctx.Done()
		ready.Stop()
		if drainDelay > 0 {
			log.Info("draining: /readyz fails, still serving", "for", drainDelay)
			time.Sleep(drainDelay)
		}
		return nil
	})
	return a, nil
}
