package main

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// The load generators of the benches: closed loop (the saturation rate)
// and open loop (a fixed rate, latency from when a request was due).

type loadResult struct {
	rate     float64
	p50, p99 time.Duration
	errors   int64
}

func loadClient(conns int) *http.Client {
	return &http.Client{
		Transport:     &http.Transport{MaxIdleConnsPerHost: conns, MaxIdleConns: conns, Proxy: nil},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		Timeout:       10 * time.Second,
	}
}

func hit(c *http.Client, url string) error {
	resp, err := c.Get(url)
	if err != nil {
		return err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusFound {
		return fmt.Errorf("status %d", resp.StatusCode)
	}
	return nil
}

// closedLoop keeps conns requests in flight for d: the saturation rate.
func closedLoop(ctx context.Context, base string, paths []string, conns int, d time.Duration) loadResult {
	c := loadClient(conns)
	var wg sync.WaitGroup
	var errs atomic.Int64
	lat := make([][]time.Duration, conns)
	deadline := time.Now().Add(d)
	for i := range conns {
		wg.Go(func() {
			for time.Now().Before(deadline) && ctx.Err() == nil {
				p := paths[rand.IntN(len(paths))]
				t := time.Now()
				if hit(c, base+p) != nil {
					errs.Add(1)
				}
				lat[i] = append(lat[i], time.Since(t))
			}
		})
	}
	wg.Wait()
	return summarize(slices.Concat(lat...), d, errs.Load())
}

// hammer keeps conns GETs of url in flight until ctx ends, as wrk does: the
// background load of a phase. It returns how many were answered 200, the
// others, and the bytes of the last body. It asks for gzip and reads the
// compressed bytes as they come, as `wrk -H 'Accept-Encoding: gzip'`
// does: Go's client would otherwise inflate each page (250 KB for 1,000
// links) and take a core of the 2 that the server under test shares.
func hammer(ctx context.Context, url string, conns int) (ok, failed int64, size int) {
	c := loadClient(conns)
	c.Transport.(*http.Transport).DisableCompression = true
	var wg sync.WaitGroup
	var oks, fails atomic.Int64
	var last atomic.Int64
	for range conns {
		wg.Go(func() {
			for ctx.Err() == nil {
				req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
				if err != nil {
					fails.Add(1)
					return
				}
				req.Header.Set("Accept-Encoding", "gzip")
				resp, err := c.Do(req)
				if err != nil {
					if ctx.Err() == nil {
						fails.Add(1)
					}
					continue
				}
				n, _ := io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					fails.Add(1)
					continue
				}
				oks.Add(1)
				last.Store(n)
			}
		})
	}
	wg.Wait()
	return oks.Load(), fails.Load(), int(last.Load())
}

// openLoop sends requests at a fixed rate for d, whatever the answers take.
// Latency counts from when a request was due, not when a worker got to it,
// so a server that falls behind shows it (no coordinated omission).
func openLoop(ctx context.Context, base string, paths []string, rate float64, d time.Duration) loadResult {
	const workers = 64
	c := loadClient(workers)
	due := make(chan time.Time, 4096)
	var mu sync.Mutex
	var lat []time.Duration
	var errs atomic.Int64
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			var mine []time.Duration
			for t := range due {
				if hit(c, base+paths[rand.IntN(len(paths))]) != nil {
					errs.Add(1)
				}
				mine = append(mine, time.Since(t))
			}
			mu.Lock()
			lat = append(lat, mine...)
			mu.Unlock()
		})
	}
	pace(ctx, rate, time.Now().Add(d), func(_ int, at time.Time) { due <- at })
	close(due)
	wg.Wait()
	return summarize(lat, d, errs.Load())
}

// pace calls send with the time each request of an open-loop load is due,
// rate times a second until end or ctx ends; send must not hold it up
// (a worker's queue, a goroutine per request).
func pace(ctx context.Context, rate float64, end time.Time, send func(i int, due time.Time)) {
	interval := time.Duration(float64(time.Second) / rate)
	start := time.Now()
	for i := 0; ctx.Err() == nil; i++ {
		next := start.Add(time.Duration(i) * interval)
		if !next.Before(end) {
			return
		}
		if w := time.Until(next); w > 0 {
			select {
			case <-ctx.Done():
				return
			case <-time.After(w):
			}
		}
		send(i, next)
	}
}

func summarize(lat []time.Duration, d time.Duration, errs int64) loadResult {
	if len(lat) == 0 {
		return loadResult{errors: errs}
	}
	slices.Sort(lat)
	return loadResult{rate: float64(len(lat)) / d.Seconds(), p50: quantile(lat, 0.50).Round(10 * time.Microsecond),
		p99: quantile(lat, 0.99).Round(10 * time.Microsecond), errors: errs}
}

// quantile is the q-quantile of sorted latencies (nearest rank below),
// zero for none.
func quantile(sorted []time.Duration, q float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	return sorted[int(float64(len(sorted)-1)*q)]
}
