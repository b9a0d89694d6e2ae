package incidents_test

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"linkwatch"
	"linkwatch/incidents"
)

// fullDisk refuses every incident write, as a full disk does; it reads
// nothing.
type fullDisk struct{ incidents.Store }

func (fullDisk) Record(context.Context, incidents.Change) (linkwatch.Incident, error) {
	return linkwatch.Incident{}, errors.New("database or disk is full")
}
func (fullDisk) ActiveMaintenance(context.Context, time.Time) ([]linkwatch.Maintenance, error) {
	return nil, nil
}
func (fullDisk) OpenIncidents(context.Context) ([]linkwatch.Incident, error) { return nil, nil }
func (fullDisk) Recoveries(context.Context, time.Time) (map[string][]time.Time, error) {
	return nil, nil
}

type logBuffer struct {
	mu sync.Mutex
	sb strings.Builder
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.sb.Write(p)
}

// A destination down for three minutes, checked every second, on a full
// disk: every result fails to open its incident, and the engine says so
// once a minute with a count, not 180 times; then once that it recovered.
func TestEngineLogsAFullDiskOncePerMinute(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var out logBuffer
		eng, err := incidents.NewEngine(t.Context(), incidents.Config{FailureThreshold: 1, GroupInterval: -1}, fullDisk{}, deps,
			slog.New(slog.NewTextHandler(&out, nil)))
		if err != nil {
			t.Fatal(err)
		}
		in := make(chan linkwatch.Result)
		done := make(chan struct{})
		go func() { eng.Run(t.Context(), in); close(done) }()
		for range 180 {
			in <- linkwatch.Result{TargetID: shopA, Kind: linkwatch.TargetDestination, URL: shopA, Start: time.Now(), Status: linkwatch.StatusDown, Cause: linkwatch.CauseHTTP5xx}
			synctest.Wait() // handled: the engine waits for the next result
			time.Sleep(time.Second)
		}
		close(in)
		<-done
		log := out.sb.String()
		if n := strings.Count(log, `msg="incident engine"`); n != 3 {
			t.Errorf("the failing write logged %d times in 3 minutes, want 3:\n%s", n, log)
		}
		if !strings.Contains(log, "repeated=59 in_last=1m0s") {
			t.Errorf("no line counts the failures it stands for:\n%s", log)
		}
	})
}
