package e2e

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"
)

// hookSecret signs the webhooks of these tests.
var hookSecret = "whsec_" + base64.StdEncoding.EncodeToString([]byte("trust-secret-0123456789abcdef"))

// hookReceiver is a webhook endpoint that verifies every delivery with the
// Standard Webhooks library and keeps the bodies. answer, when set, picks
// the status for a body (200 otherwise).
type hookReceiver struct {
	t      *testing.T
	srv    *httptest.Server
	mu     sync.Mutex
	bodies []hookBody
	answer func(hookBody) int
}

type hookBody struct {
	// ID is the webhook-id header: one per event, kept across re-sends,
	// which receivers deduplicate on.
	ID string `json:"-"`
	// Path is where it was posted: it names the sender when each replica
	// is given its own URL.
	Path string `json:"-"`
	Type string `json:"type"`
	Data struct {
		Reason   string `json:"reason"`
		Incident struct {
			ID             int64    `json:"id"`
			Key            string   `json:"key"`
			AcknowledgedBy string   `json:"acknowledged_by"`
			Kind           string   `json:"kind"`
			Targets        []string `json:"targets"`
			Affected       []struct {
				Page, Link, Fallback string
				Diverted             bool
			} `json:"affected"`
		} `json:"incident"`
		Added  []struct{ Page, Link string }  `json:"added"`
		Update *struct{ Status, Body string } `json:"update"`
		// The storage events' (storage.unreachable, storage.reachable).
		Replica  struct{ ID, Addr string } `json:"replica"`
		Database string                    `json:"database"`
	} `json:"data"`
}

func (b hookBody) String() string {
	s := b.Type + " " + b.Data.Incident.Key
	if b.Data.Reason != "" {
		s += " (" + b.Data.Reason + ")"
	}
	return s
}

func newHookReceiver(t *testing.T) *hookReceiver {
	t.Helper()
	v, err := standardwebhooks.NewWebhook(hookSecret)
	if err != nil {
		t.Fatal(err)
	}
	h := &hookReceiver{t: t}
	h.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		raw, _ := io.ReadAll(r.Body)
		if err := v.Verify(raw, r.Header); err != nil {
			t.Errorf("webhook signature: %v", err)
		}
		var b hookBody
		if err := json.Unmarshal(raw, &b); err != nil {
			t.Errorf("webhook body: %v", err)
		}
		b.ID, b.Path = r.Header.Get("webhook-id"), r.URL.Path
		h.mu.Lock()
		answer := h.answer
		h.mu.Unlock()
		if answer != nil {
			if code := answer(b); code != http.StatusOK {
				w.WriteHeader(code)
				return
			}
		}
		h.mu.Lock()
		h.bodies = append(h.bodies, b)
		h.mu.Unlock()
	}))
	t.Cleanup(h.srv.Close)
	return h
}

func (h *hookReceiver) got() []hookBody {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]hookBody(nil), h.bodies...)
}

func (h *hookReceiver) setAnswer(f func(hookBody) int) {
	h.mu.Lock()
	h.answer = f
	h.mu.Unlock()
}

// waitFor waits until a received webhook satisfies match, and returns it.
func (h *hookReceiver) waitFor(p *proc, limit time.Duration, what string, match func(hookBody) bool) hookBody {
	h.t.Helper()
	deadline := time.Now().Add(limit)
	for {
		for _, b := range h.got() {
			if match(b) {
				return b
			}
		}
		if time.Now().After(deadline) {
			h.t.Fatalf("no webhook %s within %s; got %v; stderr:\n%s", what, limit, h.got(), p.stderr)
		}
		time.Sleep(50 * time.Millisecond) // a poll of processes: real time
	}
}

// switchable is a loopback destination that can be made to drop every
// connection, as a network that fails does.
type switchable struct {
	srv  *httptest.Server
	down *atomic.Bool
}

func newSwitchable(t *testing.T, down *atomic.Bool) *switchable {
	t.Helper()
	s := &switchable{down: down}
	s.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if down.Load() {
			conn, _, err := w.(http.Hijacker).Hijack()
			if err == nil {
				_ = conn.Close()
			}
			return
		}
		_, _ = io.WriteString(w, "ok")
	}))
	t.Cleanup(s.srv.Close)
	return s
}

// fleet is a set of loopback destinations on distinct hosts (127.0.0.x,
// one listener each), counting every check each destination gets.
type fleet struct {
	mu    sync.Mutex
	hits  map[string][]time.Time // by URL
	hosts []*fleetHost
}

type fleetHost struct {
	addr string
	down atomic.Bool // answers 503 while set
	// downFrom, when set, is a region whose probes get 503 (they name it in
	// their User-Agent): a network path that fails from one region only.
	downFrom atomic.Value
	srv      *http.Server
}

func newFleet(t *testing.T, hosts, perHost int) (*fleet, []string) {
	t.Helper()
	f := &fleet{hits: map[string][]time.Time{}}
	var urls []string
	for h := range hosts {
		ln, err := net.Listen("tcp", fmt.Sprintf("127.0.0.%d:0", h+2))
		if err != nil {
			t.Skipf("loopback address 127.0.0.%d unusable here: %v", h+2, err)
		}
		fh := &fleetHost{addr: ln.Addr().String()}
		fh.srv = &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			f.mu.Lock()
			u := "http://" + fh.addr + r.URL.Path
			f.hits[u] = append(f.hits[u], time.Now())
			f.mu.Unlock()
			if region, _ := fh.downFrom.Load().(string); fh.down.Load() || region != "" && strings.Contains(r.UserAgent(), "("+region+")") {
				http.Error(w, "down", http.StatusServiceUnavailable)
				return
			}
			_, _ = io.WriteString(w, "ok")
		}), ReadHeaderTimeout: 5 * time.Second}
		go func() { _ = fh.srv.Serve(ln) }()
		t.Cleanup(func() { _ = fh.srv.Close() })
		f.hosts = append(f.hosts, fh)
		for p := range perHost {
			urls = append(urls, fmt.Sprintf("http://%s/d%d", fh.addr, p))
		}
	}
	return f, urls
}

// checks counts each destination's checks within [from, to).
func (f *fleet) checks(urls []string, from, to time.Time) map[string]int {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := map[string]int{}
	for _, u := range urls {
		for _, at := range f.hits[u] {
			if !at.Before(from) && at.Before(to) {
				out[u]++
			}
		}
	}
	return out
}

// doubleChecks returns, for each of urls checked twice less than half an
// interval apart within [from, to), when: two replicas checked it at once.
func (f *fleet) doubleChecks(urls []string, interval time.Duration, from, to time.Time) map[string][]time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := map[string][]time.Time{}
	for _, u := range urls {
		var last time.Time
		for _, at := range f.hits[u] {
			if at.Before(from) || !at.Before(to) {
				continue
			}
			if !last.IsZero() && at.Sub(last) < interval/2 {
				out[u] = append(out[u], at)
			}
			last = at
		}
	}
	return out
}
