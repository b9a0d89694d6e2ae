package e2e

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// ready reports whether the process answers /readyz with 200.
func (p *proc) ready(c *http.Client) bool {
	resp, err := c.Get(p.URL + "/readyz")
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

// roundRobin is a small load balancer in front of the replicas: each
// request goes to the next replica whose /readyz answered 200 at the last
// poll (every 100 ms), as a Kubernetes Service follows its endpoints. It
// is stricter than Kubernetes, which takes a replica out after 3 failed
// probes 5 s apart (deploy/deployment.yaml): here one failed poll does.
type roundRobin struct {
	client *http.Client
	next   atomic.Uint64

	mu      sync.Mutex
	all     []*proc
	up      map[*proc]bool // what each replica answered at its last poll
	unready map[*proc]int  // polls each replica failed
	polling map[*proc]bool // a poll of the replica is under way
}

func newRoundRobin() *roundRobin {
	return &roundRobin{client: &http.Client{Timeout: 10 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }},
		up: map[*proc]bool{}, unready: map[*proc]int{}, polling: map[*proc]bool{}}
}

func (rr *roundRobin) set(all ...*proc) {
	rr.mu.Lock()
	rr.all = all
	rr.mu.Unlock()
	rr.poll()
}

// poll asks each replica whether it is ready, all at once, and heeds each
// answer as it comes: one replica slow to answer (starting, or starved on
// a loaded machine) does not hold back what another answered, such as a
// stopping replica's 503, which the balancer must heed within that
// replica's drain_delay. It returns when each replica it asked has
// answered; one already being asked is left to that poll.
func (rr *roundRobin) poll() {
	var wg sync.WaitGroup
	rr.pollEach(&wg)
	wg.Wait()
}

// pollEach starts a poll of each replica that has none under way, and
// returns without waiting: the balancer's ticker asks every replica every
// 100 ms apart from the others, as a Kubernetes kubelet probes each pod on
// its own, so a replica whose /readyz is slow (one starting, on a starved
// machine) delays the next poll of no other. A round that waited for the
// slowest answer took a stopping replica's 503 late once at a load of 20,
// after it had closed its listener (a 502 to a visitor).
func (rr *roundRobin) pollEach(wg *sync.WaitGroup) {
	rr.mu.Lock()
	defer rr.mu.Unlock()
	for _, p := range rr.all {
		if rr.polling[p] {
			continue
		}
		rr.polling[p] = true
		wg.Go(func() {
			ok := p.ready(rr.client)
			rr.mu.Lock()
			defer rr.mu.Unlock()
			rr.polling[p] = false
			rr.up[p] = ok
			if !ok {
				rr.unready[p]++
			}
		})
	}
}

func (rr *roundRobin) routes(p *proc) bool {
	rr.mu.Lock()
	defer rr.mu.Unlock()
	return slices.Contains(rr.all, p) && rr.up[p]
}

// unreadyPolls is how many polls found p not ready.
func (rr *roundRobin) unreadyPolls(p *proc) int {
	rr.mu.Lock()
	defer rr.mu.Unlock()
	return rr.unready[p]
}

func (rr *roundRobin) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rr.mu.Lock()
	ready := slices.DeleteFunc(slices.Clone(rr.all), func(p *proc) bool { return !rr.up[p] })
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

// redirectLoad is visitors asking for redirects through a roundRobin, as
// fast as they can, until stopped. Every answer but the one wanted is a
// failure, the balancer's 503 when no replica is ready included.
type redirectLoad struct {
	sent, failed atomic.Int64
	stop         func() // stops the visitors, the balancer's polls and the balancer; once

	mu  sync.Mutex
	why map[string]int
}

// startRedirectLoad starts visitors that ask the balancer in front of rr
// for path(i), their i-th redirect among them all; wrong says what is
// wrong with an answer ("" if nothing). It polls rr's replicas every
// 100 ms meanwhile. The load stops when the test ends, if not before.
func startRedirectLoad(t *testing.T, rr *roundRobin, visitors int, path func(i int64) string, wrong func(*http.Response) string) *redirectLoad {
	t.Helper()
	lb := httptest.NewServer(rr)
	l := &redirectLoad{why: map[string]int{}}
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		var polls sync.WaitGroup
		defer polls.Wait()
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-done:
				return
			case <-tick.C:
				rr.pollEach(&polls)
			}
		}
	})
	client := newRoundRobin().client // its own connections, not the balancer's
	var n atomic.Int64
	for range visitors {
		wg.Go(func() {
			for {
				select {
				case <-done:
					return
				default:
				}
				resp, err := client.Get(lb.URL + path(n.Add(1)-1))
				l.sent.Add(1)
				if err != nil {
					l.fail(err.Error())
					continue
				}
				body, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode == http.StatusBadGateway {
					// The balancer's own failure: its error says which
					// replica refused or dropped the request, and how.
					l.fail("502 Bad Gateway: " + strings.TrimSpace(string(body)))
				} else if why := wrong(resp); why != "" {
					l.fail(why)
				}
			}
		})
	}
	l.stop = sync.OnceFunc(func() { close(done); wg.Wait(); lb.Close() })
	t.Cleanup(l.stop)
	return l
}

func (l *redirectLoad) fail(why string) {
	l.failed.Add(1)
	l.mu.Lock()
	l.why[why]++
	l.mu.Unlock()
}

// String sums the load up: redirects sent, failed, and why.
func (l *redirectLoad) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var why []string
	for w, n := range l.why {
		why = append(why, fmt.Sprintf("%dx %s", n, w))
	}
	sort.Strings(why)
	return fmt.Sprintf("%d redirects, %d failed [%s]", l.sent.Load(), l.failed.Load(), strings.Join(why, "; "))
}
