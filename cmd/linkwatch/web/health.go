package web

import (
	"context"
	"errors"
	"io"
	"net/http"
	"time"

	"github.com/gorilla/mux"
)

// Readier says whether the service can do its work (/readyz).
type Readier interface {
	Ready(ctx context.Context) error
}

// ErrStopping is a Readier's answer once the process is shutting down:
// /readyz fails for that reason, not the storage's.
var ErrStopping = errors.New("shutting down")

// Health answers the orchestrator's probes: /healthz (the process
// answers) and /readyz (Ready, waited for at most Timeout).
type Health struct {
	Ready   Readier
	Timeout time.Duration
}

// routes are the probes' paths and handlers. The front handler lets them
// past the rate limit: probes from the orchestrator are never limited.
func (h Health) routes() map[string]http.HandlerFunc {
	return map[string]http.HandlerFunc{"/healthz": h.healthz, "/readyz": h.readyz}
}

func (h Health) register(r *mux.Router) {
	for path, fn := range h.routes() {
		r.HandleFunc(path, fn)
	}
}

func (h Health) healthz(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	_, _ = io.WriteString(w, "ok\n")
}

func (h Health) readyz(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), h.Timeout)
	defer cancel()
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	if err := h.Ready.Ready(ctx); err != nil {
		w.WriteHeader(http.StatusServiceUnavailable)
		if errors.Is(err, ErrStopping) {
			_, _ = io.WriteString(w, "shutting down\n")
			return
		}
		_, _ = io.WriteString(w, "storage unavailable\n")
		return
	}
	_, _ = io.WriteString(w, "ok\n")
}

// Starting is the handler while serve waits for its database: the
// probes' routes of the table, and 503 to everything else.
func Starting(h Health) http.Handler {
	r := mux.NewRouter()
	h.register(r)
	r.NotFoundHandler = http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Retry-After", "5")
		http.Error(w, "starting: waiting for the database", http.StatusServiceUnavailable)
	})
	return r
}
