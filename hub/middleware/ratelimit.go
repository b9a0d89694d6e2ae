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

// RateLimiter limits requests per client with a token bucket each
// (golang.org/x/time/rate). A client is an IPv4 address, or an IPv6
// network: one subscriber gets a whole /64 (or more) and may send from any
// of its addresses, so a bucket per IPv6 address limits nothing. Buckets
// live in shards so concurrent requests rarely share a lock, and idle
// buckets are dropped so memory stays bounded.
type RateLimiter struct {
	rate       rate.Limit
	burst      int
	ipv6Prefix int
	seed       maphash.Seed
	shards     [64]limiterShard
	now        func() time.Time
}

type limiterShard struct {
	mu      sync.Mutex
	clients map[netip.Prefix]*clientBucket
	swept   time.Time
}

type clientBucket struct {
	lim  *rate.Limiter
	seen time.Time
}

// idleAfter is how long an unused bucket is kept; a full bucket refills well
// within it, so dropping it loses nothing.
const idleAfter = 5 * time.Minute

// NewRateLimiter allows each client perSecond requests a second, burst at
// once. A client is an IPv4 address, or the IPv6 network of ipv6Prefix
// bits (1 to 128) an IPv6 address is in.
func NewRateLimiter(perSecond float64, burst, ipv6Prefix int) *RateLimiter {
	l := &RateLimiter{rate: rate.Limit(perSecond), burst: burst, ipv6Prefix: ipv6Prefix, seed: maphash.MakeSeed(), now: time.Now}
	for i := range l.shards {
		l.shards[i].clients = map[netip.Prefix]*clientBucket{}
	}
	return l
}

// Client names the client an address belongs to: an IPv4 address (an
// IPv4-mapped IPv6 one included) alone, an IPv6 address's network of the
// limiter's prefix length. What is not an address (never from a TCP
// connection) is the zero Prefix, one client.
func (l *RateLimiter) Client(ip string) netip.Prefix {
	a, err := netip.ParseAddr(ip)
	if err != nil {
		return netip.Prefix{}
	}
	a = a.Unmap().WithZone("")
	bits := a.BitLen()
	if a.Is6() {
		bits = l.ipv6Prefix
	}
	p, err := a.Prefix(bits)
	if err != nil {
		return netip.PrefixFrom(a, a.BitLen())
	}
	return p
}

// Allow reports whether client may make a request now, and if not, how long
// until it may.
func (l *RateLimiter) Allow(client netip.Prefix) (bool, time.Duration) {
	sh := &l.shards[maphash.Comparable(l.seed, client)%uint64(len(l.shards))]
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
// trusted, its network for IPv6) over its rate. The prober's own self-checks (exempt reports
// them) are not limited: with many links they would exceed any per-client
// rate and show the hub as broken.
func (l *RateLimiter) Middleware(trusted []netip.Prefix, exempt func(*http.Request) bool, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if exempt(r) {
			next.ServeHTTP(w, r)
			return
		}
		if ok, wait := l.Allow(l.Client(ClientIP(r, trusted))); !ok {
			w.Header().Set("Retry-After", strconv.Itoa(int(math.Ceil(wait.Seconds()))))
			http.Error(w, "too many requests", http.StatusTooManyRequests)
			return
		}
		next.ServeHTTP(w, r)
	})
}
