package web

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"time"
)

// Waiting is the readiness of a process still waiting for its database.
type Waiting struct {
	mu  sync.Mutex
	err error
}

// Set records why the database does not answer yet.
func (w *Waiting) Set(err error) { w.mu.Lock(); w.err = err; w.mu.Unlock() }

// Ready is never nil: the database has not answered yet.
func (w *Waiting) Ready(context.Context) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return fmt.Errorf("waiting for the database: %w", w.err)
}

// ServeWhileWaiting answers health probes on ln until stop is called, and
// 503 to everything else. stop hands ln back open, for the real server.
func ServeWhileWaiting(ln net.Listener, ready Readier, timeout time.Duration, log *slog.Logger) (stop func()) {
	tl, ok := ln.(*net.TCPListener)
	if !ok {
		return func() {}
	}
	srv := NewServer(Starting(Health{Ready: ready, Timeout: timeout}), log)
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = srv.Serve(handoffListener{tl})
	}()
	return func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
		<-done
		_ = tl.SetDeadline(time.Time{})
	}
}

// handoffListener is a listener the waiting server can "close" without
// closing it: Close makes the pending Accept return (a deadline in the
// past), and the socket stays open for the server that follows, so no
// connection is refused in between.
type handoffListener struct{ *net.TCPListener }

func (l handoffListener) Close() error { return l.SetDeadline(time.Unix(1, 0)) }
