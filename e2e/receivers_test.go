package e2e

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
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
	hits  map[string][]hit // by URL
	hosts []*fleetHost
}

// hit is a check a destination got: when, and the checker's User-Agent
// (the replica tests name each replica in it).
type hit struct {
	at time.Time
	by string
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
	f := &fleet{hits: map[string][]hit{}}
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
			f.hits[u] = append(f.hits[u], hit{time.Now(), r.UserAgent()})
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
		for _, h := range f.hits[u] {
			if !h.at.Before(from) && h.at.Before(to) {
				out[u]++
			}
		}
	}
	return out
}

// checkers returns the User-Agents that checked urls within [from, to).
func (f *fleet) checkers(urls []string, from, to time.Time) []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []string
	for _, u := range urls {
		for _, h := range f.hits[u] {
			if !h.at.Before(from) && h.at.Before(to) && !slices.Contains(out, h.by) {
				out = append(out, h.by)
			}
		}
	}
	return out
}

// doubleChecks returns, for each of urls checked by two checkers (by
// User-Agent) less than half an interval apart within [from, to), when:
// two replicas checked it at once. Two replicas that both hold a
// destination check it once an interval each, so two of their checks
// always fall within half an interval; one replica's check delayed on a
// loaded machine and its next on time are not two replicas.
func (f *fleet) doubleChecks(urls []string, interval time.Duration, from, to time.Time) map[string][]time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := map[string][]time.Time{}
	for _, u := range urls {
		var last hit
		for _, h := range f.hits[u] {
			if h.at.Before(from) || !h.at.Before(to) {
				continue
			}
			if !last.at.IsZero() && h.at.Sub(last.at) < interval/2 && h.by != last.by {
				out[u] = append(out[u], h.at)
			}
			last = h
		}
	}
	return out
}

// TestDoubleChecksAreTwoReplicas: doubleChecks finds a destination checked
// by two checkers within half an interval, and not one checker's delayed
// check followed by its next.
func TestDoubleChecksAreTwoReplicas(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	at := func(ms int, by string) hit { return hit{t0.Add(time.Duration(ms) * time.Millisecond), by} }
	f := &fleet{hits: map[string][]hit{
		"delayed": {at(0, "r1"), at(1900, "r1"), at(2100, "r1"), at(4000, "r1")},
		"shared":  {at(0, "r1"), at(700, "r2"), at(2000, "r1"), at(2700, "r2")},
		"handed":  {at(0, "r1"), at(2000, "r1"), at(2300, "r2"), at(4300, "r2")},
	}}
	got := f.doubleChecks([]string{"delayed", "shared", "handed"}, 2*time.Second, t0, t0.Add(5*time.Second))
	want := map[string][]time.Time{"shared": {at(700, "").at, at(2700, "").at}, "handed": {at(2300, "").at}}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("doubleChecks = %v, want %v", got, want)
	}
	if by := f.checkers([]string{"delayed", "shared"}, t0, t0.Add(5*time.Second)); !slices.Equal(by, []string{"r1", "r2"}) {
		t.Errorf("checkers = %q, want r1 and r2", by)
	}
}
