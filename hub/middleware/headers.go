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
// strict Content-Security-Policy (pages load only their own stylesheet and
// inline images, and post forms only where they have some), no MIME
// sniffing, and a referrer that leaks no path to other origins.
//
// The names are canonical and the values made once, assigned rather than
// Set: Set canonicalizes each name and allocates each value on every
// request, a quarter of a redirect's CPU in serve's handler chain
// (BENCHMARKS.md). net/http only reads them; each value has length and
// capacity one, so a later Add copies rather than writes into it.
func setSecurityHeaders(h http.Header, forms bool) {
	for _, sh := range securityHeaders {
		h[sh.name] = sh.value
	}
	if forms {
		h["Content-Security-Policy"] = formCSP
	}
}

var (
	formCSP         = []string{formPolicy}
	securityHeaders = [...]struct {
		name  string
		value []string
	}{
		{"Content-Security-Policy", []string{policy}},
		{"X-Content-Type-Options", []string{"nosniff"}},
		{"Referrer-Policy", []string{"strict-origin-when-cross-origin"}},
	}
)

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
