package middleware

import (
	"hash/maphash"
	"strconv"
	"testing"
	"time"
)

func TestRateLimiter(t *testing.T) {
	now := time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)
	l := NewRateLimiter(2, 3)
	l.now = func() time.Time { return now }
	for i := range 3 {
		if ok, _ := l.Allow("192.0.2.1"); !ok {
			t.Fatalf("request %d within the burst refused", i+1)
		}
	}
	ok, wait := l.Allow("192.0.2.1")
	if ok || wait <= 0 || wait > time.Second {
		t.Fatalf("4th request: ok %v, wait %v; want refused for about 500ms", ok, wait)
	}
	if ok, _ := l.Allow("192.0.2.2"); !ok {
		t.Error("another client was limited by the first one's traffic")
	}
	now = now.Add(500 * time.Millisecond)
	if ok, _ := l.Allow("192.0.2.1"); !ok {
		t.Error("refused after the bucket refilled one token")
	}
	// Idle buckets are dropped when their shard is next used: memory is
	// bounded by active clients.
	now = now.Add(idleAfter + time.Second)
	shardOf := func(k string) *limiterShard { return &l.shards[maphash.String(l.seed, k)%uint64(len(l.shards))] }
	sh := shardOf("192.0.2.2")
	other := ""
	for i := 0; other == ""; i++ {
		if k := "10.0.0." + strconv.Itoa(i); shardOf(k) == sh {
			other = k
		}
	}
	l.Allow(other)
	if _, kept := sh.clients["192.0.2.2"]; kept || len(sh.clients) != 1 {
		t.Errorf("idle bucket kept: %v", sh.clients)
	}
}
