package main

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
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
		})
	}
}
