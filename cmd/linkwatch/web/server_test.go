package web

import (
	"bufio"
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"linkwatch/hub"
	"linkwatch/hub/middleware"
	"linkwatch/incidents/admin"
	"linkwatch/statuspage"
)

func TestRateLimitAnswers429WithRetryAfter(t *testing.T) {
	t.Parallel()
	l := middleware.NewRateLimiter(1, 2, 64)
	hs := testHub(t)
	hs.SetSelfCheckToken("tok")
	h := New(Handlers{Hub: hs, Admin: admin.New(nil, admin.Options{}), Status: statuspage.New(nil, statuspage.Options{Catalog: hs.Catalog}),
		Health: Health{Ready: new(Readiness), Storage: okStorage{}, Timeout: 2 * time.Second},
		Limit:  func(next http.Handler) http.Handler { return l.Middleware(nil, hs.IsSelfCheck, next) }})
	var codes []int
	var retry string
	for _, path := range []string{"/ada/go", "/status/static/status.css", "/ada/go", "/status/static/status.css"} {
		rec := httptest.NewRecorder()
		req := httptest.NewRequest("GET", path, nil)
		req.RemoteAddr = "198.51.100.7:5555"
		h.ServeHTTP(rec, req)
		codes = append(codes, rec.Code)
		if rec.Code == http.StatusTooManyRequests {
			retry = rec.Header().Get("Retry-After")
		}
	}
	// One bucket for the hub and the router's routes alike.
	if codes[0] != 302 || codes[1] == 429 || codes[2] != 429 || codes[3] != 429 {
		t.Errorf("codes = %v, want two answers then 429s", codes)
	}
	if n, err := strconv.Atoi(retry); err != nil || n < 1 {
		t.Errorf("Retry-After = %q, want whole seconds", retry)
	}
	// The prober's self-checks are never limited.
	for range 5 {
		rec := httptest.NewRecorder()
		req := httptest.NewRequest("GET", "/ada/go", nil)
		req.RemoteAddr = "198.51.100.7:5555"
		req.Header.Set(hub.SelfCheckHeader, "tok")
		h.ServeHTTP(rec, req)
		if rec.Code != http.StatusFound {
			t.Fatalf("self-check = %d while the client is limited", rec.Code)
		}
	}
	// Health probes are never limited.
	for _, path := range []string{"/healthz", "/readyz", "/readyz/storage", "/healthz", "/readyz", "/readyz/storage"} {
		rec := httptest.NewRecorder()
		req := httptest.NewRequest("GET", path, nil)
		req.RemoteAddr = "198.51.100.7:5555"
		h.ServeHTTP(rec, req)
		if rec.Code != 200 || rec.Body.String() != "ok\n" {
			t.Fatalf("%s = %d %q while the client is limited", path, rec.Code, rec.Body)
		}
	}
}

// testHub is a hub serving page ada with link go (its clicks are never
// flushed).
func testHub(t testing.TB) *hub.Server {
	t.Helper()
	cat, err := hub.NewCatalog([]hub.PageSpec{{Slug: "ada", Links: []hub.LinkSpec{{Slug: "go", URL: "https://go.dev/"}}}}, hub.NewCounter(nil))
	if err != nil {
		t.Fatal(err)
	}
	return hub.NewServer(cat, slog.New(slog.DiscardHandler))
}

type okStorage struct{}

func (okStorage) Check(context.Context) error { return nil }

// TestServerDropsSlowHeaders sets the package's serverTimeouts, which
// every NewServer reads: it runs alone, not beside the parallel tests (as
// one, it raced with TestServerRejectsHugeHeaders under -race).
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
	t.Parallel()
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

// serveLoopback runs NewServer with an empty handler on 127.0.0.1.
func serveLoopback(t *testing.T) net.Listener {
	t.Helper()
	srv := NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}), slog.New(slog.DiscardHandler))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { srv.Close() })
	return ln
}
