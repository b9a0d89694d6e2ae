package postgres_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"linkwatch/incidents"
	"linkwatch/storage/postgres"
	"linkwatch/storage/postgres/pgtest"
)

// TestReplicasLoseNoAlert: two replicas on one database record incidents
// with alerts while both fan out. Every outbox alert gets its delivery:
// no alert committed late is passed over by the fan-out's watermark, and
// no second incident opens for a key already open.
func TestReplicasLoseNoAlert(t *testing.T) {
	dsn := pgtest.DSN(t)
	ctx := context.Background()
	var replicas [2]*postgres.DB
	for i := range replicas {
		db, err := postgres.Open(ctx, dsn)
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		replicas[i] = db
	}
	// Widen the window between an alert's id and its commit, where a
	// fan-out could see a later id committed first.
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, `CREATE FUNCTION slow() RETURNS trigger LANGUAGE plpgsql AS
		$$ BEGIN PERFORM pg_sleep(random() * 0.02); RETURN NULL; END $$;
		CREATE TRIGGER slow_outbox AFTER INSERT ON outbox FOR EACH ROW EXECUTE FUNCTION slow()`); err != nil {
		t.Fatal(err)
	}
	t0 := time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)
	for _, db := range replicas {
		db.Now = func() time.Time { return t0 }
	}
	const perReplica = 40
	var wg sync.WaitGroup
	done := make(chan struct{})
	errs := make(chan error, 100)
	for r, db := range replicas {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range perReplica {
				// Every fourth key both replicas try: one opens it, the other is refused.
				key := fmt.Sprintf("dest:%d:%d", r, i)
				if i%4 == 0 {
					key = fmt.Sprintf("dest:%d", i)
				}
				inc := incidents.Incident{Key: key, Kind: incidents.KindDestination, Title: key, Status: incidents.StatusInvestigating,
					Impact: incidents.ImpactMajor, StartedAt: t0, UpdatedAt: t0}
				// The loser of a key gets a unique violation, and nothing of it stays.
				_, _ = db.Record(ctx, incidents.Change{Incident: inc, Alert: &incidents.Alert{Type: incidents.AlertOpened}})
			}
		}()
	}
	var fan sync.WaitGroup
	for _, db := range replicas {
		fan.Add(1)
		go func() {
			defer fan.Done()
			for {
				select {
				case <-done:
					return
				default:
				}
				if err := db.FanOut(ctx, []string{"slack"}); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(done)
	fan.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if err := replicas[0].FanOut(ctx, []string{"slack"}); err != nil {
		t.Fatal(err)
	}
	open, err := replicas[0].OpenIncidents(ctx)
	if err != nil {
		t.Fatal(err)
	}
	alerts, err := replicas[0].Outbox(ctx, 1000)
	if err != nil {
		t.Fatal(err)
	}
	log, err := replicas[0].Deliveries(ctx, 1000)
	if err != nil {
		t.Fatal(err)
	}
	want := perReplica/4 + 2*(perReplica-perReplica/4)
	if len(open) != want || len(alerts) != want || len(log) != want {
		t.Errorf("%d open incidents, %d alerts, %d deliveries; want %d of each", len(open), len(alerts), len(log), want)
	}
}
