package shard

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"
)

// flipLock is a lock whose holding the test decides.
type flipLock struct {
	held     atomic.Bool
	fail     atomic.Bool
	released atomic.Int32
}

func (l *flipLock) HoldLock(context.Context, string) (bool, error) {
	if l.fail.Load() {
		return false, errors.New("database gone")
	}
	return l.held.Load(), nil
}
func (l *flipLock) ReleaseLock(string) { l.released.Add(1) }

// TestJobsRunOnlyWhileHeld: the singleton jobs start when the lock is
// taken, stop when it is lost or cannot be checked, start again when it is
// back, and the lock is released at shutdown.
func TestJobsRunOnlyWhileHeld(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		lock := &flipLock{}
		var mu sync.Mutex
		running, starts := false, 0
		start := func(ctx context.Context) func() {
			mu.Lock()
			running, starts = true, starts+1
			mu.Unlock()
			done := make(chan struct{})
			go func() {
				<-ctx.Done()
				mu.Lock()
				running = false
				mu.Unlock()
				close(done)
			}()
			return func() { <-done }
		}
		const retry = time.Millisecond
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error)
		go func() {
			done <- RunWhileHolding(ctx, lock, "jobs", retry, start, slog.New(slog.NewTextHandler(io.Discard, nil)))
		}()
		// after lets tries pass in the bubble's time, waits until all they
		// started has settled, and checks the jobs then: no polling.
		after := func(tries int, what string, want bool, wantStarts int) {
			t.Helper()
			time.Sleep(time.Duration(tries) * retry) // the bubble's clock
			synctest.Wait()
			mu.Lock()
			r, s := running, starts
			mu.Unlock()
			if r != want || s != wantStarts {
				t.Fatalf("%s: running %v after %d starts; want %v after %d", what, r, s, want, wantStarts)
			}
		}
		after(20, "another replica holds the lock", false, 0)
		lock.held.Store(true)
		after(2, "the lock taken", true, 1)
		lock.held.Store(false) // our connection died: another replica took it
		after(2, "the lock lost", false, 1)
		lock.held.Store(true)
		after(2, "the lock taken again", true, 2)
		lock.fail.Store(true)
		after(2, "the lock cannot be checked", false, 2)
		lock.fail.Store(false)
		after(2, "the lock checked again", true, 3)
		cancel()
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		mu.Lock()
		r := running
		mu.Unlock()
		if r || lock.released.Load() != 1 {
			t.Errorf("after shutdown: jobs running %v, lock released %d times", r, lock.released.Load())
		}
	})
}
