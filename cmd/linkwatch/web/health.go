package web

import (
	"context"
	"errors"
	"io"
	"net/http"
	"time"
)

// Readier says whether the service can do its work (/readyz).
type Readier interface {
	Ready(ctx context.Context) error
}

// ErrStopping is a Readier's answer once the process is shutting down:
// /readyz fails for that reason, not the storage's.
var ErrStopping = errors.New("shutting down")

// Health answers /healthz and /readyz ahead of everything else, so
// probes from the orchestrator are never rate limited. A /readyz answer
// waits at most timeout for ready.
func Health(ready Readier, timeout time.Duration, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/healthz":
			w.Header().Set("Content-Type", "text/plain; charset=utf-8")
			_, _ = io.WriteString(w, "ok\n")
		case "/readyz":
			ctx, cancel := context.WithTimeout(r.Context(), timeout)
			defer cancel()
			w.Header().Set("Content-Type", "text/plain; charset=utf-8")
			if err := ready.Ready(ctx); err != nil {
				w.WriteHeader(http.StatusServiceUnavailable)
				if errors.Is(err, ErrStopping) {
					_, _ = io.WriteString(w, "shutting down\n")
					return
				}
				_, _ = io.WriteString(w, "storage unavailable\n")
				return
			}
			_, _ = io.WriteString(w, "ok\n")
		default:
			next.ServeHTTP(w, r)
		}
	})
}
