package main

import (
	"bufio"
	"context"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"linkwatch"
	"linkwatch/checker"
	"linkwatch/checker/schedule"
	"linkwatch/storage"
	"linkwatch/storage/sqlite"
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
	scheme := fs.String("scheme", "http", "destinations' scheme: http, or https (certificates signed by a local CA the checker is given)")
	freshEvery := fs.Duration("fresh-every", time.Minute, "probe.fresh_every: a fresh check (DNS, connection, TLS handshake) at least this often per host; 0: every check")
	reference := fs.Bool("reference", false, "first measure the same destinations over plain http, in the same run, as a reference")
	floor := fs.Bool("floor", false, "measure the floor (floor.go: one bare net/http GET per check, the checker's freshness policy) and the checker side by side, at the same time, each in a process of its own with a fleet of its own, and print the checker's ratios to the floor")
	inTurn := fs.Bool("in-turn", false, "with -floor: run the floor, then the checker, each alone, instead of at the same time (for a fleet too large for the machine to check twice at once; on a shared machine each phase meets a different load)")
	proberKind := fs.String("prober", "checker", "what checks: checker (linkwatch's), or floor (floor.go)")
	warmup := fs.Duration("warmup", 0, "how long each phase runs before it is measured (default: one interval)")
	keepAlive := fs.Int("keep-alive-hosts", 8192, "probe.keep_alive_hosts: hosts that keep connections between checks")
	cpuProfile := fs.String("cpuprofile", "", "write the prober's CPU profile of the run to this file")
	memProfile := fs.String("memprofile", "", "write the prober's allocation profile of the run to this file")
	heapProfile := fs.String("heapprofile", "", "write the heap profile at the end of the run, connections still kept, to this file")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *proberKind != "checker" && *proberKind != "floor" {
		return fmt.Errorf("-prober must be checker or floor")
	}
	if *floor {
		return sideBySide(ctx, args, *inTurn, stdout, stderr)
	}
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	if *memProfile != "" {
		defer func() {
			if err := writeAllocs(*memProfile); err != nil {
				fmt.Fprintln(stderr, "memprofile:", err)
			}
		}()
	}
	if *scheme != "http" && *scheme != "https" {
		return fmt.Errorf("-scheme must be http or https")
	}

	dir, err := os.MkdirTemp("", "linkbench")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	var roots *x509.CertPool
	var tlsArgs []string
	if *scheme == "https" {
		pool, certFile, keyFile, err := benchCA(dir)
		if err != nil {
			return err
		}
		roots, tlsArgs = pool, []string{"-tls-cert", certFile, "-tls-key", keyFile}
	}
	fleet, stopFleet, err := startFleetInfo(ctx, *listeners, *latency, *fail, stderr, tlsArgs...)
	if err != nil {
		return err
	}
	defer stopFleet()

	db, err := sqlite.Open(ctx, filepath.Join(dir, "bench.db"))
	if err != nil {
		return err
	}
	defer db.Close()

	fmt.Fprintf(stdout, "linkbench: %d %s destinations on %d loopback listeners, %s latency, %.0f%% failing, interval %s, %d workers, fresh_every %s, keep_alive_hosts %d\n",
		*n, *scheme, len(fleet.ports), *latency, *fail*100, *interval, *workers, freshLabel(*freshEvery), *keepAlive)
	if *warmup <= 0 {
		*warmup = *interval
	}
	b := probeBench{heapProfile: *heapProfile, n: *n, interval: *interval, warmup: *warmup, duration: *duration, workers: *workers, keepAlive: *keepAlive, db: db, stdout: stdout, stderr: stderr}
	if *reference && *scheme == "https" {
		fmt.Fprintf(stdout, "\nreference: the same destinations over http\n")
		if _, err := b.measure(ctx, "http", fleet.ports, nil, *freshEvery, false); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "\nhttps, fresh_every %s\n", freshLabel(*freshEvery))
	}
	ports := fleet.ports
	if *scheme == "https" {
		ports = fleet.tlsPorts
	}
	ph, err := b.measure(ctx, *scheme, ports, roots, *freshEvery, *proberKind == "floor")
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "phase: per_check=%s cpu_share=%f rss_peak=%d fresh_share=%f\n", ph.perCheck, ph.cpuShare, ph.rssPeak, ph.freshShare)
	return nil
}

