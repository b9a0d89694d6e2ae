package middleware

import "net/http"

// setSecurityHeaders sets the headers promised on every public answer: a
// strict Content-Security-Policy (pages load only their own stylesheet and
// inline images, and post forms only to this origin: the status pages'
// email subscription), no MIME sniffing, and a referrer that leaks no path to
// other origins.
func setSecurityHeaders(h http.Header) {
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "strict-origin-when-cross-origin")
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
