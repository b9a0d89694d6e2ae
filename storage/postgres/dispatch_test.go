package postgres_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"linkwatch"
	"linkwatch/alerting"
	"linkwatch/incidents"
	"linkwatch/storage/postgres"
	"linkwatch/storage/postgres/pgtest"
)

// recordingSink takes every alert and remembers the order it got them in.
type recordingSink struct {
	mu  sync.Mutex
	got []linkwatch.Alert
}

func (s *recordingSink) Name() string { return "hook" }

func (s *recordingSink) Send(_ context.Context, d alerting.Delivery) error {
	time.Sleep(time.Millisecond) // a receiver takes some time: the dispatchers interleave
	s.mu.Lock()
	defer s.mu.Unlock()
	s.got = append(s.got, d.Alert)
	return nil
}

// dying wraps a sink: after the send that crash picks, it cancels the
// dispatcher's context (the process is killed before recording it).
type dying struct {
	*recordingSink
	crashOn func(linkwatch.Alert) bool
	kill    context.CancelFunc
}

func (s dying) Send(ctx context.Context, d alerting.Delivery) error {
	err := s.recordingSink.Send(ctx, d)
	if s.crashOn(d.Alert) {
		s.kill()
	}
	return err
}

// TestTwoDispatchersSendEachAlertOnce: two replicas drain one outbox at
// once. Every alert reaches the receiver exactly once, each incident's in
// the order they were made; a replica killed mid-batch leaves its claims,
// which expire, and the other sends them (the same event id again, never
// an alert lost).
func TestTwoDispatchersSendEachAlertOnce(t *testing.T) {
	t.Parallel()
	dsn := pgtest.DSN(t)
	ctx := context.Background()
	var clkMu sync.Mutex
	now := time.Now().UTC()
	clock := func() time.Time { clkMu.Lock(); defer clkMu.Unlock(); return now }
	var dbs [2]*postgres.DB
	for i := range dbs {
		db, err := postgres.Open(ctx, dsn)
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		db.SetClock(clock)
		dbs[i] = db
	}
	const incidentsN, perIncident = 12, 4
	var want []string // every event id
	for i := range incidentsN {
		inc := linkwatch.Incident{Key: fmt.Sprintf("dest:%d", i), Kind: linkwatch.KindDestination, Title: "t", Status: linkwatch.StatusInvestigating,
			Impact: linkwatch.ImpactMajor, StartedAt: now, UpdatedAt: now}
		saved, err := dbs[0].Record(ctx, incidents.Change{Incident: inc, Alert: &linkwatch.Alert{Type: linkwatch.AlertOpened}})
		if err != nil {
			t.Fatal(err)
		}
		for range perIncident - 1 {
			if saved, err = dbs[0].Record(ctx, incidents.Change{Incident: saved, Alert: &linkwatch.Alert{Type: linkwatch.AlertUpdated, Reason: "cause_changed"}}); err != nil {
				t.Fatal(err)
			}
		}
	}
	alerts, err := dbs[0].Outbox(ctx, 1000)
	if err != nil {
		t.Fatal(err)
	}
	order := map[string]int{} // event id -> its place in the outbox
	for i, a := range alerts {
		want = append(want, a.EventID)
		order[a.EventID] = i
	}
	if err := dbs[0].FanOut(ctx, []string{"hook"}); err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	sink := &recordingSink{}

	// Replica 1 is killed after its third send, with more of its batch claimed.
	sends := 0
	killCtx, kill := context.WithCancel(ctx)
	victim := dying{recordingSink: sink, kill: kill, crashOn: func(linkwatch.Alert) bool { sends++; return sends == 3 }}
	d1 := alerting.NewDispatcher(dbs[1], []alerting.Sink{victim}, nil, log)
	d1.SetClaim("r1", time.Minute)
	_ = d1.Drain(killCtx, victim)

	// Replica 0 and a second live replica drain together until nothing
	// is claimable; then the dead claims expire, and they finish.
	var wg sync.WaitGroup
	for i, owner := range []string{"r0", "r2"} {
		d := alerting.NewDispatcher(dbs[i], []alerting.Sink{sink}, nil, log)
		d.SetClaim(owner, time.Minute)
		wg.Go(func() {
			for range 20 {
				if err := d.Drain(ctx, sink); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	sink.mu.Lock()
	before := len(sink.got)
	sink.mu.Unlock()
	if before >= len(want) {
		t.Fatalf("%d sends before the dead replica's claims expired, want fewer than %d", before, len(want))
	}
	clkMu.Lock()
	now = now.Add(2 * time.Minute)
	clkMu.Unlock()
	for i, owner := range []string{"r0", "r2"} {
		d := alerting.NewDispatcher(dbs[i], []alerting.Sink{sink}, nil, log)
		d.SetClaim(owner, time.Minute)
		wg.Go(func() {
			for range 20 {
				if err := d.Drain(ctx, sink); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()

	count := map[string]int{}
	last := map[int64]int{} // incident -> outbox place of its last alert received
	for _, a := range sink.got {
		count[a.EventID]++
		if count[a.EventID] > 1 {
			continue // the retry of the killed replica's in-flight alert
		}
		if p, ok := last[a.IncidentID]; ok && order[a.EventID] < p {
			t.Errorf("incident %d: alert %s arrived after a later one", a.IncidentID, a.EventID)
		}
		last[a.IncidentID] = order[a.EventID]
	}
	dups := 0
	for _, ev := range want {
		switch n := count[ev]; {
		case n == 0:
			t.Errorf("alert %s was never sent", ev)
		case n > 2:
			t.Errorf("alert %s sent %d times", ev, n)
		case n == 2:
			dups++
		}
	}
	// Only the send the killed replica made but never recorded goes twice.
	if dups != 1 {
		t.Errorf("%d alerts sent twice, want 1 (the killed replica's unrecorded send)", dups)
	}
	log2, err := dbs[0].DeliveryLog(ctx, linkwatch.DeliveryQuery{Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range log2 {
		if l.Status != "sent" {
			t.Errorf("delivery %d is %s", l.ID, l.Status)
		}
	}
}
