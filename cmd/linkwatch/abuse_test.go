package main

import (
	"bufio"
	"context"
	"hash/maphash"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestClientLimiter(t *testing.T) {
	now := time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)
	l := newClientLimiter(2, 3)
	l.now = func() time.Time { return now }
	for i := range 3 {
		if ok, _ := l.allow("192.0.2.1"); !ok {
			t.Fatalf("request %d within the burst refused", i+1)
		}
	}
	ok, wait := l.allow("192.0.2.1")
	if ok || wait <= 0 || wait > time.Second {
		t.Fatalf("4th request: ok %v, wait %v; want refused for about 500ms", ok, wait)
	}
	if ok, _ := l.allow("192.0.2.2"); !ok {
		t.Error("another client was limited by the first one's traffic")
	}
	now = now.Add(500 * time.Millisecond)
	if ok, _ := l.allow("192.0.2.1"); !ok {
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
	l.allow(other)
	if _, kept := sh.clients["192.0.2.2"]; kept || len(sh.clients) != 1 {
		t.Errorf("idle bucket kept: %v", sh.clients)
	}
}

func TestRateLimitAnswers429WithRetryAfter(t *testing.T) {
	l := newClientLimiter(1, 2)
	self := func(r *http.Request) bool { return r.Header.Get("X-Self") == "tok" }
	h := withHealth(okPinger{}, l.middleware(nil, self, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusFound)
	})))
	var codes []int
	var retry string
	for range 4 {
		rec := httptest.NewRecorder()
		req := httptest.NewRequest("GET", "/ada/go", nil)
		req.RemoteAddr = "198.51.100.7:5555"
		h.ServeHTTP(rec, req)
		codes = append(codes, rec.Code)
		if rec.Code == http.StatusTooManyRequests {
			retry = rec.Header().Get("Retry-After")
		}
	}
	if codes[0] != 302 || codes[1] != 302 || codes[2] != 429 || codes[3] != 429 {
		t.Errorf("codes = %v, want two redirects then 429s", codes)
	}
	if n, err := strconv.Atoi(retry); err != nil || n < 1 {
		t.Errorf("Retry-After = %q, want whole seconds", retry)
	}
	// The prober's self-checks are never limited.
	for range 5 {
		rec := httptest.NewRecorder()
		req := httptest.NewRequest("GET", "/ada/go", nil)
		req.RemoteAddr = "198.51.100.7:5555"
		req.Header.Set("X-Self", "tok")
		h.ServeHTTP(rec, req)
		if rec.Code != http.StatusFound {
			t.Fatalf("self-check = %d while the client is limited", rec.Code)
		}
	}
	// Health probes are never limited.
	for range 5 {
		rec := httptest.NewRecorder()
		req := httptest.NewRequest("GET", "/healthz", nil)
		req.RemoteAddr = "198.51.100.7:5555"
		h.ServeHTTP(rec, req)
		if rec.Code != 200 {
			t.Fatalf("/healthz = %d while the client is limited", rec.Code)
		}
	}
}

type okPinger struct{}

func (okPinger) Ready(context.Context) error { return nil }

func TestServerDropsSlowHeaders(t *testing.T) {
	old := serverTimeouts
	serverTimeouts.readHeader = 200 * time.Millisecond
	t.Cleanup(func() { serverTimeouts = old })
	ln := serveLoopback(t)
	conn, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	// A slowloris client: headers started, never finished.
	if _, err := io.WriteString(conn, "GET / HTTP/1.1\r\nHost: x\r\nX-Slow: "); err != nil {
		t.Fatal(err)
	}
	_ = conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	_, err = bufio.NewReader(conn).ReadString('\n')
	if ne, ok := err.(net.Error); ok && ne.Timeout() {
		t.Fatal("the server kept a connection with unfinished headers open")
	}
}

func TestServerRejectsHugeHeaders(t *testing.T) {
	ln := serveLoopback(t)
	req, _ := http.NewRequest("GET", "http://"+ln.Addr().String()+"/", nil)
	req.Header.Set("X-Big", strings.Repeat("a", 2*maxHeaderBytes))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
		t.Errorf("status %d, want 431", resp.StatusCode)
	}
}

func TestIsHubPath(t *testing.T) {
	tests := []struct {
		path string
		hub  bool
	}{
		{"/", true}, {"/ada", true}, {"/ada/go", true}, {"/static/hub.css", true}, {"/statusx", true},
		{"/status", false}, {"/status/ada", false}, {"/api/v2/summary.json", false}, {"/api/admin/incidents", false},
		{"/badge/ada.svg", false}, {"/history.atom", false}, {"/ada/qr.svg", false}, {"/ada/go/qr.png", false},
	}
	for _, tt := range tests {
		if got := isHubPath(tt.path); got != tt.hub {
			t.Errorf("isHubPath(%q) = %v, want %v", tt.path, got, tt.hub)
		}
	}
}

// serveLoopback runs newHTTPServer with an empty handler on 127.0.0.1.
func serveLoopback(t *testing.T) net.Listener {
	t.Helper()
	srv := newHTTPServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}), slog.New(slog.DiscardHandler))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { srv.Close() })
	return ln
}

func TestClientIP(t *testing.T) {
	proxies := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}
	tests := []struct {
		name    string
		remote  string
		xff     []string
		trusted []netip.Prefix
		want    string
	}{
		{"direct", "203.0.113.9:1234", nil, nil, "203.0.113.9"},
		{"forged header, no trusted proxies", "203.0.113.9:1234", []string{"198.51.100.1"}, nil, "203.0.113.9"},
		{"forged header from an untrusted peer", "203.0.113.9:1234", []string{"198.51.100.1"}, proxies, "203.0.113.9"},
		{"through a trusted proxy", "10.0.0.5:1234", []string{"198.51.100.1"}, proxies, "198.51.100.1"},
		{"client-set prefix is ignored", "10.0.0.5:1234", []string{"1.2.3.4, 198.51.100.1"}, proxies, "198.51.100.1"},
		{"two trusted proxies", "10.0.0.5:1234", []string{"198.51.100.1, 10.0.0.7"}, proxies, "198.51.100.1"},
		{"several header lines", "10.0.0.5:1234", []string{"1.2.3.4", "198.51.100.1"}, proxies, "198.51.100.1"},
		{"garbage hop", "10.0.0.5:1234", []string{"not-an-ip"}, proxies, "10.0.0.5"},
		{"no header", "10.0.0.5:1234", nil, proxies, "10.0.0.5"},
		{"ipv6", "[2001:db8::1]:443", nil, proxies, "2001:db8::1"},
	}
	for _, tt := range tests {
		r := httptest.NewRequest("GET", "/", nil)
		r.RemoteAddr = tt.remote
		for _, v := range tt.xff {
			r.Header.Add("X-Forwarded-For", v)
		}
		if got := clientIP(r, tt.trusted); got != tt.want {
			t.Errorf("%s: clientIP = %q, want %q", tt.name, got, tt.want)
		}
	}
}
