package storage_test

import (
	"context"
	"log/slog"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"linkwatch/storage"
)

// jobRecorder is a JobStore that records when each job ran.
type jobRecorder struct {
	mu      sync.Mutex
	rollups []time.Time
	prunes  []time.Time
	keep    storage.Retention
}

func (j *jobRecorder) RollUp(context.Context) error {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.rollups = append(j.rollups, time.Now())
	return nil
}

func (j *jobRecorder) Prune(_ context.Context, keep storage.Retention) (int64, error) {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.prunes = append(j.prunes, time.Now())
	j.keep = keep
	return 0, nil
}

// A replica restarted more often than hourly (a deploy every 50 minutes)
// must still prune: retention runs as soon as the jobs start, then every
// ten minutes, with the retention it was given.
func TestRetentionRunsAtOnceThenEveryTenMinutes(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		start := time.Now()
		keep := storage.Retention{Raw: time.Hour, Minute: 2 * time.Hour, Hour: 24 * time.Hour}
		jobs := &jobRecorder{}
		c := storage.PeriodicJobs(t.Context(), jobs, keep, slog.New(slog.DiscardHandler))
		c.Start()
		time.Sleep(25 * time.Minute)
		<-c.Stop().Done()

		jobs.mu.Lock()
		defer jobs.mu.Unlock()
		var prunedAt []time.Duration
		for _, at := range jobs.prunes {
			prunedAt = append(prunedAt, at.Sub(start))
		}
		want := []time.Duration{0, 10 * time.Minute, 20 * time.Minute}
		if len(prunedAt) != len(want) {
			t.Fatalf("retention ran at %v after the start, want %v", prunedAt, want)
		}
		for i := range want {
			if prunedAt[i] != want[i] {
				t.Fatalf("retention ran at %v after the start, want %v", prunedAt, want)
			}
		}
		if jobs.keep != keep {
			t.Errorf("retention pruned with %+v, want %+v", jobs.keep, keep)
		}
		if len(jobs.rollups) != 25 {
			t.Errorf("rollups ran %d times in 25 minutes, want one a minute (25)", len(jobs.rollups))
		}
	})
}
