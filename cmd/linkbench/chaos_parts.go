package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// The moving parts of the chaos run: the fleet of destinations, the
// webhook receiver, the replicas and the load balancer in front of them.

// chaosFleet is destinations on distinct loopback hosts (127.0.0.2, ...),
// logging every check each gets. A host that is down answers 503 to all.
type chaosFleet struct {
	mu     sync.Mutex
	checks map[string][]check // by destination URL
	hosts  []*chaosHost
}

type chaosHost struct {
	addr string
	down atomic.Bool
	srv  *http.Server
}

func newChaosFleet(hosts int) (*chaosFleet, error) {
	f := &chaosFleet{checks: map[string][]check{}}
	for h := range hosts {
		ln, err := net.Listen("tcp", fmt.Sprintf("127.0.0.%d:0", h+2))
		if err != nil {
			f.close()
			return nil, fmt.Errorf("fleet host 127.0.0.%d: %w", h+2, err)
		}
		fh := &chaosHost{addr: ln.Addr().String()}
		fh.srv = &http.Server{ReadHeaderTimeout: 5 * time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			f.mu.Lock()
			u := "http://" + fh.addr + r.URL.Path
			f.checks[u] = append(f.checks[u], check{at: time.Now(), by: r.UserAgent()})
			f.mu.Unlock()
			if fh.down.Load() {
				http.Error(w, "fleet: host down on schedule", http.StatusServiceUnavailable)
				return
			}
			_, _ = io.WriteString(w, "ok")
		})}
		go func() { _ = fh.srv.Serve(ln) }()
		f.hosts = append(f.hosts, fh)
	}
	return f, nil
}

func (f *chaosFleet) close() {
	for _, h := range f.hosts {
		_ = h.srv.Close()
	}
}

// log returns a copy of the checks so far.
func (f *chaosFleet) log() map[string][]check {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make(map[string][]check, len(f.checks))
	for u, cs := range f.checks {
		out[u] = slices.Clone(cs)
	}
	return out
}

// checked counts the destinations of urls checked at least once.
func (f *chaosFleet) checked(urls []string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := 0
	for _, u := range urls {
		if len(f.checks[u]) > 0 {
			n++
		}
	}
	return n
}

// chaosReplica is one linkwatch serve on a fixed loopback address, as a
// pod keeps its address across restarts of its container.
type chaosReplica struct {
	slot   int
	addr   string
	bin    string
	config string
	env    []string
	log    *os.File // its stderr, every start appended

	mu   sync.Mutex
	proc *serveProc
}

// start starts the replica's process. It does not wait for it to listen:
// the balancer follows its /readyz, as a Service follows a pod's.
func (r *chaosReplica) start() error {
	p, err := startServe(r.bin, r.config, []string{"-addr", r.addr}, r.env, r.log)
	if err != nil {
		return fmt.Errorf("replica %d: %w", r.slot, err)
	}
	r.mu.Lock()
	r.proc = p
	r.mu.Unlock()
	return nil
}

func (r *chaosReplica) current() *serveProc {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.proc
}

// kill sends SIGKILL and waits for the process to be gone.
func (r *chaosReplica) kill() {
	if p := r.current(); p != nil {
		p.kill()
	}
}

// stop ends the replica as a deploy does.
func (r *chaosReplica) stop() {
	if p := r.current(); p != nil {
		p.stop()
	}
}

// exited reports whether the replica's process has exited.
func (r *chaosReplica) exited() bool {
	p := r.current()
	return p != nil && p.exited()
}

// balancer sends each redirect to a replica whose /readyz answered 200 at
// its last poll, in turn, as a Kubernetes Service follows its ready
// endpoints. A replica that refuses the connection (the request never
// reached it) is skipped for the next one, as load balancers retry a
// failed connect; any other failure is the visitor's.
type balancer struct {
	replicas []*chaosReplica
	client   *http.Client
	probe    *http.Client
	next     atomic.Uint64

	mu    sync.Mutex
	ready []bool
}

func newBalancer(replicas []*chaosReplica) *balancer {
	noRedirects := func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &balancer{
		replicas: replicas,
		client: &http.Client{Timeout: 10 * time.Second, CheckRedirect: noRedirects,
			Transport: &http.Transport{MaxIdleConnsPerHost: 64, Proxy: nil}},
		probe: &http.Client{Timeout: time.Second, CheckRedirect: noRedirects,
			Transport: &http.Transport{DisableKeepAlives: true, Proxy: nil}},
		ready: make([]bool, len(replicas)),
	}
}

// watch polls every replica's /readyz every period until ctx ends.
func (b *balancer) watch(ctx context.Context, period time.Duration) {
	var wg sync.WaitGroup
	for i, r := range b.replicas {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				ok := false
				if resp, err := b.probe.Get("http://" + r.addr + "/readyz"); err == nil {
					_, _ = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					ok = resp.StatusCode == http.StatusOK
				}
				b.mu.Lock()
				b.ready[i] = ok
				b.mu.Unlock()
				select {
				case <-ctx.Done():
					return
				case <-time.After(period):
				}
			}
		}()
	}
	wg.Wait()
}

func (b *balancer) readyCount() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	n := 0
	for _, ok := range b.ready {
		if ok {
			n++
		}
	}
	return n
}

// pick returns the next ready replica not in skip, or -1.
func (b *balancer) pick(skip []bool) int {
	b.mu.Lock()
	defer b.mu.Unlock()
	n := len(b.ready)
	start := int(b.next.Add(1) % uint64(n))
	for k := range n {
		i := (start + k) % n
		if b.ready[i] && !skip[i] {
			return i
		}
	}
	return -1
}

// redirect sends one visitor's request for path.
func (b *balancer) redirect(path string) redirect {
	rd := redirect{at: time.Now(), replica: -1}
	skip := make([]bool, len(b.replicas))
	for {
		i := b.pick(skip)
		if i < 0 {
			rd.err = "no ready replica"
			break
		}
		rd.replica = i
		resp, err := b.client.Get("http://" + b.replicas[i].addr + path)
		var op *net.OpError
		if errors.As(err, &op) && op.Op == "dial" {
			skip[i] = true
			rd.retried++
			continue
		}
		// A connection cut before any answer (the replica was killed with
		// the request in flight, or on a kept-alive connection): a proxy
		// retries an idempotent request on the next (nginx's
		// proxy_next_upstream error, Envoy's retry_on reset).
		if errors.Is(err, syscall.ECONNRESET) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			skip[i] = true
			rd.cut++
			continue
		}
		if err != nil {
			rd.err = err.Error()
			break
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusFound || resp.Header.Get("Location") == "" {
			rd.err = fmt.Sprintf("status %d", resp.StatusCode)
		}
		break
	}
	rd.latency = time.Since(rd.at)
	return rd
}
