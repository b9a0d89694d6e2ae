package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
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
			[]string{"ada   shop  up", "ada   same  up", "1 destinations: 1 up, 0 degraded, 0 down"}},
		{"one down", `
      - {slug: shop, url: "` + ok.URL + `/shop"}
      - {slug: api, url: "` + broken.URL + `/api"}
      - {slug: soft, url: "` + ok.URL + `/gone", expect: {body_contains: "in stock"}}`, 1,
			[]string{"http_5xx", "content_mismatch", "3 destinations: 1 up, 0 degraded, 2 down"}},
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
		for _, k := range []string{"page", "link", "url", "status", "code", "latency_ms", "cause", "summary", "checked_at"} {
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
	if strings.Contains(stdout.String(), "checked") || !strings.Contains(stdout.String(), "4 destinations: 3 up, 0 degraded, 1 down") {
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
