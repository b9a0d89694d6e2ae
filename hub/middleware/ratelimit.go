package middleware

import (
	"hash/maphash"
	"math"
	"net/http"
	"net/netip"
	"strconv"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// RateLimiter limits requests per client IP with a token bucket each
// (golang.org/x/time/rate). Buckets live in shards so concurrent requests
// rarely share a lock, and idle buckets are dropped so memory stays bounded.
type RateLimiter struct {
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

// NewRateLimiter allows each client perSecond requests a second, burst at once.
func NewRateLimiter(perSecond float64, burst int) *RateLimiter {
	l := &RateLimiter{rate: rate.Limit(perSecond), burst: burst, seed: maphash.MakeSeed(), now: time.Now}
	for i := range l.shards {
		l.shards[i].clients = map[string]*clientBucket{}
	}
	return l
}

// Allow reports whether client may make a request now, and if not, how long
// until it may.
func (l *RateLimiter) Allow(client string) (bool, time.Duration) {
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

// Middleware answers 429 with Retry-After to a client (ClientIP with
// trusted) over its rate. The prober's own self-checks (exempt reports
// them) are not limited: with many links they would exceed any per-client
// rate and show the hub as broken.
func (l *RateLimiter) Middleware(trusted []netip.Prefix, exempt func(*http.Request) bool, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if exempt(r) {
			next.ServeHTTP(w, r)
			return
		}
		if ok, wait := l.Allow(ClientIP(r, trusted)); !ok {
			w.Header().Set("Retry-After", strconv.Itoa(int(math.Ceil(wait.Seconds()))))
			http.Error(w, "too many requests", http.StatusTooManyRequests)
			return
		}
		next.ServeHTTP(w, r)
	})
}
