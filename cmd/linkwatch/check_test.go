package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/creack/pty"
)

func TestCheckCommand(t *testing.T) {
	ok := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte("welcome to the shop"))
	}))
	defer ok.Close()
	broken := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "boom", http.StatusInternalServerError)
	}))
	defer broken.Close()

	tests := []struct {
		name     string
		links    string
		wantCode int // -1: success
		want     []string
	}{
		{"all up", `
      - {slug: shop, url: "` + ok.URL + `/shop", expect: {body_contains: welcome}}
      - {slug: same, url: "` + ok.URL + `/shop", expect: {body_contains: welcome}}`, -1,
			[]string{"ada   shop  destination  up", "ada   same  destination  up", "1 URL: 1 up, 0 degraded, 0 down, 0 skipped"}},
		{"one down", `
      - {slug: shop, url: "` + ok.URL + `/shop"}
      - {slug: api, url: "` + broken.URL + `/api"}
      - {slug: soft, url: "` + ok.URL + `/gone", expect: {body_contains: "in stock"}}`, 1,
			[]string{"http_5xx", "content_mismatch", "3 URLs: 1 up, 0 degraded, 2 down, 0 skipped"}},
		{"private address refused without allow_private", `
      - {slug: shop, url: "` + ok.URL + `/shop"}`, 1, []string{"blocked"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			allow := "\nprobe: {allow_private: [127.0.0.1/32], timeout: 2s}\n"
			if strings.Contains(tt.name, "without allow_private") {
				allow = "\n"
			}
			path := filepath.Join(t.TempDir(), "c.yaml")
			mustWrite(t, path, allow+"pages:\n  - slug: ada\n    links:"+tt.links+"\n")
			var stdout, stderr bytes.Buffer
			err := run(context.Background(), []string{"linkwatch", "check", "-config", path}, func(string) string { return "" }, &stdout, &stderr)
			if tt.wantCode < 0 && err != nil {
				t.Fatalf("err = %v\n%s", err, stdout.String())
			}
			if tt.wantCode >= 0 && (err == nil || exitCode(err) != tt.wantCode) {
				t.Fatalf("err = %v, want exit %d\n%s", err, tt.wantCode, stdout.String())
			}
			for _, w := range tt.want {
				if !strings.Contains(stdout.String(), w) {
					t.Errorf("output lacks %q:\n%s", w, stdout.String())
				}
			}
			if stderr.Len() != 0 { // not a terminal: no progress
				t.Errorf("stderr = %q, want nothing", stderr.String())
			}
		})
	}
}

// checkConfig writes a config of one page "ada" with links, probing
// loopback, and returns its path.
func checkConfig(t *testing.T, links string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "c.yaml")
	mustWrite(t, path, "\nprobe: {allow_private: [127.0.0.1/32], timeout: 25s, interval: 30s}\npages:\n  - slug: ada\n    links:"+links+"\n")
	return path
}

func TestCheckJSONPrintsOneObjectPerLink(t *testing.T) {
	ok := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte("welcome"))
	}))
	defer ok.Close()
	broken := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "boom", http.StatusInternalServerError)
	}))
	defer broken.Close()
	path := checkConfig(t, `
      - {slug: shop, url: "`+ok.URL+`/shop"}
      - {slug: same, url: "`+ok.URL+`/shop"}
      - {slug: api, url: "`+broken.URL+`/api"}`)
	var stdout, stderr bytes.Buffer
	before := time.Now().UTC().Add(-time.Second)
	err := run(context.Background(), []string{"linkwatch", "check", "-json", "-config", path}, func(string) string { return "" }, &stdout, &stderr)
	if exitCode(err) != 1 {
		t.Fatalf("err = %v, want exit 1 (a destination is down)", err)
	}
	type record struct {
		Page, Link, URL, Status, Cause, Summary string
		Code                                    *int
		LatencyMS                               *int64    `json:"latency_ms"`
		CheckedAt                               time.Time `json:"checked_at"`
	}
	var got []record
	sc := bufio.NewScanner(&stdout)
	for sc.Scan() {
		var r record
		var raw map[string]any
		if err := json.Unmarshal(sc.Bytes(), &raw); err != nil {
			t.Fatalf("line %q: %v", sc.Text(), err)
		}
		for _, k := range checkJSONFields {
			if _, ok := raw[k]; !ok {
				t.Errorf("line %q lacks %q", sc.Text(), k)
			}
		}
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatalf("line %q: %v", sc.Text(), err)
		}
		got = append(got, r)
	}
	if len(got) != 3 {
		t.Fatalf("%d lines, want one per link:\n%s", len(got), stdout.String())
	}
	want := []struct{ link, status, cause string }{{"shop", "up", ""}, {"same", "up", ""}, {"api", "down", "http_5xx"}}
	for i, w := range want {
		r := got[i]
		if r.Page != "ada" || r.Link != w.link || r.Status != w.status || r.Cause != w.cause {
			t.Errorf("line %d = %+v, want ada/%s %s %q", i, r, w.link, w.status, w.cause)
		}
		if r.Code == nil || r.LatencyMS == nil || *r.LatencyMS < 0 || r.CheckedAt.Before(before) || r.CheckedAt.Location() != time.UTC {
			t.Errorf("line %d: code %v, latency %v, checked at %s", i, r.Code, r.LatencyMS, r.CheckedAt)
		}
	}
	if *got[2].Code != 500 || got[2].URL != broken.URL+"/api" {
		t.Errorf("api: code %d url %s", *got[2].Code, got[2].URL)
	}
	if stderr.Len() != 0 {
		t.Errorf("stderr is not a terminal, yet got %q", stderr.String())
	}
}

