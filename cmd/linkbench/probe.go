package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"linkwatch/checker"
	"linkwatch/storage"
)

// benchResolver sends every *.bench.test name to loopback, so each
// destination is a distinct host (as in real life, where per-host limits
// apply) while all traffic stays on this machine.
type benchResolver struct{}

func (benchResolver) LookupIPAddr(_ context.Context, host string) ([]net.IPAddr, error) {
	if strings.HasSuffix(host, ".bench.test") {
		return []net.IPAddr{{IP: net.IPv4(127, 0, 0, 1)}}, nil
	}
	return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
}

func runProbeBench(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("linkbench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	n := fs.Int("n", 2000, "destinations")
	interval := fs.Duration("interval", 10*time.Second, "check interval")
	duration := fs.Duration("duration", 60*time.Second, "how long to run (after one warm-up interval)")
	latency := fs.Duration("latency", 50*time.Millisecond, "fleet answer latency")
	fail := fs.Float64("fail", 0, "fraction of destinations answering 503")
	listeners := fs.Int("listeners", 16, "fleet listeners")
	workers := fs.Int("workers", 512, "prober workers")
	if err := fs.Parse(args); err != nil {
		return err
	}

	ports, stopFleet, err := startFleet(ctx, *listeners, *latency, *fail, stderr)
	if err != nil {
		return err
	}
	defer stopFleet()

	dir, err := os.MkdirTemp("", "linkbench")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	dbPath := filepath.Join(dir, "bench.db")
	db, err := storage.Open(ctx, dbPath)
	if err != nil {
		return err
	}
	defer db.Close()

	targets := make([]checker.Target, *n)
	for i := range targets {
		u := fmt.Sprintf("http://d%d.bench.test:%d/d/%d", i, ports[i%len(ports)], i)
		targets[i] = checker.Target{ID: u, Kind: checker.KindDestination, URL: u}
	}
	chk := checker.New(checker.Options{
		Timeout:      *interval * 8 / 10,
		AllowPrivate: []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")},
		Resolver:     benchResolver{},
	})
	var up, down, other atomic.Int64
	writer := storage.NewResultWriter(db, 500, time.Second, func(err error) { fmt.Fprintln(stderr, "write results:", err) })
	writerCtx, stopWriter := context.WithCancel(context.WithoutCancel(ctx))
	writerDone := make(chan struct{})
	go func() { writer.Run(writerCtx); close(writerDone) }()
	sched := checker.NewScheduler(chk, targets, checker.SchedulerOptions{
		Interval: *interval,
		Workers:  *workers,
		OnResult: func(r checker.Result) {
			switch r.Status {
			case checker.StatusUp:
				up.Add(1)
			case checker.StatusDown:
				down.Add(1)
			default:
				other.Add(1)
			}
			writer.Add(r)
		},
	})
	runCtx, stopRun := context.WithTimeout(ctx, *interval+*duration)
	defer stopRun()
	schedDone := make(chan struct{})
	go func() { sched.Run(runCtx); close(schedDone) }()

	fmt.Fprintf(stdout, "linkbench: %d destinations on %d loopback listeners, %s latency, %.0f%% failing, interval %s, %d workers\n",
		*n, len(ports), *latency, *fail*100, *interval, *workers)
	// The first interval warms connections up; measure after it.
	select {
	case <-time.After(*interval):
	case <-runCtx.Done():
	}
	self := os.Getpid()
	cpu0, wall0, checks0 := procCPU(self), time.Now(), sched.Stats().Checks
	tick := time.NewTicker(*interval)
	defer tick.Stop()
loop:
	for {
		select {
		case <-tick.C:
			st := sched.Stats()
			rss := procStatusOf(self, "VmRSS")
			fmt.Fprintf(stdout, "  %6.0fs  checks %8d  lag p50 %-8s p99 %-8s max %-8s skipped %d  rss %d MiB\n",
				time.Since(wall0).Seconds(), st.Checks, st.LagP50.Round(time.Millisecond), st.LagP99.Round(time.Millisecond),
				st.LagMax.Round(time.Millisecond), st.Skipped, rss>>20)
		case <-runCtx.Done():
			break loop
		}
	}
	<-schedDone
	st := sched.Stats()
	wall := time.Since(wall0)
	cpu := procCPU(self) - cpu0
	stopWriter()
	<-writerDone
	hwm := procStatusOf(self, "VmHWM")
	rate := float64(st.Checks-checks0) / wall.Seconds()
	fmt.Fprintf(stdout, "\nresult: n=%d checks/s=%.0f (needed %.0f) lag_p50=%s lag_p99=%s lag_max=%s skipped=%d cpu=%.0f%% of one core rss_peak=%dMiB\n",
		*n, rate, float64(*n)/interval.Seconds(), st.LagP50.Round(time.Millisecond), st.LagP99.Round(time.Millisecond),
		st.LagMax.Round(time.Millisecond), st.Skipped, 100*cpu.Seconds()/wall.Seconds(), hwm>>20)
	// SQLite growth is measured by `linkbench system` over a soak: over this
	// short run, the first result and first minute rollup of every target
	// would dominate the figure.
	fmt.Fprintf(stdout, "results: up=%d down=%d other=%d\n", up.Load(), down.Load(), other.Load())
	if st.LagP99 > time.Second {
		fmt.Fprintln(stdout, "verdict: p99 lag above 1s: this N is too many for this machine")
	} else {
		fmt.Fprintln(stdout, "verdict: p99 lag under 1s")
	}
	return nil
}

// fleetInfo is what a started fleet reports.
type fleetInfo struct {
	ports []int // destination listeners
	bare  int   // the bare 302 handler
}

// startFleet runs `linkbench fleet` as a child process and returns its ports.
func startFleet(ctx context.Context, listeners int, latency time.Duration, fail float64, stderr io.Writer) ([]int, func(), error) {
	info, stop, err := startFleetInfo(ctx, listeners, latency, fail, stderr)
	return info.ports, stop, err
}

func startFleetInfo(ctx context.Context, listeners int, latency time.Duration, fail float64, stderr io.Writer) (fleetInfo, func(), error) {
	self, err := os.Executable()
	if err != nil {
		return fleetInfo{}, nil, err
	}
	cmd := exec.CommandContext(ctx, self, "fleet", "-listeners", strconv.Itoa(listeners), "-latency", latency.String(), "-fail", fmt.Sprint(fail))
	cmd.Stderr = stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		return fleetInfo{}, nil, err
	}
	if err := cmd.Start(); err != nil {
		return fleetInfo{}, nil, fmt.Errorf("start fleet: %w", err)
	}
	stop := func() { _ = cmd.Process.Signal(syscall.SIGTERM); _ = cmd.Wait() }
	var info fleetInfo
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		line := sc.Text()
		if line == "ready" {
			go func() { _, _ = io.Copy(io.Discard, out) }()
			return info, stop, nil
		}
		word, num, _ := strings.Cut(line, " ")
		n, err := strconv.Atoi(num)
		if err != nil {
			stop()
			return fleetInfo{}, nil, fmt.Errorf("fleet said %q", line)
		}
		switch word {
		case "port":
			info.ports = append(info.ports, n)
		case "bare":
			info.bare = n
		}
	}
	stop()
	return fleetInfo{}, nil, fmt.Errorf("fleet exited before it was ready: %v", sc.Err())
}

func fileSize(path string) int64 {
	fi, err := os.Stat(path)
	if err != nil {
		return 0
	}
	return fi.Size()
}
