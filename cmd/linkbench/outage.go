package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"maps"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"
)

// runOutage measures redirects with linkwatch's database up, then down,
// then back, in one run: a real linkwatch serve process on a PostgreSQL
// server the bench starts (and stops, as an outage), probing the fleet
// meanwhile. Each phase is one closed-loop load of the same length on the
// same connections, so the rows compare the database's absence and
// nothing else; the third row, after the restart, shows how much of a
// difference is the machine drifting rather than the outage.
func runOutage(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("linkbench outage", flag.ContinueOnError)
	fs.SetOutput(stderr)
	bin := fs.String("linkwatch", "", "path to a linkwatch binary (default: go build ./cmd/linkwatch into a temporary directory)")
	n := fs.Int("n", 2000, "destinations probed while the load runs (and as many self-checks)")
	window := fs.Duration("window", 20*time.Second, "the load's length in each phase: database up, down, back")
	conns := fs.Int("conns", 32, "concurrent connections of the load generator")
	latency := fs.Duration("latency", 50*time.Millisecond, "fleet answer latency")
	logPath := fs.String("log", "", "append linkwatch's log to this file (default: thrown away)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	switch {
	case *n < 1:
		return fmt.Errorf("-n must be at least 1")
	case *window < time.Second:
		return fmt.Errorf("-window must be at least 1s")
	case *conns < 1:
		return fmt.Errorf("-conns must be at least 1")
	}
	lwLog := io.Discard
	if *logPath != "" {
		f, err := os.OpenFile(*logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
		if err != nil {
			return err
		}
		defer f.Close()
		lwLog = f
	}

	dir, err := os.MkdirTemp("", "linkbench-outage")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	if *bin, err = linkwatchBinary(ctx, *bin, dir, stdout, stderr); err != nil {
		return err
	}
	pg, dsn, err := startPostgres(ctx)
	if err != nil {
		return err
	}
	defer func() { _ = pg.Stop() }()

	fleet, stopFleet, err := startFleetInfo(ctx, 16, *latency, 0, stderr)
	if err != nil {
		return err
	}
	defer stopFleet()
	addr, err := freeAddr()
	if err != nil {
		return err
	}
	var cfg strings.Builder
	fmt.Fprintf(&cfg, `server: {addr: %q, public_url: "http://%s", rate_limit: {per_second: 1000000, burst: 1000000}}
storage: {driver: postgres, dsn: '${LINKBENCH_DSN}'}
probe: {allow_private: [127.0.0.1/32], per_host: 1000, workers: 1024}
pages:
`, addr, addr)
	paths := make([]string, 0, *n)
	for i := range *n {
		if i%100 == 0 {
			fmt.Fprintf(&cfg, "  - slug: p%d\n    links:\n", i/100)
		}
		fmt.Fprintf(&cfg, "      - {slug: l%d, url: \"http://127.0.0.1:%d/d/%d\"}\n", i, fleet.ports[i%len(fleet.ports)], i)
		paths = append(paths, fmt.Sprintf("/p%d/l%d", i/100, i))
	}
	cfgPath := filepath.Join(dir, "linkwatch.yaml")
	if err := os.WriteFile(cfgPath, []byte(cfg.String()), 0o600); err != nil {
		return err
	}
	lw, err := startServe(*bin, cfgPath, nil, []string{"LINKBENCH_DSN=" + dsn}, lwLog)
	if err != nil {
		return err
	}
	defer lw.stop()
	if err := lw.waitListening(ctx); err != nil {
		return err
	}
	pid := lw.pid()
	fmt.Fprintf(stdout, "linkbench outage: linkwatch pid %d on %s at 127.0.0.1:%d (fsync off), probing %d destinations (+%d self-checks) every 10s; %d connections, %s a phase\n",
		pid, postgresVersion(ctx), pg.Port, *n, *n, *conns, *window)
	// One interval: every target checked once, connections warm.
	if err := sleepCtx(ctx, 12*time.Second); err != nil {
		return err
	}

	base := "http://" + addr
	fmt.Fprintf(stdout, "%-9s %12s %9s %9s %7s %14s  %-22s %-22s %s\n",
		"database", "redirects/s", "p50", "p99", "failed", "linkwatch cpu", "/readyz", "/readyz/storage", "load average (start, end)")
	var rows []loadResult
	for _, phase := range []string{"up", "down", "back"} {
		switch phase {
		case "down":
			pg.Down()
		case "back":
			if err := pg.Up(); err != nil {
				return fmt.Errorf("restart PostgreSQL: %w", err)
			}
		}
		load0 := loadAverage()
		cpu0, t0 := procCPU(pid), time.Now()
		probes := watchReadiness(ctx, base, 250*time.Millisecond)
		res := closedLoop(ctx, base, paths, *conns, *window)
		ready := probes()
		if ctx.Err() != nil {
			return ctx.Err()
		}
		cpu := 100 * (procCPU(pid) - cpu0).Seconds() / time.Since(t0).Seconds()
		fmt.Fprintf(stdout, "%-9s %12.0f %9s %9s %7d %13.0f%%  %-22s %-22s %s, %s\n",
			phase, res.rate, res.p50, res.p99, res.errors, cpu, ready["/readyz"], ready["/readyz/storage"], load0, loadAverage())
		rows = append(rows, res)
	}
	up, down, back := rows[0], rows[1], rows[2]
	fmt.Fprintf(stdout, "down/up: redirects/s %.2f, p99 %.2f; back/up (the machine's drift): redirects/s %.2f, p99 %.2f\n",
		down.rate/up.rate, float64(down.p99)/float64(up.p99), back.rate/up.rate, float64(back.p99)/float64(up.p99))
	return nil
}

// watchReadiness asks linkwatch's readiness endpoints every period until
// the returned function is called, which returns each path's answers
// counted by status, such as "200×80" or "200×60 503×20" ("404×80" where
// the build has no such endpoint).
func watchReadiness(ctx context.Context, base string, period time.Duration) func() map[string]string {
	paths := []string{"/readyz", "/readyz/storage"}
	counts := make(map[string]map[string]int)
	for _, p := range paths {
		counts[p] = make(map[string]int)
	}
	c := &http.Client{Timeout: 2 * time.Second}
	ctx, cancel := context.WithCancel(ctx)
	// ask asks every path once, and says false once ctx has ended.
	ask := func() bool {
		for _, p := range paths {
			answer := "error"
			req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+p, nil)
			if err != nil {
				return false
			}
			if resp, err := c.Do(req); err == nil {
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				answer = fmt.Sprint(resp.StatusCode)
			} else if ctx.Err() != nil {
				return false
			}
			counts[p][answer]++
		}
		return true
	}
	// The first answers before the phase starts, so every phase has some.
	ask()
	var wg sync.WaitGroup
	wg.Go(func() {
		tick := time.NewTicker(period)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			if !ask() {
				return
			}
		}
	})
	return func() map[string]string {
		cancel()
		wg.Wait()
		out := make(map[string]string)
		for _, p := range paths {
			var parts []string
			for _, answer := range slices.Sorted(maps.Keys(counts[p])) {
				parts = append(parts, fmt.Sprintf("%s×%d", answer, counts[p][answer]))
			}
			out[p] = strings.Join(parts, " ")
		}
		return out
	}
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(d):
		return nil
	}
}
