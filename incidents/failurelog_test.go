package incidents_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
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
func (fullDisk) RecentChecks(context.Context, []string, time.Time, int) (map[string][]linkwatch.Result, error) {
	return nil, nil
}

type logBuffer struct {
	mu sync.Mutex
	sb strings.Builder
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.sb.String()
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.sb.Write(p)
}

// runLoggedEngine runs an engine that opens an incident at the first failure,
// over store, logging to out, until in is closed; done is closed when it
// has returned.
func runLoggedEngine(t *testing.T, store incidents.Store, out *logBuffer) (in chan<- linkwatch.Result, done <-chan struct{}) {
	t.Helper()
	eng, err := incidents.NewEngine(t.Context(), incidents.Config{FailureThreshold: 1}, store, deps, slog.New(slog.NewTextHandler(out, nil)))
	if err != nil {
		t.Fatal(err)
	}
	results, stopped := make(chan linkwatch.Result), make(chan struct{})
	go func() { eng.Run(t.Context(), results); close(stopped) }()
	return results, stopped
}

// A destination down for three minutes, checked every second, on a full
// disk: every result fails to open its incident, and the engine says so
// once a minute with a count, not 180 times; then once that it recovered.
func TestEngineLogsAFullDiskOncePerMinute(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		var out logBuffer
		in, done := runLoggedEngine(t, fullDisk{}, &out)
		for range 180 {
			in <- linkwatch.Result{TargetID: shopA, Kind: linkwatch.TargetDestination, URL: shopA, Start: time.Now(), Status: linkwatch.StatusDown, Cause: linkwatch.CauseHTTP5xx}
			synctest.Wait()         // handled: the engine waits for the next result
			time.Sleep(time.Second) // the bubble's clock
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

// freedDisk is a full disk until freed: then it takes every incident
// write.
type freedDisk struct {
	fullDisk
	freed *atomic.Bool
}

func (d freedDisk) Record(ctx context.Context, c incidents.Change) (linkwatch.Incident, error) {
	if !d.freed.Load() {
		return d.fullDisk.Record(ctx, c)
	}
	c.Incident.ID = 1
	return c.Incident, nil
}

// The unlucky order of the same full disk: another link answering between
// the failures of the one that cannot open its incident. Its results
// write nothing, so they prove nothing about the disk: they must neither
// say it recovered nor start the count again, or every failure is logged.
// The disk freed, the failing link's next result opens its incident, and
// one line says so.
func TestEngineFullDiskNotRecoveredByResultsThatWriteNothing(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		var out logBuffer
		var freed atomic.Bool
		in, done := runLoggedEngine(t, freedDisk{freed: &freed}, &out)
		for range 180 {
			in <- linkwatch.Result{TargetID: shopA, Kind: linkwatch.TargetDestination, URL: shopA, Start: time.Now(), Status: linkwatch.StatusDown, Cause: linkwatch.CauseHTTP5xx}
			in <- linkwatch.Result{TargetID: blog, Kind: linkwatch.TargetDestination, URL: blog, Start: time.Now(), Status: linkwatch.StatusUp}
			synctest.Wait()
			time.Sleep(time.Second) // the bubble's clock
		}
		synctest.Wait()
		log := out.String()
		if n := strings.Count(log, `msg="incident engine"`); n != 3 {
			t.Errorf("the failing write logged %d times in 3 minutes, want 3", n)
		}
		if n := strings.Count(log, `msg="incident engine: recovered"`); n != 0 {
			t.Errorf("%d lines say the engine recovered while every write failed", n)
		}
		freed.Store(true)
		in <- linkwatch.Result{TargetID: shopA, Kind: linkwatch.TargetDestination, URL: shopA, Start: time.Now(), Status: linkwatch.StatusDown, Cause: linkwatch.CauseHTTP5xx}
		close(in)
		<-done
		if log := out.String(); strings.Count(log, `msg="incident engine: recovered"`) != 1 || !strings.Contains(log, "repeated=59") {
			t.Errorf("the disk freed, want one line saying so, with the failures left unwritten:\n%s", log)
		}
	})
}

// maintenanceUnread takes every incident write but cannot read the
// maintenance windows, as during a database outage that reads fail
// first; it counts the openings written with their alert.
type maintenanceUnread struct {
	fullDisk
	mu     sync.Mutex
	alerts int
}

func (s *maintenanceUnread) Record(_ context.Context, c incidents.Change) (linkwatch.Incident, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if c.Alert != nil && c.Alert.Type == linkwatch.AlertOpened {
		s.alerts++
	}
	c.Incident.ID = int64(s.alerts) + 1
	return c.Incident, nil
}

func (*maintenanceUnread) ActiveMaintenance(context.Context, time.Time) ([]linkwatch.Maintenance, error) {
	return nil, errors.New("failed to connect: connection refused")
}

// Thirty destinations on thirty hosts fail within a minute while the
// maintenance windows cannot be read: every opening is alerted (an alert
// during maintenance beats a missed outage), and the failed read is
// logged once, not once per alert.
func TestUnreadMaintenanceLoggedOncePerMinute(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		var out logBuffer
		store := &maintenanceUnread{}
		in, done := runLoggedEngine(t, store, &out)
		for i := range 30 {
			u := fmt.Sprintf("https://h%d.example/", i)
			in <- linkwatch.Result{TargetID: u, Kind: linkwatch.TargetDestination, URL: u, Start: time.Now(), Status: linkwatch.StatusDown, Cause: linkwatch.CauseHTTP5xx}
			synctest.Wait()
			time.Sleep(time.Second) // the bubble's clock
		}
		close(in)
		<-done
		if store.alerts != 30 {
			t.Errorf("%d openings alerted, want 30: an unread maintenance window mutes nothing", store.alerts)
		}
		if n := strings.Count(out.String(), "read maintenance windows"); n != 1 {
			t.Errorf("the failed read logged %d times in 30 s, want once:\n%s", n, out.String())
		}
	})
}
