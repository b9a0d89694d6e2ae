package main

import (
	"hash/maphash"
	"math"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// clientLimiter limits requests per client IP with a token bucket each
// (golang.org/x/time/rate). Buckets live in shards so concurrent requests
// rarely share a lock, and idle buckets are dropped so memory stays bounded.
type clientLimiter struct {
	rate   rate.Limit
	burst  int
	seed   maphash.Seed
	shards [64]limiterShard
	now    func() time.Time
}

type limiterShard struct {
	mu      sync.Mutex
	clients map[string]*clientBucket
	swept   time.Time
}

type clientBucket struct {
	lim  *rate.Limiter
	seen time.Time
}

// idleAfter is how long an unused bucket is kept; a full bucket refills well
// within it, so dropping it loses nothing.
const idleAfter = 5 * time.Minute

func newClientLimiter(perSecond float64, burst int) *clientLimiter {
	l := &clientLimiter{rate: rate.Limit(perSecond), burst: burst, seed: maphash.MakeSeed(), now: time.Now}
	for i := range l.shards {
		l.shards[i].clients = map[string]*clientBucket{}
	}
	return l
}

// allow reports whether client may make a request now, and if not, how long
// until it may.
func (l *clientLimiter) allow(client string) (bool, time.Duration) {
	sh := &l.shards[maphash.String(l.seed, client)%uint64(len(l.shards))]
	now := l.now()
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if now.Sub(sh.swept) > idleAfter {
		for k, b := range sh.clients {
			if now.Sub(b.seen) > idleAfter {
				delete(sh.clients, k)
			}
		}
		sh.swept = now
	}
	b, ok := sh.clients[client]
	if !ok {
		b = &clientBucket{lim: rate.NewLimiter(l.rate, l.burst)}
		sh.clients[client] = b
	}
	b.seen = now
	r := b.lim.ReserveN(now, 1)
	if d := r.DelayFrom(now); d > 0 {
		r.CancelAt(now)
		return false, d
	}
	return true, 0
}

// clientIP names the client of a request: the connection's address, or,
// when that address is a trusted reverse proxy, the nearest address in
// X-Forwarded-For that is not one. Forwarded headers from anyone else are
// ignored: any client can set them.
func clientIP(r *http.Request, trusted []netip.Prefix) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	isTrusted := func(s string) bool {
		ip, err := netip.ParseAddr(strings.TrimSpace(s))
		if err != nil {
			return false
		}
		for _, p := range trusted {
			if p.Contains(ip.Unmap()) {
				return true
			}
		}
		return false
	}
	if len(trusted) == 0 || !isTrusted(host) {
		return host
	}
	hops := strings.Split(strings.Join(r.Header.Values("X-Forwarded-For"), ","), ",")
	for i := len(hops) - 1; i >= 0; i-- {
		hop := strings.TrimSpace(hops[i])
		if hop == "" {
			continue
		}
		if !isTrusted(hop) {
			if ip, err := netip.ParseAddr(hop); err == nil {
				return ip.String()
			}
			return host // garbage in the header: fall back to the proxy
		}
	}
	return host
}

// middleware answers 429 with Retry-After to a client over its rate. The
// prober's own self-checks (exempt reports them) are not limited: with many
// links they would exceed any per-client rate and show the hub as broken.
func (l *clientLimiter) middleware(trusted []netip.Prefix, exempt func(*http.Request) bool, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if exempt(r) {
			next.ServeHTTP(w, r)
			return
		}
		if ok, wait := l.allow(clientIP(r, trusted)); !ok {
			w.Header().Set("Retry-After", strconv.Itoa(int(math.Ceil(wait.Seconds()))))
			http.Error(w, "too many requests", http.StatusTooManyRequests)
			return
		}
		next.ServeHTTP(w, r)
	})
}