// sideBySide runs the floor and the checker at the same time, each in a
// child process of its own (this command with -prober) against a fleet of
// its own: on a shared machine, what else runs weighs on both alike, where
// phases one after the other would each meet a different load. Each
// child's CPU and RSS are its own process's. With inTurn the two run one
// after the other instead: 20,000 https hosts' first handshakes are more
// than two cores can do twice at once, so side by side neither reaches
// the steady state being measured.
func sideBySide(ctx context.Context, args []string, inTurn bool, stdout, stderr io.Writer) error {
	self, err := os.Executable()
	if err != nil {
		return err
	}
	var rest []string
	for _, a := range args {
		if a != "-floor" && a != "--floor" && a != "-in-turn" && a != "--in-turn" {
			rest = append(rest, a)
		}
	}
	kinds := []string{"floor", "checker"}
	phases := make([]phase, len(kinds))
	errs := make([]error, len(kinds))
	var out sync.Mutex
	var wg sync.WaitGroup
	for i, kind := range kinds {
		if inTurn {
			wg.Wait()
		}
		wg.Go(func() {
			cmd := exec.CommandContext(ctx, self, append(suffixed(rest, "."+kind), "-prober", kind)...)
			cmd.Stderr = stderr
			pipe, err := cmd.StdoutPipe()
			if err != nil {
				errs[i] = err
				return
			}
			if err := cmd.Start(); err != nil {
				errs[i] = err
				return
			}
			sc := bufio.NewScanner(pipe)
			for sc.Scan() {
				line := sc.Text()
				if rest, ok := strings.CutPrefix(line, "phase: "); ok {
					phases[i], errs[i] = parsePhase(rest)
				}
				out.Lock()
				fmt.Fprintf(stdout, "%-8s %s\n", kind, line)
				out.Unlock()
			}
			if err := cmd.Wait(); err != nil && errs[i] == nil {
				errs[i] = fmt.Errorf("%s: %w", kind, err)
			}
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return err
	}
	fl, lw := phases[0], phases[1]
	fmt.Fprintf(stdout, "\nfloor:     %5dµs/check  %4.0f%% of a core  rss_peak %4d MiB  %2.0f%% fresh\n", fl.perCheck.Microseconds(), fl.cpuShare, fl.rssPeak>>20, fl.freshShare)
	fmt.Fprintf(stdout, "linkwatch: %5dµs/check  %4.0f%% of a core  rss_peak %4d MiB  %2.0f%% fresh\n", lw.perCheck.Microseconds(), lw.cpuShare, lw.rssPeak>>20, lw.freshShare)
	fmt.Fprintf(stdout, "ratio linkwatch/floor: cpu_per_check %.2f (goal <= 1.2)  rss_peak %.2f (goal <= 1.3)  load_average %s\n",
		lw.perCheck.Seconds()/max(fl.perCheck.Seconds(), 1e-9), float64(lw.rssPeak)/float64(max(fl.rssPeak, 1)), loadAverage())
	return nil
}

// suffixed returns args with suffix added to the files the profile flags
// name, so the two children write apart.
func suffixed(args []string, suffix string) []string {
	out := slices.Clone(args)
	for i, a := range out {
		name, _, hasValue := strings.Cut(strings.TrimLeft(a, "-"), "=")
		switch name {
		case "cpuprofile", "memprofile", "heapprofile":
			if hasValue {
				out[i] = a + suffix
			} else if i+1 < len(out) {
				out[i+1] += suffix
			}
		}
	}
	return out
}

// parsePhase reads the "phase:" line a child prints.
func parsePhase(s string) (phase, error) {
	var p phase
	for _, field := range strings.Fields(s) {
		k, v, _ := strings.Cut(field, "=")
		var err error
		switch k {
		case "per_check":
			p.perCheck, err = time.ParseDuration(v)
		case "cpu_share":
			p.cpuShare, err = strconv.ParseFloat(v, 64)
		case "rss_peak":
			p.rssPeak, err = strconv.ParseInt(v, 10, 64)
		case "fresh_share":
			p.freshShare, err = strconv.ParseFloat(v, 64)
		}
		if err != nil {
			return phase{}, fmt.Errorf("phase line %q: %w", s, err)
		}
	}
	return p, nil
}

// phase is what one measured phase cost.
type phase struct {
	perCheck   time.Duration // CPU per check
	cpuShare   float64       // % of one core, over the phase
	rssPeak    int64         // bytes
	freshShare float64       // % of checks fresh
}

// writeAllocs writes the allocations sampled since the start (pprof's
// alloc_space and alloc_objects), which is what drives the collector's work.
func writeAllocs(path string) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := pprof.Lookup("allocs").WriteTo(f, 0); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// writeHeap writes the live heap (pprof's inuse_space), after a collection.
func writeHeap(path string) error {
	runtime.GC()
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := pprof.Lookup("heap").WriteTo(f, 0); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func freshLabel(d time.Duration) string {
	if d <= 0 {
		return "0 (every check)"
	}
	return d.String()
}

// probeBench is one run's settings, shared by its phases.
type probeBench struct {
	n                          int
	interval, warmup, duration time.Duration
	heapProfile                string
	workers, keepAlive         int
	db                         *sqlite.DB
	stdout, stderr             io.Writer
}

// measure runs the real checker, scheduler and result writer (with floor:
// the floor prober and the scheduler) against the fleet's ports for a
// warm-up plus the duration, and prints what it cost.
func (b probeBench) measure(ctx context.Context, scheme string, ports []int, roots *x509.CertPool, freshEvery time.Duration, floor bool) (phase, error) {
	targets := make([]linkwatch.Target, b.n)
	for i := range targets {
		u := fmt.Sprintf("%s://d%d.bench.test:%d/d/%d", scheme, i, ports[i%len(ports)], i)
		targets[i] = linkwatch.Target{ID: u, Kind: linkwatch.TargetDestination, URL: u}
	}
	var prober schedule.Prober
	if floor {
		fp := newFloorProber(roots, freshEvery, b.interval*8/10, b.keepAlive)
		defer fp.CloseIdleConnections()
		prober = fp
	} else {
		chk := b.checker(roots, freshEvery)
		defer chk.CloseIdleConnections()
		prober = chk
	}
	return b.run(ctx, prober, targets, scheme, floor)
}

// checker is the real checker as the bench configures it.
func (b probeBench) checker(roots *x509.CertPool, freshEvery time.Duration) *checker.Checker {
	return checker.New(checker.Options{
		Timeout:      b.interval * 8 / 10,
		AllowPrivate: []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")},
		Resolver:     benchResolver{},
		RootCAs:      roots,
		FreshEvery:   freshEvery,
		// The bench's every destination is a host of its own: the worst
		// case for keeping connections.
		KeepAliveHosts: b.keepAlive,
	})
}

// run schedules the prober's checks of targets and measures them. The floor
// writes no results: a bare GET is all it does.
func (b probeBench) run(ctx context.Context, prober schedule.Prober, targets []linkwatch.Target, scheme string, floor bool) (phase, error) {
	stdout := b.stdout
	var up, down, other, fresh atomic.Int64
	var writer *storage.ResultWriter
	if !floor {
		writer = storage.NewResultWriter(b.db, 500, time.Second, func(err error) {
			if err != nil {
				fmt.Fprintln(b.stderr, "write results:", err)
			}
		})
		writerCtx, stopWriter := context.WithCancel(context.WithoutCancel(ctx))
		writerDone := make(chan struct{})
		go func() { writer.Run(writerCtx); close(writerDone) }()
		defer func() { stopWriter(); <-writerDone }()
	}
	var measuring atomic.Bool
	sched := schedule.New(prober, targets, schedule.Options{
		Interval: b.interval,
		Workers:  b.workers,
		OnResult: func(r linkwatch.Result) {
			if measuring.Load() {
				switch r.Status {
				case linkwatch.StatusUp:
					up.Add(1)
				case linkwatch.StatusDown:
					down.Add(1)
				default:
					other.Add(1)
				}
				if r.Fresh {
					fresh.Add(1)
				}
			}
			if writer != nil {
				writer.Add(r)
			}
		},
	})
	runCtx, stopRun := context.WithTimeout(ctx, b.warmup+b.duration)
	defer stopRun()
	schedDone := make(chan struct{})
	go func() { sched.Run(runCtx); close(schedDone) }()

	// The warm-up opens the connections; measure after it.
	select {
	case <-time.After(b.warmup):
	case <-runCtx.Done():
	}
	self := os.Getpid()
	resetPeakRSS()
	measuring.Store(true)
	cpu0, wall0, checks0, load0 := procCPU(self), time.Now(), sched.Stats().Checks, loadAverage()
	tickCPU, tickFresh, tickDone := cpu0, int64(0), int64(0)
	tick := time.NewTicker(b.interval)
	defer tick.Stop()
loop:
	for {
		select {
		case <-tick.C:
			// Each line also has the interval's own CPU, checks and fresh
			// share: the first intervals after a start (every host's
			// first handshake, then the first renewals) cost more than the
			// ones after.
			st := sched.Stats()
			rss := procStatusOf(self, "VmRSS")
			cpuNow, freshNow, doneNow := procCPU(self), fresh.Load(), up.Load()+down.Load()+other.Load()
			done := max(doneNow-tickDone, 1)
			fmt.Fprintf(stdout, "  %6.0fs  checks %8d  lag p50 %-8s p99 %-8s max %-8s skipped %d  rss %d MiB  interval: %5.0f checks/s, cpu %3.0f%%, %4dµs/check, %2.0f%% fresh\n",
				time.Since(wall0).Seconds(), st.Checks, st.LagP50.Round(time.Millisecond), st.LagP99.Round(time.Millisecond),
				st.LagMax.Round(time.Millisecond), st.Skipped, rss>>20,
				float64(doneNow-tickDone)/b.interval.Seconds(), 100*(cpuNow-tickCPU).Seconds()/b.interval.Seconds(),
				((cpuNow - tickCPU) / time.Duration(done)).Microseconds(), 100*float64(freshNow-tickFresh)/float64(done))
			tickCPU, tickFresh, tickDone = cpuNow, freshNow, doneNow
		case <-runCtx.Done():
			break loop
		}
	}
	<-schedDone
	// Where the memory is, connections still kept: the live heap, the
	// goroutines' stacks (one or two per kept connection), and what the
	// runtime holds from the system.
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	fmt.Fprintf(stdout, "memory: heap_inuse=%dMiB heap_sys=%dMiB stack_inuse=%dMiB goroutines=%d sys=%dMiB\n",
		ms.HeapInuse>>20, ms.HeapSys>>20, ms.StackInuse>>20, runtime.NumGoroutine(), ms.Sys>>20)
	if b.heapProfile != "" {
		if err := writeHeap(b.heapProfile); err != nil {
			fmt.Fprintln(b.stderr, "heapprofile:", err)
		}
	}
	st := sched.Stats()
	wall := time.Since(wall0)
	cpu := procCPU(self) - cpu0
	hwm := procStatusOf(self, "VmHWM")
	rate := float64(st.Checks-checks0) / wall.Seconds()
	fmt.Fprintf(stdout, "result: n=%d scheme=%s checks/s=%.0f (needed %.0f) lag_p50=%s lag_p99=%s lag_max=%s skipped=%d cpu=%.0f%% of one core rss_peak=%dMiB\n",
		b.n, scheme, rate, float64(b.n)/b.interval.Seconds(), st.LagP50.Round(time.Millisecond), st.LagP99.Round(time.Millisecond),
		st.LagMax.Round(time.Millisecond), st.Skipped, 100*cpu.Seconds()/wall.Seconds(), hwm>>20)
	// CPU per check holds when the machine is shared and throughput is not:
	// the needed rate times it is the share of a core the prober needs.
	perCheck := cpu / time.Duration(max(st.Checks-checks0, 1))
	fmt.Fprintf(stdout, "cost: cpu_per_check=%dµs (at the needed rate: %.0f%% of one core) load_average=%s→%s\n",
		perCheck.Microseconds(), 100*perCheck.Seconds()*float64(b.n)/b.interval.Seconds(), load0, loadAverage())
	// SQLite growth is measured by `linkbench system` over a soak: over this
	// short run, the first result and first minute rollup of every target
	// would dominate the figure.
	total := up.Load() + down.Load() + other.Load()
	fmt.Fprintf(stdout, "results: up=%d down=%d other=%d fresh=%d (%.0f%%)\n", up.Load(), down.Load(), other.Load(), fresh.Load(),
		100*float64(fresh.Load())/float64(max(total, 1)))
	if st.LagP99 > time.Second {
		fmt.Fprintln(stdout, "verdict: p99 lag above 1s: this N is too many for this machine")
	} else {
		fmt.Fprintln(stdout, "verdict: p99 lag under 1s")
	}
	return phase{perCheck: perCheck, cpuShare: 100 * cpu.Seconds() / wall.Seconds(), rssPeak: hwm,
		freshShare: 100 * float64(fresh.Load()) / float64(max(total, 1))}, nil
}

// loadAverage is the machine's 1-minute load average: how much else wanted
// the CPU meanwhile.
func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	first, _, _ := strings.Cut(string(b), " ")
	return first
}

// resetPeakRSS starts VmHWM again from the current RSS (Linux: "5" in
// clear_refs), so each phase of a run reports its own peak.
func resetPeakRSS() {
	runtime.GC()
	debug.FreeOSMemory()
	_ = os.WriteFile("/proc/self/clear_refs", []byte("5"), 0)
}

// fleetInfo is what a started fleet reports.
type fleetInfo struct {
	ports    []int    // destination listeners
	tlsPorts []int    // the same destinations over HTTPS, when asked for
	bare     int      // the bare 302 handler
	addrs    []string // with -spread: each destination listener's host:port
}

// startFleetInfo runs `linkbench fleet` as a child process and returns its
// ports; extra is passed on to it.
func startFleetInfo(ctx context.Context, listeners int, latency time.Duration, fail float64, stderr io.Writer, extra ...string) (fleetInfo, func(), error) {
	self, err := os.Executable()
	if err != nil {
		return fleetInfo{}, nil, err
	}
	args := append([]string{"fleet", "-listeners", strconv.Itoa(listeners), "-latency", latency.String(), "-fail", fmt.Sprint(fail)}, extra...)
	cmd := exec.CommandContext(ctx, self, args...)
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
		if word == "addr" {
			info.addrs = append(info.addrs, num)
			continue
		}
		n, err := strconv.Atoi(num)
		if err != nil {
			stop()
			return fleetInfo{}, nil, fmt.Errorf("fleet said %q", line)
		}
		switch word {
		case "port":
			info.ports = append(info.ports, n)
		case "tlsport":
			info.tlsPorts = append(info.tlsPorts, n)
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
