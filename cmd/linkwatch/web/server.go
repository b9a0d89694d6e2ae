// Package web is the HTTP front of linkwatch serve: the server's timeouts
// and header cap, serving until shutdown and draining, the health
// endpoints, and the routing between the hub and everything else.
package web

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"sync/atomic"
	"time"
)

// drainTimeout bounds how long the server drains its requests at shutdown.
const drainTimeout = 10 * time.Second

// serverTimeouts bound how long a client may hold a connection: a slow or
// idle client cannot pin connections (slowloris). Tests shorten them.
var serverTimeouts = struct{ readHeader, read, write, idle time.Duration }{
	readHeader: 5 * time.Second, read: 15 * time.Second, write: 30 * time.Second, idle: 90 * time.Second,
}

// maxHeaderBytes bounds request headers; bodies are bounded where they are read.
const maxHeaderBytes = 64 << 10

// NewServer returns an HTTP server for h with the timeouts and header cap
// every public server needs.
func NewServer(h http.Handler, log *slog.Logger) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: serverTimeouts.readHeader,
		ReadTimeout:       serverTimeouts.read,
		WriteTimeout:      serverTimeouts.write,
		IdleTimeout:       serverTimeouts.idle,
		MaxHeaderBytes:    maxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
}

// Serve serves srv on ln until ctx ends, then drains it: requests in
// flight finish (within drainTimeout), new connections are refused. It
// says where it listens on stdout once it serves, as scripts and tests
// wait for that line.
func Serve(ctx context.Context, srv *http.Server, ln net.Listener, stdout io.Writer, log *slog.Logger) error {
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	fmt.Fprintf(stdout, "linkwatch listening on http://%s\n", ln.Addr())
	select {
	case err := <-served:
		return err
	case <-ctx.Done():
	}
	drainCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), drainTimeout)
	defer cancel()
	if err := srv.Shutdown(drainCtx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		log.Error("http shutdown", "err", err)
	}
	<-served // Serve returns at once when Shutdown begins
	return nil
}

// Switch is a handler that passes each request to the handler Set gave it
// last: serve answers visitors from the moment it listens, and switches
// to the handlers that need the database once it is reached.
type Switch struct {
	h atomic.Pointer[http.Handler]
}

// NewSwitch returns a Switch serving h.
func NewSwitch(h http.Handler) *Switch {
	s := new(Switch)
	s.Set(h)
	return s
}

// Set makes h serve every later request.
func (s *Switch) Set(h http.Handler) { s.h.Store(&h) }

func (s *Switch) ServeHTTP(w http.ResponseWriter, r *http.Request) { (*s.h.Load()).ServeHTTP(w, r) }
