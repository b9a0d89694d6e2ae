package middleware

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

// The security headers' values are shared by every answer and never
// written into: a handler adding to them changes its own answer only.
// Their names are canonical, as a server's header map is keyed.
func TestSecurityHeadersAreNotShared(t *testing.T) {
	h := SecurityHeaders(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		for _, sh := range securityHeaders {
			w.Header().Add(sh.name, "added by the handler")
		}
	}))
	for i := range 2 {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
		for _, sh := range securityHeaders {
			if http.CanonicalHeaderKey(sh.name) != sh.name {
				t.Errorf("%q is not canonical", sh.name)
			}
			if got := rec.Header()[sh.name]; len(got) != 2 || got[0] != sh.value[0] || len(sh.value) != 1 {
				t.Errorf("answer %d: %s = %q; the shared value is now %q", i, sh.name, got, sh.value)
			}
		}
	}
}
