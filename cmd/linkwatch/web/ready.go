package web

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"linkwatch/storage"
)

// ReadyStore is what readiness needs from storage.
type ReadyStore interface {
	Ping(ctx context.Context) error
	WriteProbe(ctx context.Context) error
	LastWriteFault() storage.WriteFault
}

// ProbeEvery bounds how often /readyz writes: the endpoint is not rate
// limited, and a flood of it must not become a flood of commits.
const ProbeEvery = time.Second

// Readiness answers /readyz: ready only while the writer can commit.
// SELECT 1 touches no file, so it stays green on a read-only file, a held
// write lock or a full disk; readiness also needs no write refused within
// the last window (the result writer and the dispatcher write every
// second), and a write probe that commits. One probe runs at a time; its
// verdict serves every caller for ProbeEvery.
type Readiness struct {
	store  ReadyStore
	window time.Duration // a refused write this recent means not ready
	now    func() time.Time

	stopping atomic.Bool // shutting down: out of the load balancer first

	mu       sync.Mutex
	probing  chan struct{} // closed when the running probe ends; nil when none runs
	probedAt time.Time
	probeErr error
}

// NewReadiness returns the readiness of store: not ready while a write
// was refused within window.
func NewReadiness(store ReadyStore, window time.Duration) *Readiness {
	return &Readiness{store: store, window: window, now: time.Now}
}

// Stop makes every later Ready fail: the process is shutting down.
func (rd *Readiness) Stop() { rd.stopping.Store(true) }

// Ready returns why storage is not ready, or nil.
func (rd *Readiness) Ready(ctx context.Context) error {
	if rd.stopping.Load() {
		return ErrStopping
	}
	return rd.Storage(ctx)
}

// Storage returns why storage cannot serve, or nil: Ready's verdict
// without the shutdown, which metrics report as storage's health.
func (rd *Readiness) Storage(ctx context.Context) error {
	if err := rd.store.Ping(ctx); err != nil {
		return err
	}
	if f := rd.store.LastWriteFault(); f.Err != nil && rd.now().Sub(f.At) < rd.window {
		return fmt.Errorf("a write failed %s ago: %w", rd.now().Sub(f.At).Round(time.Second), f.Err)
	}
	rd.mu.Lock()
	if rd.probing == nil && (rd.probedAt.IsZero() || rd.now().Sub(rd.probedAt) >= ProbeEvery) {
		done := make(chan struct{})
		rd.probing = done
		// The probe outlives a caller that gives up: a held lock makes it
		// wait for SQLite's busy timeout, and the next caller shares it.
		go func() {
			pctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
			err := rd.store.WriteProbe(pctx)
			cancel()
			rd.mu.Lock()
			rd.probeErr, rd.probedAt, rd.probing = err, rd.now(), nil
			rd.mu.Unlock()
			close(done)
		}()
	}
	wait := rd.probing
	rd.mu.Unlock()
	if wait != nil {
		select {
		case <-wait:
		case <-ctx.Done():
			return errors.New("the write probe did not commit in time (is the database locked?)")
		}
	}
	rd.mu.Lock()
	defer rd.mu.Unlock()
	return rd.probeErr
}
