package web

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"linkwatch/storage"
)

// StorageStore is what StorageHealth needs from storage.
type StorageStore interface {
	Ping(ctx context.Context) error
	WriteProbe(ctx context.Context) error
	LastWriteFault() storage.WriteFault
}

// ProbeEvery bounds how often a check writes: /readyz/storage is not rate
// limited, and a flood of it must not become a flood of commits.
const ProbeEvery = time.Second

// StorageError says why storage cannot commit a write: Reason in words
// fit for the public (/readyz/storage), Err with the database's own (for
// the log and the alerts).
type StorageError struct {
	Reason string
	Err    error
}

func (e *StorageError) Error() string {
	if e.Err == nil {
		return e.Reason
	}
	return e.Reason + ": " + e.Err.Error()
}

func (e *StorageError) Unwrap() error { return e.Err }

// StorageHealth says whether the writer can commit (/readyz/storage, the
// metrics, the database outage alert). SELECT 1 touches no file, so it
// stays green on a read-only file, a held write lock or a full disk; a
// check also needs a write probe that commits, and no write refused
// within the last window (the result writer and the dispatcher write
// every second). One check of the database (SELECT 1, then the probe)
// runs at a time, and its verdict serves every caller for ProbeEvery: the
// endpoint is public and not rate limited, and a flood of it reaches the
// database once a second.
type StorageHealth struct {
	store    StorageStore
	window   time.Duration   // a refused write this recent means not healthy
	migrated <-chan struct{} // closed once the schema is made; nil: it is
	now      func() time.Time

	mu       sync.Mutex
	probing  chan struct{} // closed when the running probe ends; nil when none runs
	probedAt time.Time
	probeErr error
	state    StorageState
}

// StorageState is storage's health as last checked.
type StorageState struct {
	Up bool
	// Since is when it became up or down (zero: never checked).
	Since time.Time
	// Err is why it is down (nil while up).
	Err error
}

// NewStorageHealth returns the health of store: not healthy while a
// write was refused within window, nor before migrated is closed (nil:
// the schema is there already, as SQLite's is once it opens).
func NewStorageHealth(store StorageStore, window time.Duration, migrated <-chan struct{}) *StorageHealth {
	return &StorageHealth{store: store, window: window, migrated: migrated, now: time.Now}
}

// State returns the verdict of the last check. Until the first one,
// storage is down (Since zero): nothing says it can write yet.
func (h *StorageHealth) State() StorageState {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.state
}

// Up reports whether the last check found storage able to write: the
// value of the storage metrics.
func (h *StorageHealth) Up() bool { return h.State().Up }

// Check checks storage now and returns why it cannot commit a write (a
// *StorageError), or nil.
func (h *StorageHealth) Check(ctx context.Context) error {
	err := h.check(ctx)
	h.mu.Lock()
	if up := err == nil; up != h.state.Up || h.state.Since.IsZero() {
		h.state.Up, h.state.Since = up, h.now()
	}
	h.state.Err = err
	h.mu.Unlock()
	return err
}

func (h *StorageHealth) check(ctx context.Context) error {
	h.mu.Lock()
	if h.probing == nil && (h.probedAt.IsZero() || h.now().Sub(h.probedAt) >= ProbeEvery) {
		done := make(chan struct{})
		h.probing = done
		// The probe outlives a caller that gives up: a held lock makes it
		// wait for SQLite's busy timeout, and the next caller shares it.
		go func() {
			pctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
			err := h.probe(pctx)
			cancel()
			h.mu.Lock()
			h.probeErr, h.probedAt, h.probing = err, h.now(), nil
			h.mu.Unlock()
			close(done)
		}()
	}
	wait := h.probing
	h.mu.Unlock()
	if wait != nil {
		select {
		case <-wait:
		case <-ctx.Done():
			return &StorageError{Reason: "the write probe did not commit in time (the database is locked, or does not answer)", Err: ctx.Err()}
		}
	}
	h.mu.Lock()
	err := h.probeErr
	h.mu.Unlock()
	var se *StorageError
	if errors.As(err, &se) && se.Reason == reasonNoAnswer {
		return err
	}
	if f := h.store.LastWriteFault(); f.Err != nil && h.now().Sub(f.At) < h.window {
		ago := h.now().Sub(f.At).Round(time.Second)
		return &StorageError{Reason: fmt.Sprintf("a write was refused %s ago", ago), Err: f.Err}
	}
	return err
}

// reasonNoAnswer is the reason of a database that does not answer a read.
const reasonNoAnswer = "the database does not answer"

// reasonMigrating is the reason of a database that answers, whose schema
// is not made yet: storage cannot write, but this is no outage.
const reasonMigrating = "the database answers; its schema is being made"

// migrating reports whether the schema is still being made.
func (h *StorageHealth) migrating() bool {
	if h.migrated == nil {
		return false
	}
	select {
	case <-h.migrated:
		return false
	default:
		return true
	}
}

// probe asks the database a read, then commits the write probe.
func (h *StorageHealth) probe(ctx context.Context) error {
	if err := h.store.Ping(ctx); err != nil {
		return &StorageError{Reason: reasonNoAnswer, Err: err}
	}
	if h.migrating() {
		// The probe's table may not exist yet: writing it would report
		// the migration as a failure, and alert an outage that is not.
		return &StorageError{Reason: reasonMigrating}
	}
	if err := h.store.WriteProbe(ctx); err != nil {
		return &StorageError{Reason: "the write probe failed", Err: err}
	}
	return nil
}

// Run checks storage every period until ctx ends, each check bounded by
// timeout, and passes each verdict to observe: storage is watched
// whether or not anyone asks /readyz/storage. A database that answers
// while its schema is being made is not observed: neither up nor an
// outage.
func (h *StorageHealth) Run(ctx context.Context, period, timeout time.Duration, observe func(ctx context.Context, err error)) {
	t := time.NewTicker(period)
	defer t.Stop()
	for {
		cctx, cancel := context.WithTimeout(ctx, timeout)
		err := h.Check(cctx)
		cancel()
		if ctx.Err() != nil {
			return
		}
		if se := (*StorageError)(nil); !errors.As(err, &se) || se.Reason != reasonMigrating {
			observe(ctx, err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
