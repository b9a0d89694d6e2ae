package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"linkwatch/storage/postgres"
)

// runReplicas measures replicas sharing the probing: for 1, 2, ... up to
// -replicas linkwatch processes on one PostgreSQL, the checks per second
// the fleet receives (each destination once per interval, whatever the
// number of replicas) and the CPU each replica spends. The fleet listens on
// one loopback address per listener, so the destinations are on as many
// hosts for the replicas to split.
func runReplicas(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("linkbench replicas", flag.ContinueOnError)
	fs.SetOutput(stderr)
	bin := fs.String("linkwatch", "", "path to a linkwatch binary (go build -o /tmp/lw ./cmd/linkwatch)")
	dsn := fs.String("dsn", "", "the PostgreSQL database the replicas share (given to them through the environment)")
	n := fs.Int("n", 20000, "destinations")
	hosts := fs.Int("hosts", 64, "fleet listeners, each on its own loopback address: the hosts the replicas split")
	most := fs.Int("replicas", 3, "measure 1, 2, ... up to this many replicas")
	latency := fs.Duration("latency", 50*time.Millisecond, "fleet answer latency")
	measure := fs.Duration("measure", 30*time.Second, "measurement window per replica count")
	interval := fs.Duration("interval", 10*time.Second, "probe.interval")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *bin == "" || *dsn == "" {
		return fmt.Errorf("-linkwatch and -dsn are required")
	}
	if _, err := postgres.ParseDSN(*dsn); err != nil {
		return fmt.Errorf("-dsn: %w", err)
	}
	fleet, stopFleet, err := startFleetInfo(ctx, *hosts, *latency, 0, stderr, "-spread")
	if err != nil {
		return err
	}
	defer stopFleet()
	if len(fleet.addrs) == 0 {
		return fmt.Errorf("the fleet gave no addresses")
	}
	dir, err := os.MkdirTemp("", "linkbench-replicas")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	var cfg strings.Builder
	fmt.Fprintf(&cfg, `storage: {driver: postgres, dsn: '${LINKBENCH_DSN}'}
server: {drain_delay: 0s, rate_limit: {per_second: 1000000, burst: 1000000}}
probe: {interval: %s, timeout: %s, allow_private: [127.0.0.0/8], per_host: 1000, workers: 1024, self_check: false}
pages:
`, *interval, *interval*8/10)
	for i := range *n {
		if i%100 == 0 {
			fmt.Fprintf(&cfg, "  - slug: p%d\n    links:\n", i/100)
		}
		fmt.Fprintf(&cfg, "      - {slug: l%d, url: \"http://%s/d/%d\"}\n", i, fleet.addrs[i%len(fleet.addrs)], i)
	}
	cfgPath := filepath.Join(dir, "linkwatch.yaml")
	if err := os.WriteFile(cfgPath, []byte(cfg.String()), 0o600); err != nil {
		return err
	}
	count := func() (int64, error) {
		resp, err := http.Get("http://" + fleet.addrs[0] + "/control/count")
		if err != nil {
			return 0, err
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
	}
	conn, err := pgx.Connect(ctx, *dsn)
	if err != nil {
		return fmt.Errorf("connect to the database: %w", err)
	}
	defer conn.Close(context.Background())
	// What the database does for the replicas: commits and rows written,
	// and its backends' CPU (the server must run on this machine).
	type dbStats struct {
		commits, rows int64
		cpu           time.Duration
	}
	stats := func() dbStats {
		var st dbStats
		_ = conn.QueryRow(ctx, `SELECT xact_commit, tup_inserted + tup_updated + tup_deleted FROM pg_stat_database
			WHERE datname = current_database()`).Scan(&st.commits, &st.rows)
		rows, err := conn.Query(ctx, `SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()`)
		if err == nil {
			pids, _ := pgx.CollectRows(rows, pgx.RowTo[int32])
			for _, p := range pids {
				st.cpu += procCPU(int(p))
			}
		}
		return st
	}
	want := float64(*n) / interval.Seconds()
	fmt.Fprintf(stdout, "linkbench replicas: %d destinations on %d hosts, probe.interval %s (%.0f checks/s wanted), fleet latency %s, %d cores\n",
		*n, len(fleet.addrs), *interval, want, *latency, runtime.NumCPU())
	for k := 1; k <= *most; k++ {
		var pids []int
		var procs []*serveProc
		stopAll := func() {
			for _, p := range procs {
				p.stop()
			}
		}
		for range k {
			lw, err := startServe(*bin, cfgPath, []string{"-addr", "127.0.0.1:0"}, []string{"LINKBENCH_DSN=" + *dsn}, io.Discard)
			if err != nil {
				stopAll()
				return err
			}
			procs = append(procs, lw)
			if err := lw.waitListening(ctx); err != nil {
				stopAll()
				return err
			}
			pids = append(pids, lw.pid())
		}
		// Two intervals: every replica has seen the others, every target
		// has been checked, connections are warm.
		select {
		case <-ctx.Done():
			stopAll()
			return ctx.Err()
		case <-time.After(2*(*interval) + 2*time.Second):
		}
		c0, err := count()
		if err != nil {
			stopAll()
			return err
		}
		db0 := stats()
		cpu0 := make([]time.Duration, k)
		for i, p := range pids {
			cpu0[i] = procCPU(p)
		}
		t0 := time.Now()
		select {
		case <-ctx.Done():
			stopAll()
			return ctx.Err()
		case <-time.After(*measure):
		}
		c1, err := count()
		if err != nil {
			stopAll()
			return err
		}
		db1 := stats()
		secs := time.Since(t0).Seconds()
		var per []string
		var total float64
		for i, p := range pids {
			c := 100 * (procCPU(p) - cpu0[i]).Seconds() / secs
			total += c
			per = append(per, fmt.Sprintf("%.0f%%", c))
		}
		load, _ := os.ReadFile("/proc/loadavg")
		rate := float64(c1-c0) / secs
		fmt.Fprintf(stdout, "%d replica(s): %6.0f checks/s (%.2f per destination per interval); cpu per replica %s of one core (total %.0f%%); rss %s; load average %s\n",
			k, rate, rate/want, strings.Join(per, " "), total, rss(pids), strings.Join(strings.Fields(string(load))[:3], " "))
		fmt.Fprintf(stdout, "    database: %.0f commits/s, %.0f rows written/s, backends' cpu %.0f%% of one core (sampled backends only)\n",
			float64(db1.commits-db0.commits)/secs, float64(db1.rows-db0.rows)/secs, 100*(db1.cpu-db0.cpu).Seconds()/secs)
		stopAll()
	}
	return nil
}

func rss(pids []int) string {
	var out []string
	for _, p := range pids {
		out = append(out, fmt.Sprintf("%d MiB", procStatusOf(p, "VmRSS")>>20))
	}
	return strings.Join(out, " ")
}
