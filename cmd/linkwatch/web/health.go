package web

import (
	"context"
	"errors"
	"io"
	"net/http"
	"time"

	"github.com/gorilla/mux"
)

// Readier says whether the server can take visitors (/readyz).
type Readier interface {
	Ready(ctx context.Context) error
}

// StorageChecker says whether storage can commit a write
// (/readyz/storage).
type StorageChecker interface {
	Check(ctx context.Context) error
}

// ErrStopping is a Readier's answer once the process is shutting down:
// /readyz fails for that reason.
var ErrStopping = errors.New("shutting down")

// Health answers the orchestrator's probes: /healthz (the process
// answers), /readyz (Ready: it serves visitors) and /readyz/storage
// (Storage: it can write), each waited for at most Timeout.
type Health struct {
	Ready   Readier
	Storage StorageChecker
	Timeout time.Duration
}

// routes are the probes' paths and handlers. The front handler lets them
// past the rate limit: probes from the orchestrator are never limited.
func (h Health) routes() map[string]http.HandlerFunc {
	return map[string]http.HandlerFunc{"/healthz": h.healthz, "/readyz": h.readyz, "/readyz/storage": h.storage}
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
	h.answer(w, r, h.Ready.Ready, "not ready")
}

// storage answers 503 with the reason (StorageError's, never the
// database's own words: they name hosts and files) while a write cannot
// commit.
func (h Health) storage(w http.ResponseWriter, r *http.Request) {
	h.answer(w, r, h.Storage.Check, "storage unavailable")
}

// answer writes "ok" if check passes within Timeout, else 503 and what
// failed, with why when the error says it for the public.
func (h Health) answer(w http.ResponseWriter, r *http.Request, check func(context.Context) error, what string) {
	ctx, cancel := context.WithTimeout(r.Context(), h.Timeout)
	defer cancel()
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	err := check(ctx)
	if err == nil {
		_, _ = io.WriteString(w, "ok\n")
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusServiceUnavailable)
	var se *StorageError
	switch {
	case errors.Is(err, ErrStopping):
		_, _ = io.WriteString(w, "shutting down\n")
	case errors.As(err, &se):
		_, _ = io.WriteString(w, what+": "+se.Reason+"\n")
	default:
		_, _ = io.WriteString(w, what+"\n")
	}
}
