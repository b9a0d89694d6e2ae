package postgres_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"linkwatch"

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
				inc := linkwatch.Incident{Key: key, Kind: linkwatch.KindDestination, Title: key, Status: linkwatch.StatusInvestigating,
					Impact: linkwatch.ImpactMajor, StartedAt: t0, UpdatedAt: t0}
				// The loser of a key gets a unique violation, and nothing of it stays.
				_, _ = db.Record(ctx, incidents.Change{Incident: inc, Alert: &linkwatch.Alert{Type: linkwatch.AlertOpened}})
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
	log, err := replicas[0].DeliveryLog(ctx, linkwatch.DeliveryQuery{Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	want := perReplica/4 + 2*(perReplica-perReplica/4)
	if len(open) != want || len(alerts) != want || len(log) != want {
		t.Errorf("%d open incidents, %d alerts, %d deliveries; want %d of each", len(open), len(alerts), len(log), want)
	}
}

// terminate ends the sessions of db's dedicated lock connections from
// outside, as a kill -9 of the process would: the server notices the
// closed socket and releases the session's locks.
func terminate(t *testing.T, dsn string, lockSpace int) {
	t.Helper()
	conn, err := pgx.Connect(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	var n int
	if err := conn.QueryRow(context.Background(), `SELECT count(pg_terminate_backend(pid)) FROM pg_locks
		WHERE locktype = 'advisory' AND classid::bigint = $1 AND pid <> pg_backend_pid()`, lockSpace).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n == 0 {
		t.Fatal("no session held a lock to terminate")
	}
}

// TestDeadMemberLeavesAtOnce: a member whose session is gone (its process
// killed) is not live, though its heartbeat is well within the lease; it
// is live again once its next heartbeat takes the lock again.
func TestDeadMemberLeavesAtOnce(t *testing.T) {
	dsn := pgtest.DSN(t)
	ctx := context.Background()
	a, err := postgres.Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := postgres.Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if err := a.Heartbeat(ctx, linkwatch.Member{ID: "a"}); err != nil {
		t.Fatal(err)
	}
	if err := b.Heartbeat(ctx, linkwatch.Member{ID: "b"}); err != nil {
		t.Fatal(err)
	}
	live := func() []string {
		t.Helper()
		ms, err := b.Members(ctx, "", time.Now().Add(-time.Minute))
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, m := range ms {
			out = append(out, m.ID)
		}
		return out
	}
	if got := live(); len(got) != 2 {
		t.Fatalf("live = %v, want a and b", got)
	}
	// Kill a's lock session only (b's is in the same lock space: end a's
	// by its pid).
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, `SELECT pg_terminate_backend(l.pid) FROM pg_locks l JOIN members m ON l.objid::bigint = m.lock_key
		WHERE l.locktype = 'advisory' AND m.id = 'a'`); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for got := live(); len(got) != 1 || got[0] != "b"; got = live() {
		if time.Now().After(deadline) {
			t.Fatalf("live = %v after a's session ended, want b alone", got)
		}
		time.Sleep(10 * time.Millisecond)
	}
	// a is alive after all (only its connection broke): its heartbeat
	// takes the lock again.
	if err := a.Heartbeat(ctx, linkwatch.Member{ID: "a"}); err != nil {
		t.Fatal(err)
	}
	if got := live(); len(got) != 2 {
		t.Errorf("live = %v after a's next heartbeat, want a and b", got)
	}
}

// TestJobsLockHandOver: of two processes, one holds the jobs lock; when its
// connection ends (kill -9), the other takes it at its next try.
func TestJobsLockHandOver(t *testing.T) {
	dsn := pgtest.DSN(t)
	ctx := context.Background()
	var dbs [2]*postgres.DB
	for i := range dbs {
		db, err := postgres.Open(ctx, dsn)
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		dbs[i] = db
	}
	got := [2]bool{}
	var wg sync.WaitGroup
	for i, db := range dbs {
		wg.Go(func() {
			held, err := db.HoldLock(ctx, "jobs")
			if err != nil {
				t.Error(err)
			}
			got[i] = held
		})
	}
	wg.Wait()
	if got[0] == got[1] {
		t.Fatalf("jobs lock held by both or neither: %v", got)
	}
	holder, other := dbs[0], dbs[1]
	if got[1] {
		holder, other = other, holder
	}
	if held, _ := holder.HoldLock(ctx, "jobs"); !held {
		t.Fatal("the holder lost the lock by asking again")
	}
	if held, _ := other.HoldLock(ctx, "jobs"); held {
		t.Fatal("the other took a held lock")
	}
	terminate(t, dsn, 0x6c6e)
	deadline := time.Now().Add(5 * time.Second)
	for {
		held, err := other.HoldLock(ctx, "jobs")
		if err != nil {
			t.Fatal(err)
		}
		if held {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the jobs lock was not handed over after its holder's session ended")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if held, _ := holder.HoldLock(ctx, "jobs"); held {
		t.Error("the old holder still thinks it holds the lock")
	}
}
