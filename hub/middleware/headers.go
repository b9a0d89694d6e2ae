package middleware

import (
	"net/http"
	"strings"
)

// policy is the Content-Security-Policy of every public answer: pages load
// only their own stylesheet and inline images, run no script, and post no
// form. formPolicy is the same but for forms, which may post to this
// origin: the operator console's.
const (
	policy     = "default-src 'none'; style-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
	formPolicy = "default-src 'none'; style-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)

// setSecurityHeaders sets the headers promised on every public answer: a
// strict Content-Security-Policy, no MIME sniffing, and a referrer that
// leaks no path to other origins.
func setSecurityHeaders(h http.Header, forms bool) {
	if forms {
		h.Set("Content-Security-Policy", formPolicy)
	} else {
		h.Set("Content-Security-Policy", policy)
	}
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "strict-origin-when-cross-origin")
}

// SecurityHeaders sets the security headers before next runs, so no answer
// can miss them: redirects (302, and a router's 301 to a cleaned path), 405,
// 429, health checks and errors get them as the pages do. It is their one
// home: no handler sets them again. Pages under formPaths (path prefixes,
// "/admin/") may post forms to this origin; no other page may post any.
func SecurityHeaders(next http.Handler, formPaths ...string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		forms := false
		for _, p := range formPaths {
			if r.URL.Path == strings.TrimSuffix(p, "/") || strings.HasPrefix(r.URL.Path, p) {
				forms = true
			}
		}
		setSecurityHeaders(w.Header(), forms)
		next.ServeHTTP(w, r)
	})
}
