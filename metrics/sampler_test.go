package metrics_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"linkwatch"
	"linkwatch/metrics"
)

// store is a metrics.Store whose answers a test sets.
type store struct {
	mu      sync.Mutex
	open    []linkwatch.Incident
	backlog linkwatch.Backlog
	err     error
	hang    bool // block until the context ends
	reads   int
}

func (s *store) answer(ctx context.Context) error {
	s.mu.Lock()
	s.reads++
	hang, err := s.hang, s.err
	s.mu.Unlock()
	if hang {
		<-ctx.Done()
		return ctx.Err()
	}
	return err
}

func (s *store) OpenIncidents(ctx context.Context) ([]linkwatch.Incident, error) {
	if err := s.answer(ctx); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.open, nil
}

func (s *store) OutboxBacklog(ctx context.Context) (linkwatch.Backlog, error) {
	if err := s.answer(ctx); err != nil {
		return linkwatch.Backlog{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.backlog, nil
}

func (s *store) set(f func(*store)) { s.mu.Lock(); f(s); s.mu.Unlock() }

func incident(kind linkwatch.IncidentKind, impact linkwatch.Impact) linkwatch.Incident {
	return linkwatch.Incident{Kind: kind, Impact: impact}
}

var (
	destMajor = metrics.IncidentClass{Kind: linkwatch.KindDestination, Impact: linkwatch.ImpactMajor}
	hubCrit   = metrics.IncidentClass{Kind: linkwatch.KindHub, Impact: linkwatch.ImpactCritical}
)

// A sample counts the open incidents by class, and keeps a class seen
// before at 0 once its incidents are resolved: a series that drops to 0
// rather than vanishing.
func TestSamplerCountsOpenIncidentsByClass(t *testing.T) {
	st := &store{open: []linkwatch.Incident{
		incident(linkwatch.KindDestination, linkwatch.ImpactMajor),
		incident(linkwatch.KindDestination, linkwatch.ImpactMajor),
		incident(linkwatch.KindHub, linkwatch.ImpactCritical),
	}, backlog: linkwatch.Backlog{Pending: 4, Oldest: time.Unix(1000, 0)}}
	s := metrics.NewSampler(st, metrics.SamplerOptions{})
	if got := s.Last(); !got.At.IsZero() || got.Open != nil || got.BacklogOK {
		t.Fatalf("before the first sample: %+v, want the zero Sample", got)
	}
	s.Sample(t.Context())
	got := s.Last()
	if got.At.IsZero() || got.Storage != nil || len(got.Open) != 2 || got.Open[destMajor] != 2 || got.Open[hubCrit] != 1 {
		t.Errorf("sample = %+v, want 2 destination/major and 1 hub/critical, storage up", got)
	}
	if !got.BacklogOK || got.Backlog.Pending != 4 {
		t.Errorf("backlog = %+v (read: %t), want 4 pending", got.Backlog, got.BacklogOK)
	}
	st.set(func(s *store) { s.open = s.open[2:] })
	s.Sample(t.Context())
	if got := s.Last().Open; len(got) != 2 || got[destMajor] != 0 || got[hubCrit] != 1 {
		t.Errorf("after two were resolved: %v, want destination/major at 0 and hub/critical at 1", got)
	}
}

// What storage could not give is unknown in the sample, not the last
// value nor a zero; the health check's verdict is the sample's.
func TestSamplerOnAFailingStore(t *testing.T) {
	st := &store{open: []linkwatch.Incident{incident(linkwatch.KindDestination, linkwatch.ImpactMajor)}, backlog: linkwatch.Backlog{Pending: 1}}
	down := errors.New("connection refused")
	var health error
	s := metrics.NewSampler(st, metrics.SamplerOptions{Health: func(context.Context) error { return health }})
	s.Sample(t.Context())
	st.set(func(s *store) { s.err = down })
	health = down
	s.Sample(t.Context())
	got := s.Last()
	if got.Open != nil || got.BacklogOK || !errors.Is(got.Storage, down) {
		t.Errorf("sample on a failing store = %+v, want nothing read and storage down", got)
	}
	st.set(func(s *store) { s.err = nil })
	health = nil
	s.Sample(t.Context())
	if got := s.Last(); got.Open[destMajor] != 1 || !got.BacklogOK || got.Storage != nil {
		t.Errorf("sample once the store answers = %+v", got)
	}
}

// Before storage is readable (serve has not migrated it yet), and while
// the health check fails, a sample is the health check's verdict alone:
// no read of a table that may not exist, no error logged for an outage
// the verdict already reports.
func TestSamplerReadsOnlyReadableHealthyStorage(t *testing.T) {
	st := &store{open: []linkwatch.Incident{incident(linkwatch.KindDestination, linkwatch.ImpactMajor)}}
	readable := make(chan struct{})
	var health error
	s := metrics.NewSampler(st, metrics.SamplerOptions{Readable: readable, Health: func(context.Context) error { return health }})
	s.Sample(t.Context())
	if got := s.Last(); got.At.IsZero() || got.Storage != nil || got.Open != nil || got.BacklogOK || st.reads != 0 {
		t.Errorf("before storage is readable: %+v after %d reads, want storage up, nothing read", got, st.reads)
	}
	close(readable)
	health = errors.New("connection refused")
	s.Sample(t.Context())
	if got := s.Last(); got.Storage == nil || got.Open != nil || st.reads != 0 {
		t.Errorf("with health failing: %+v after %d reads, want storage down, nothing read", got, st.reads)
	}
	health = nil
	s.Sample(t.Context())
	if got := s.Last(); got.Open[destMajor] != 1 || !got.BacklogOK || st.reads != 2 {
		t.Errorf("readable and healthy: %+v after %d reads, want both read", got, st.reads)
	}
}

// A database that does not answer costs a sample its timeout, no more:
// the sample ends, with nothing read.
func TestSamplerTimesOut(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		st := &store{hang: true}
		s := metrics.NewSampler(st, metrics.SamplerOptions{Timeout: 3 * time.Second,
			Health: func(ctx context.Context) error { <-ctx.Done(); return ctx.Err() }})
		start := time.Now()
		s.Sample(t.Context())
		if took := time.Since(start); took != 3*time.Second {
			t.Errorf("sample took %s, want the 3s timeout", took)
		}
		if got := s.Last(); got.Storage == nil || got.Open != nil || got.BacklogOK {
			t.Errorf("sample = %+v, want storage down and nothing read", got)
		}
	})
}

