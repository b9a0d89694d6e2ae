package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"golang.org/x/sync/errgroup"
)

// app is a long-running program made of stages: started in the order they
// were added, stopped in reverse, under the one context run is given. A
// stage is added after the stages it feeds, so at shutdown each one stops
// only once everything feeding it has stopped: nothing is left half-handled
// in a queue between two of them.
type app struct {
	log     *slog.Logger
	stages  []stage
	closers []func()
}

// stage is one component of an app. run does its work until ctx ends, then
// finishes what it holds and returns; an error ends the whole app.
type stage struct {
	name string
	run  func(ctx context.Context) error
}

// add appends a stage: it starts after the stages added before it and stops
// before them.
func (a *app) add(name string, run func(ctx context.Context) error) {
	a.stages = append(a.stages, stage{name: name, run: run})
}

// onClose registers what close releases once every stage has returned
// (the listener, the database, clients), in reverse order of registration.
func (a *app) onClose(fn func()) {
	a.closers = append(a.closers, fn)
}

// close releases what onClose registered. It is also how a failed start
// undoes what was opened.
func (a *app) close() {
	for i := len(a.closers) - 1; i >= 0; i-- {
		a.closers[i]()
	}
	a.closers = nil
}

// run starts every stage and waits until ctx ends or a stage fails. Then it
// stops the stages one at a time, the last added first: a stage's context
// is cancelled only after every later stage has returned. Stage contexts
// keep ctx's values but not its cancellation, so a stage is never stopped
// out of turn. run returns every stage's error, in the order they stopped.
func (a *app) run(ctx context.Context) error {
	g, failed := errgroup.WithContext(ctx)
	base := context.WithoutCancel(ctx)
	errs := make([]error, len(a.stages))
	stops := make([]func(), len(a.stages))
	for i, s := range a.stages {
		sctx, cancel := context.WithCancel(base)
		done := make(chan struct{})
		g.Go(func() error {
			defer close(done)
			if err := s.run(sctx); err != nil {
				errs[i] = fmt.Errorf("%s: %w", s.name, err)
			}
			return errs[i]
		})
		stops[i] = func() { cancel(); <-done }
	}
	<-failed.Done()
	if ctx.Err() != nil {
		a.log.Info("shutting down")
	}
	for i := len(stops) - 1; i >= 0; i-- {
		stops[i]()
	}
	_ = g.Wait() // every stage has returned; errs holds what each said
	slices.Reverse(errs)
	return errors.Join(errs...)
}

// every runs fn each period until ctx ends.
func every(ctx context.Context, period time.Duration, fn func()) {
	t := time.NewTicker(period)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			fn()
		}
	}
}
