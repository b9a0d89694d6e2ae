package web

import (
	"net/http"
	"strings"

	"github.com/gorilla/mux"

	"linkwatch/hub"
	"linkwatch/incidents/admin"
	"linkwatch/statuspage"
)

// HubFirst sends hub paths (pages, short links, the stylesheet) straight to
// the hub, skipping the router's pattern matching: the redirect is the hot
// path. Everything under the server's own prefixes goes to the router.
func HubFirst(hubServer, router http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if isHubPath(r.URL.Path) {
			hubServer.ServeHTTP(w, r)
			return
		}
		router.ServeHTTP(w, r)
	})
}

// isHubPath reports whether p belongs to the hub rather than to the status
// page, its APIs, badges or QR codes.
func isHubPath(p string) bool {
	rest := strings.TrimPrefix(p, "/")
	first, _, _ := strings.Cut(rest, "/")
	switch first {
	case "status", "api", "badge", "history.atom", "history.rss":
		return false
	}
	return !strings.HasSuffix(p, "/qr.svg") && !strings.HasSuffix(p, "/qr.png")
}

// NewRouter routes the admin API and the status page, and hands every other
// path to the hub (which answers 404 for what it does not know).
func NewRouter(hubServer *hub.Server, adminAPI *admin.API, status *statuspage.Server) http.Handler {
	r := mux.NewRouter()
	adminAPI.Register(r)
	status.Register(r)
	r.NotFoundHandler = hubServer
	r.MethodNotAllowedHandler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
	})
	return r
}