// TestCheckProgressOnATerminal runs `check` with stderr on a pty: while a
// slow destination holds the round, the line says how far it got, and it
// ends with the final count. stdout keeps the table alone.
func TestCheckProgressOnATerminal(t *testing.T) {
	ptmx, tty, err := pty.Open()
	if err != nil {
		t.Skipf("no pty: %v", err)
	}
	defer ptmx.Close()
	release := make(chan struct{})
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-time.After(20 * time.Second): // a bound on a broken test, not a timing
		}
		_, _ = w.Write([]byte("ok"))
	}))
	defer slow.Close()
	defer func() {
		select {
		case <-release:
		default:
			close(release)
		}
	}()
	ok := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write([]byte("ok")) }))
	defer ok.Close()
	broken := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "boom", http.StatusInternalServerError)
	}))
	defer broken.Close()
	path := checkConfig(t, `
      - {slug: a, url: "`+ok.URL+`/a"}
      - {slug: b, url: "`+ok.URL+`/b"}
      - {slug: api, url: "`+broken.URL+`/api"}
      - {slug: slow, url: "`+slow.URL+`/slow"}`)

	var mu sync.Mutex
	var seen strings.Builder
	sawPartial := false
	readDone := make(chan struct{})
	go func() {
		defer close(readDone)
		buf := make([]byte, 1024)
		for {
			n, err := ptmx.Read(buf)
			mu.Lock()
			seen.Write(buf[:n])
			if !sawPartial && strings.Contains(seen.String(), "\rchecked 3/4, 1 down") {
				sawPartial = true
				close(release) // the slow one may answer now
			}
			mu.Unlock()
			if err != nil {
				return
			}
		}
	}()
	var stdout bytes.Buffer
	err = run(context.Background(), []string{"linkwatch", "check", "-config", path}, func(string) string { return "" }, &stdout, tty)
	tty.Close()
	<-readDone
	if exitCode(err) != 1 {
		t.Fatalf("err = %v, want exit 1", err)
	}
	mu.Lock()
	defer mu.Unlock()
	if !sawPartial {
		t.Fatalf("no progress line while the slow destination held the round; the terminal saw %q", seen.String())
	}
	if !strings.Contains(seen.String(), "\rchecked 4/4, 1 down\r\n") {
		t.Errorf("the terminal lacks the final count on a line of its own: %q", seen.String())
	}
	if strings.Contains(stdout.String(), "checked") || !strings.Contains(stdout.String(), "4 URLs: 3 up, 0 degraded, 1 down, 0 skipped") {
		t.Errorf("stdout:\n%s", stdout.String())
	}
}

// A file is not a terminal: CI that sends stderr to a log gets no progress.
func TestCheckQuietWhenStderrIsAFile(t *testing.T) {
	ok := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write([]byte("ok")) }))
	defer ok.Close()
	path := checkConfig(t, `
      - {slug: a, url: "`+ok.URL+`/a"}`)
	f, err := os.CreateTemp(t.TempDir(), "stderr")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var stdout bytes.Buffer
	if err := run(context.Background(), []string{"linkwatch", "check", "-config", path}, func(string) string { return "" }, &stdout, f); err != nil {
		t.Fatalf("err = %v\n%s", err, stdout.String())
	}
	if b, _ := os.ReadFile(f.Name()); len(b) != 0 {
		t.Errorf("stderr file got %q", b)
	}
}

// checkJSONFields are the fields README lists for `check -json`: every
// line has every one, null where there is nothing to say.
var checkJSONFields = []string{"page", "link", "role", "url", "status", "code", "latency_ms", "cause", "summary", "final_url", "checked_at", "skipped_until"}

