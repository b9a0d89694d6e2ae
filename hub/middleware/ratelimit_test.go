package middleware

import (
	"fmt"
	"hash/maphash"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"testing"
	"time"
)

func TestRateLimiter(t *testing.T) {
	now := time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)
	l := NewRateLimiter(2, 3, 64)
	l.now = func() time.Time { return now }
	for i := range 3 {
		if ok, _ := l.Allow(l.Client("192.0.2.1")); !ok {
			t.Fatalf("request %d within the burst refused", i+1)
		}
	}
	ok, wait := l.Allow(l.Client("192.0.2.1"))
	if ok || wait <= 0 || wait > time.Second {
		t.Fatalf("4th request: ok %v, wait %v; want refused for about 500ms", ok, wait)
	}
	if ok, _ := l.Allow(l.Client("192.0.2.2")); !ok {
		t.Error("another client was limited by the first one's traffic")
	}
	now = now.Add(500 * time.Millisecond)
	if ok, _ := l.Allow(l.Client("192.0.2.1")); !ok {
		t.Error("refused after the bucket refilled one token")
	}
	// Idle buckets are dropped when their shard is next used: memory is
	// bounded by active clients.
	now = now.Add(idleAfter + time.Second)
	shardOf := func(k string) *limiterShard {
		return &l.shards[maphash.Comparable(l.seed, l.Client(k))%uint64(len(l.shards))]
	}
	sh := shardOf("192.0.2.2")
	other := ""
	// Every candidate is a valid address: past 10.0.0.255 a dotted string
	// would parse as no address at all, one client in one shard, and the
	// search would never end when the seed puts none of the first 256 in sh.
	for i := uint32(1); other == ""; i++ {
		if k := netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)}).String(); shardOf(k) == sh {
			other = k
		}
	}
	l.Allow(l.Client(other))
	if _, kept := sh.clients[l.Client("192.0.2.2")]; kept || len(sh.clients) != 1 {
		t.Errorf("idle bucket kept: %v", sh.clients)
	}
}

// An IPv6 subscriber may send from any address of its /64: they all share
// one bucket. Other /64s, and IPv4 addresses, have their own.
func TestRateLimiterIPv6Networks(t *testing.T) {
	l := NewRateLimiter(0.001, 5, 64)
	h := l.Middleware(nil, func(*http.Request) bool { return false }, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusFound)
	}))
	do := func(remote string) int {
		rec := httptest.NewRecorder()
		req := httptest.NewRequest("GET", "/ada/go", nil)
		req.RemoteAddr = remote
		h.ServeHTTP(rec, req)
		return rec.Code
	}
	redirects := 0
	for i := range 40 {
		if do(fmt.Sprintf("[2001:db8:1:2:%x::%x]:4000", i, i+1)) == http.StatusFound {
			redirects++
		}
	}
	if redirects != 5 {
		t.Errorf("40 addresses of one /64 got %d redirects, want the burst of 5", redirects)
	}
	if code := do("[2001:db8:1:2::1%eth0]:4000"); code != http.StatusTooManyRequests {
		t.Errorf("the same /64, with a zone, = %d", code)
	}
	if code := do("[2001:db8:1:3::1]:4000"); code != http.StatusFound {
		t.Errorf("another /64 = %d", code)
	}
	// IPv4 clients are limited per address, an IPv4-mapped IPv6 address
	// as the IPv4 address it is.
	for range 5 {
		do("192.0.2.7:4000")
	}
	if code := do("[::ffff:192.0.2.7]:4000"); code != http.StatusTooManyRequests {
		t.Errorf("the IPv4-mapped form of a limited address = %d", code)
	}
	if code := do("192.0.2.8:4000"); code != http.StatusFound {
		t.Errorf("the next IPv4 address = %d", code)
	}
}

func TestRateLimiterClient(t *testing.T) {
	for _, tt := range []struct {
		ip     string
		prefix int
		want   string
	}{
		{"192.0.2.7", 64, "192.0.2.7/32"},
		{"::ffff:192.0.2.7", 64, "192.0.2.7/32"},
		{"2001:db8:1:2:3:4:5:6", 64, "2001:db8:1:2::/64"},
		{"2001:db8:1:2:3:4:5:6", 48, "2001:db8:1::/48"},
		{"2001:db8:1:2:3:4:5:6", 128, "2001:db8:1:2:3:4:5:6/128"},
		{"fe80::1%eth0", 64, "fe80::/64"},
		{"not an address", 64, "invalid Prefix"},
	} {
		if got := NewRateLimiter(1, 1, tt.prefix).Client(tt.ip).String(); got != tt.want {
			t.Errorf("Client(%q) with /%d = %s, want %s", tt.ip, tt.prefix, got, tt.want)
		}
	}
}