// Run samples at once, then every period.
func TestSamplerRun(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		st := &store{}
		s := metrics.NewSampler(st, metrics.SamplerOptions{})
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan struct{})
		go func() { s.Run(ctx, 10*time.Second); close(done) }()
		synctest.Wait()
		first := s.Last().At
		if first.IsZero() {
			t.Fatal("no sample at the start")
		}
		time.Sleep(10 * time.Second) // the bubble's clock
		synctest.Wait()
		if got := s.Last().At; got.Sub(first) != 10*time.Second {
			t.Errorf("second sample at +%s, want +10s", got.Sub(first))
		}
		cancel()
		<-done
	})
}

func TestOldestPendingAge(t *testing.T) {
	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name string
		s    metrics.Sample
		want time.Duration
	}{
		{"none pending", metrics.Sample{BacklogOK: true}, 0},
		{"unread", metrics.Sample{Backlog: linkwatch.Backlog{Pending: 1, Oldest: now.Add(-time.Hour)}}, 0},
		{"waiting", metrics.Sample{BacklogOK: true, Backlog: linkwatch.Backlog{Pending: 1, Oldest: now.Add(-90 * time.Second)}}, 90 * time.Second},
		{"made after now (another clock)", metrics.Sample{BacklogOK: true, Backlog: linkwatch.Backlog{Pending: 1, Oldest: now.Add(time.Second)}}, 0},
	} {
		if got := tc.s.OldestPendingAge(now); got != tc.want {
			t.Errorf("%s: age = %s, want %s", tc.name, got, tc.want)
		}
	}
}

// Recorders tells every recorder of each event.
func TestRecorders(t *testing.T) {
	var a, b counting
	rs := metrics.Recorders{&a, &b}
	rs.Result(linkwatch.Result{})
	rs.Delivery("slack", linkwatch.DeliverySent)
	if a != (counting{1, 1}) || b != (counting{1, 1}) {
		t.Errorf("told %+v and %+v, want each of one result and one delivery", a, b)
	}
}

type counting struct{ results, deliveries int }

func (c *counting) Result(linkwatch.Result)                   { c.results++ }
func (c *counting) Delivery(string, linkwatch.DeliveryStatus) { c.deliveries++ }