// checkJSON runs `check -json` with the config at path and returns its
// lines, each checked to carry every documented field.
func checkJSON(t *testing.T, path string) ([]map[string]any, error) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	err := run(context.Background(), []string{"linkwatch", "check", "-json", "-config", path}, func(string) string { return "" }, &stdout, &stderr)
	var lines []map[string]any
	sc := bufio.NewScanner(&stdout)
	for sc.Scan() {
		var line map[string]any
		if err := json.Unmarshal(sc.Bytes(), &line); err != nil {
			t.Fatalf("line %q: %v", sc.Text(), err)
		}
		for _, k := range checkJSONFields {
			if _, ok := line[k]; !ok {
				t.Errorf("line %q lacks %q", sc.Text(), k)
			}
		}
		if len(line) != len(checkJSONFields) {
			t.Errorf("line %q has fields README does not list", sc.Text())
		}
		lines = append(lines, line)
	}
	return lines, err
}

// A fallback is checked and counted like a destination, so a row names it:
// a fallback that is down is why `check` fails, and the output says so.
func TestCheckShowsFallbacks(t *testing.T) {
	ok := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write([]byte("ok")) }))
	defer ok.Close()
	broken := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "boom", http.StatusInternalServerError)
	}))
	defer broken.Close()
	// blog's fallback is shop's destination: one URL, one check, two rows.
	path := checkConfig(t, `
      - {slug: shop, url: "`+ok.URL+`/shop", fallback: "`+broken.URL+`/backup"}
      - {slug: blog, url: "`+ok.URL+`/blog", fallback: "`+ok.URL+`/shop"}
      - {slug: docs, url: "`+ok.URL+`/docs"}`)

	var stdout, stderr bytes.Buffer
	err := run(context.Background(), []string{"linkwatch", "check", "-config", path}, func(string) string { return "" }, &stdout, &stderr)
	if exitCode(err) != 1 || !strings.Contains(err.Error(), "1 of 4 URLs down") {
		t.Fatalf("err = %v, want exit 1, 1 of 4 URLs down\n%s", err, stdout.String())
	}
	var rows []string
	for _, l := range strings.Split(strings.TrimSpace(stdout.String()), "\n") {
		rows = append(rows, strings.Join(strings.Fields(l), " "))
	}
	want := []string{
		"PAGE LINK ROLE STATUS CODE LATENCY CAUSE SUMMARY",
		"ada shop destination up 200",
		"ada shop fallback down 500",
		"ada blog destination up 200",
		"ada blog fallback up 200",
		"ada docs destination up 200",
		"",
		"4 URLs: 3 up, 0 degraded, 1 down, 0 skipped",
	}
	if len(rows) != len(want) {
		t.Fatalf("table:\n%s\nwant the rows %q", stdout.String(), want)
	}
	for i, w := range want {
		if !strings.HasPrefix(rows[i], w) {
			t.Errorf("row %d = %q, want it to begin %q", i, rows[i], w)
		}
	}
	if !strings.Contains(rows[2], "http_5xx 500 Internal Server Error at "+broken.URL+"/backup") {
		t.Errorf("the fallback's row does not say why it is down: %q", rows[2])
	}

	lines, err := checkJSON(t, path)
	if exitCode(err) != 1 {
		t.Fatalf("-json: err = %v, want exit 1", err)
	}
	wantJSON := []struct{ link, role, url, status string }{
		{"shop", "destination", ok.URL + "/shop", "up"},
		{"shop", "fallback", broken.URL + "/backup", "down"},
		{"blog", "destination", ok.URL + "/blog", "up"},
		{"blog", "fallback", ok.URL + "/shop", "up"},
		{"docs", "destination", ok.URL + "/docs", "up"},
	}
	if len(lines) != len(wantJSON) {
		t.Fatalf("%d lines, want %d: %v", len(lines), len(wantJSON), lines)
	}
	for i, w := range wantJSON {
		l := lines[i]
		if l["page"] != "ada" || l["link"] != w.link || l["role"] != w.role || l["url"] != w.url || l["status"] != w.status ||
			l["final_url"] != w.url || l["skipped_until"] != nil {
			t.Errorf("line %d = %v, want ada/%s %s %s %s", i, l, w.link, w.role, w.url, w.status)
		}
	}
}

