package middleware

import "net/http"

// setSecurityHeaders sets the headers promised on every public answer: a
// strict Content-Security-Policy (pages load only their own stylesheet and
// inline images), no MIME sniffing, and a referrer that leaks no path to
// other origins.
//
// The names are canonical and the values made once, assigned rather than
// Set: Set canonicalizes each name and allocates each value on every
// request, a quarter of a redirect's CPU in serve's handler chain
// (BENCHMARKS.md). net/http only reads them; each value has length and
// capacity one, so a later Add copies rather than writes into it.
func setSecurityHeaders(h http.Header) {
	for _, sh := range securityHeaders {
		h[sh.name] = sh.value
	}
}

var securityHeaders = [...]struct {
	name  string
	value []string
}{
	{"Content-Security-Policy", []string{"default-src 'none'; style-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"}},
	{"X-Content-Type-Options", []string{"nosniff"}},
	{"Referrer-Policy", []string{"strict-origin-when-cross-origin"}},
}

// SecurityHeaders sets the security headers before next runs, so no answer
// can miss them: redirects (302, and a router's 301 to a cleaned path), 405,
// 429, health checks and errors get them as the pages do. It is their one
// home: no handler sets them again.
func SecurityHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		setSecurityHeaders(w.Header())
		next.ServeHTTP(w, r)
	})
}
