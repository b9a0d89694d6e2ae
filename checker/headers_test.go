package checker

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"linkwatch"
)

// A destination cannot make the prober read megabytes of headers: past
// the cap the check fails, like an oversized body is cut.
func TestResponseHeadersAreCapped(t *testing.T) {
	big := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		for i := range 40 {
			w.Header().Set("X-Padding-"+strings.Repeat("p", 4)+string(rune('a'+i%26))+string(rune('a'+i/26)), strings.Repeat("x", 4000))
		}
		w.WriteHeader(http.StatusOK)
	}))
	defer big.Close()
	c := newTestChecker(t, Options{})
	r := c.Check(context.Background(), linkwatch.Target{ID: "big", Kind: linkwatch.TargetDestination, URL: big.URL + "/"})
	if r.Status != linkwatch.StatusDown || !strings.Contains(r.Summary+r.Error, "header") {
		t.Fatalf("160 KB of response headers: status %s cause %s (%s / %s), want down over the header cap", r.Status, r.Cause, r.Summary, r.Error)
	}
}