// One URL of a host answering 429 with Retry-After makes the checker leave
// the host alone: its other URL is not checked, and `check` says so
// (skipped, why and until when) instead of a verdict nobody observed. A
// skipped URL is not down: it fails no deploy. With one request at a time
// per host, whichever URL goes first gets the 429, whatever the order; the
// other host's URL is checked, whatever its turn.
func TestCheckSkipsTheURLsOfAHostThatAskedForABackoff(t *testing.T) {
	var hits atomic.Int32
	busy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		w.Header().Set("Retry-After", "120")
		w.WriteHeader(http.StatusTooManyRequests)
	}))
	defer busy.Close()
	ok := otherHostServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write([]byte("ok")) }))
	path := filepath.Join(t.TempDir(), "c.yaml")
	mustWrite(t, path, `
probe: {allow_private: [127.0.0.0/8], timeout: 25s, interval: 30s, per_host: 1}
pages:
  - slug: ada
    links:
      - {slug: a, url: "`+busy.URL+`/a"}
      - {slug: b, url: "`+busy.URL+`/b"}
      - {slug: shop, url: "`+ok.URL+`/shop"}
`)
	before := time.Now().UTC().Truncate(time.Second)
	var stdout, stderr bytes.Buffer
	if err := run(context.Background(), []string{"linkwatch", "check", "-config", path}, func(string) string { return "" }, &stdout, &stderr); err != nil {
		t.Fatalf("err = %v, want success: rate limited is degraded, skipped is not down\n%s", err, stdout.String())
	}
	if n := hits.Load(); n != 1 {
		t.Fatalf("the busy host got %d requests, want 1", n)
	}
	table := stdout.String()
	if !strings.Contains(table, "3 URLs: 1 up, 1 degraded, 0 down, 1 skipped") || !regexp.MustCompile(`(?m)^ada +[ab] +destination +skipped +- +- +rate_limited +not checked: 127\.0\.0\.1:\d+ asked to be left alone until \d\d:\d\d:\d\d UTC \(429 Retry-After\)$`).MatchString(table) ||
		!regexp.MustCompile(`(?m)^ada +[ab] +destination +degraded +429 +\S+ +rate_limited +429 Too Many Requests at `).MatchString(table) {
		t.Errorf("table:\n%s", table)
	}

	hits.Store(0)
	lines, err := checkJSON(t, path)
	if err != nil || len(lines) != 3 {
		t.Fatalf("-json: err = %v, %d lines, want success and 3", err, len(lines))
	}
	var skipped, limited map[string]any
	for _, l := range lines[:2] {
		switch l["status"] {
		case "skipped":
			skipped = l
		case "degraded":
			limited = l
		}
	}
	if skipped == nil || limited == nil || skipped["link"] == limited["link"] {
		t.Fatalf("lines %v, want one of a and b rate limited, the other skipped", lines)
	}
	// Skipped: not checked, so no response, latency or time of check; the
	// reason and until when instead.
	until, _ := time.Parse(time.RFC3339, fmt.Sprint(skipped["skipped_until"]))
	if skipped["cause"] != "rate_limited" || skipped["code"] != nil || skipped["latency_ms"] != nil || skipped["checked_at"] != nil ||
		skipped["final_url"] != nil || until.Before(before.Add(120*time.Second)) || until.After(time.Now().Add(120*time.Second)) {
		t.Errorf("skipped line = %v, want rate_limited, nulls, and skipped_until 2 minutes on", skipped)
	}
	if limited["cause"] != "rate_limited" || limited["code"] != float64(429) || limited["latency_ms"] == nil || limited["checked_at"] == nil ||
		limited["skipped_until"] != nil {
		t.Errorf("rate limited line = %v", limited)
	}
}

// A destination that never answered has no code and no final URL: both
// null, on a line that still carries every field. Go's resolver answers a
// .onion name without asking DNS (RFC 7686), so nothing leaves the machine.
func TestCheckJSONOnADNSFailure(t *testing.T) {
	path := checkConfig(t, `
      - {slug: gone, url: "http://shop.onion/"}`)
	before := time.Now().UTC().Add(-time.Second)
	lines, err := checkJSON(t, path)
	if exitCode(err) != 1 || len(lines) != 1 {
		t.Fatalf("err = %v, %d lines; want exit 1 and one line", err, len(lines))
	}
	l := lines[0]
	at, _ := time.Parse(time.RFC3339Nano, fmt.Sprint(l["checked_at"]))
	if l["status"] != "down" || l["cause"] != "dns" || l["role"] != "destination" || l["code"] != nil || l["final_url"] != nil ||
		l["skipped_until"] != nil || l["latency_ms"] == nil || at.Before(before) || !strings.HasPrefix(fmt.Sprint(l["summary"]), "DNS lookup for shop.onion") {
		t.Errorf("line = %v", l)
	}
}
