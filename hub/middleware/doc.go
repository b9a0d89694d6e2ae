// Package middleware holds the HTTP guards every public answer of linkwatch
// passes through, whichever package serves it: the security headers, who the
// client is (behind trusted reverse proxies) and the per-client rate limit.
// One home, so the hub, the status page and the server in front of them
// cannot drift apart.
package middleware
