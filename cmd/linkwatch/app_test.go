package main

import (
	"context"
	"errors"
	"log/slog"
	"slices"
	"sync"
	"testing"
	"time"
)

// Stages start in order and stop in reverse, each only after every later
// one has returned; a failing stage stops the app, and every stage's error
// comes back.
func TestAppStopsStagesInReverse(t *testing.T) {
	var mu sync.Mutex
	var stopped []string
	a := &app{log: slog.New(slog.DiscardHandler)}
	var closed []string
	for _, name := range []string{"first", "second", "third"} {
		a.add(name, func(ctx context.Context) error {
			<-ctx.Done()
			time.Sleep(10 * time.Millisecond) // a slow stop: the next must wait for it
			mu.Lock()
			stopped = append(stopped, name)
			mu.Unlock()
			if name == "first" {
				return errors.New("last flush failed")
			}
			return nil
		})
		a.onClose(func() { closed = append(closed, name) })
	}
	boom := errors.New("listener broke")
	a.add("failing", func(ctx context.Context) error { return boom })

	done := make(chan error, 1)
	go func() { done <- a.run(t.Context()) }()
	var err error
	select {
	case err = <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("a failing stage did not stop the app")
	}
	a.close()
	if want := []string{"third", "second", "first"}; !slices.Equal(stopped, want) {
		t.Errorf("stopped %v, want %v", stopped, want)
	}
	if want := []string{"third", "second", "first"}; !slices.Equal(closed, want) {
		t.Errorf("closed %v, want %v", closed, want)
	}
	if !errors.Is(err, boom) || err.Error() != "failing: listener broke\nfirst: last flush failed" {
		t.Errorf("err = %q, want both stages' errors, the failing one first", err)
	}
}

// Ending the app's context stops every stage, none before its turn.
func TestAppStopsWhenItsContextEnds(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	a := &app{log: slog.New(slog.DiscardHandler)}
	consumerDone := make(chan struct{})
	var producerStoppedFirst bool
	a.add("consumer", func(sctx context.Context) error {
		defer close(consumerDone)
		<-sctx.Done()
		return nil
	})
	a.add("producer", func(sctx context.Context) error {
		<-sctx.Done()
		select {
		case <-consumerDone:
		default:
			producerStoppedFirst = true
		}
		return nil
	})
	done := make(chan error, 1)
	go func() { done <- a.run(ctx) }()
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if !producerStoppedFirst {
		t.Error("the consumer stopped before the producer feeding it")
	}
}
