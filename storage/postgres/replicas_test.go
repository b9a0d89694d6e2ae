package postgres_test

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"linkwatch"
	"linkwatch/checker/shard"
	"linkwatch/incidents"
	"linkwatch/storage/postgres"
	"linkwatch/storage/postgres/pgtest"
)

// TestReplicasLoseNoAlert: two replicas on one database record incidents
// with alerts while both fan out. Every outbox alert gets its delivery:
// no alert committed late is passed over by the fan-out's watermark, and
// no second incident opens for a key already open.
func TestReplicasLoseNoAlert(t *testing.T) {
	t.Parallel()
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
		db.SetClock(func() time.Time { return t0 })
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
	t.Parallel()
	dsn := pgtest.DSN(t)
	ctx := context.Background()
	a, b := open(t, dsn), open(t, dsn)
	// a beats again once b's lock session began, as heartbeats every
	// interval/3 do: b's held lock then proves the server has lived since
	// a's heartbeat, so a's missing lock proves a dead.
	for _, m := range []struct {
		db *postgres.DB
		id string
	}{{a, "a"}, {b, "b"}, {a, "a"}} {
		if err := m.db.Heartbeat(ctx, linkwatch.Member{ID: m.id}); err != nil {
			t.Fatal(err)
		}
	}
	if got := live(t, b); len(got) != 2 {
		t.Fatalf("live = %v, want a and b", got)
	}
	terminateMember(t, dsn, "a")
	waitFor(t, "b alone live after a's session ended", func() bool { return slices.Equal(live(t, b), []string{"b"}) })
	// a is alive after all (only its connection broke): its heartbeat
	// takes the lock again.
	if err := a.Heartbeat(ctx, linkwatch.Member{ID: "a"}); err != nil {
		t.Fatal(err)
	}
	if got := live(t, b); len(got) != 2 {
		t.Errorf("live = %v after a's next heartbeat, want a and b", got)
	}
}

// TestLocksLostWithTheServerProveNoDeath: a restart or a failover of the
// database ends every session, and every member's lock with it. The first
// replica back must not find the others dead for want of their locks (it
// would take every host while they still check theirs): their heartbeats
// are older than every lock held now, so only their lease decides. Once a
// member has beaten since, its lock counts again: a kill -9 then still
// drops it at once.
func TestLocksLostWithTheServerProveNoDeath(t *testing.T) {
	t.Parallel()
	dsn := pgtest.DSN(t)
	ctx := context.Background()
	a, b := open(t, dsn), open(t, dsn)
	for _, m := range []struct {
		db *postgres.DB
		id string
	}{{a, "a"}, {b, "b"}, {a, "a"}} {
		if err := m.db.Heartbeat(ctx, linkwatch.Member{ID: m.id}); err != nil {
			t.Fatal(err)
		}
	}
	terminateMember(t, dsn, "")
	// a is back first: its heartbeat takes its lock again; b's is still gone.
	if err := a.Heartbeat(ctx, linkwatch.Member{ID: "a"}); err != nil {
		t.Fatal(err)
	}
	if got := live(t, a); !slices.Equal(got, []string{"a", "b"}) {
		t.Fatalf("live after the server lost every lock, with a back first = %v, want a and b (b's lease runs)", got)
	}
	if err := b.Heartbeat(ctx, linkwatch.Member{ID: "b"}); err != nil {
		t.Fatal(err)
	}
	terminateMember(t, dsn, "b")
	waitFor(t, "a alone live after b, back, was killed", func() bool { return slices.Equal(live(t, a), []string{"a"}) })
}

// TestSkewedReplicasAgree: three replicas whose clocks are five minutes
// apart share one database. Their heartbeats carry the database's time;
// each sees the other two live, so they split the hosts exactly, each host
// owned by one; and each reckons the database's time, not its own.
func TestSkewedReplicasAgree(t *testing.T) {
	t.Parallel()
	dsn := pgtest.DSN(t)
	ctx := context.Background()
	var members []*shard.Membership
	var dbs []*postgres.DB
	for i, skew := range []time.Duration{-5 * time.Minute, 0, 5 * time.Minute} {
		db := open(t, dsn)
		local := func() time.Time { return time.Now().Add(skew) }
		db.Local = local
		dbs = append(dbs, db)
		// A short interval: a joiner counts itself two beats (a beat is a
		// third of the interval) after its first heartbeat, by the
		// database's clock, and the test waits for that.
		members = append(members, shard.New(db, linkwatch.Member{ID: fmt.Sprintf("r%d", i)}, shard.Options{Interval: 300 * time.Millisecond, Now: local}))
	}
	sharingAll := func() bool {
		for _, m := range members {
			if err := m.Tick(ctx); err != nil {
				t.Fatal(err)
			}
		}
		for _, m := range members {
			if !slices.Equal(m.Assignment().Members, []string{"r0", "r1", "r2"}) {
				return false
			}
		}
		return true
	}
	waitFor(t, "every replica sharing with all three", sharingAll)
	var targets []linkwatch.Target
	for h := range 60 {
		u := fmt.Sprintf("https://h%d.example/", h)
		targets = append(targets, linkwatch.Target{ID: u, Kind: linkwatch.TargetDestination, URL: u})
	}
	owners := map[string]int{}
	for i, m := range members {
		if got := m.Assignment().Members; !slices.Equal(got, []string{"r0", "r1", "r2"}) {
			t.Errorf("r%d (clock %+v off) shares with %v, want r0, r1 and r2", i, []time.Duration{-5 * time.Minute, 0, 5 * time.Minute}[i], got)
		}
		for _, tg := range m.Assignment().Filter(targets) {
			owners[tg.ID]++
		}
		if off := time.Until(dbs[i].Now()); off > time.Second || off < -time.Second {
			t.Errorf("r%d reckons the database's time %s off", i, off)
		}
	}
	for _, tg := range targets {
		if owners[tg.ID] != 1 {
			t.Errorf("%s checked by %d replicas, want 1", tg.ID, owners[tg.ID])
		}
	}
	all, err := dbs[0].LiveMembers(ctx, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range all {
		if off := time.Since(m.HeartbeatAt); off > 5*time.Second || off < -5*time.Second {
			t.Errorf("%s's heartbeat is stamped %s off the database's time", m.ID, off)
		}
	}
}

// TestClaimsByTheDatabaseClock: a delivery claimed by a replica whose clock
// is five minutes behind is not free at once to one five minutes ahead (a
// second send), and its claim ends with its lease, not five minutes late
// (an alert held back): both replicas reckon the lease by the database's
// clock.
func TestClaimsByTheDatabaseClock(t *testing.T) {
	t.Parallel()
	dsn := pgtest.DSN(t)
	ctx := context.Background()
	behind, ahead := open(t, dsn), open(t, dsn)
	behind.Local = func() time.Time { return time.Now().Add(-5 * time.Minute) }
	ahead.Local = func() time.Time { return time.Now().Add(5 * time.Minute) }
	now := time.Now()
	inc := linkwatch.Incident{Key: "dest:x", Kind: linkwatch.KindDestination, Title: "x", Status: linkwatch.StatusInvestigating,
		Impact: linkwatch.ImpactMajor, StartedAt: now, UpdatedAt: now}
	if _, err := behind.Record(ctx, incidents.Change{Incident: inc, Alert: &linkwatch.Alert{Type: linkwatch.AlertOpened}}); err != nil {
		t.Fatal(err)
	}
	if err := behind.FanOut(ctx, []string{"hook"}); err != nil {
		t.Fatal(err)
	}
	const lease = 300 * time.Millisecond
	first, err := behind.ClaimDeliveries(ctx, "hook", "behind", lease, 1)
	if err != nil || len(first) != 1 {
		t.Fatalf("the first claim: %d deliveries, %v", len(first), err)
	}
	if got, err := ahead.ClaimDeliveries(ctx, "hook", "ahead", lease, 1); err != nil || len(got) != 0 {
		t.Fatalf("claimed again within the lease by a replica whose clock is ahead: %d deliveries, %v", len(got), err)
	}
	var again []linkwatch.Delivery
	waitFor(t, "the claim free once its lease passed", func() bool {
		again, err = ahead.ClaimDeliveries(ctx, "hook", "ahead", lease, 1)
		return err != nil || len(again) == 1
	})
	if err != nil || again[0].Alert.EventID != first[0].Alert.EventID {
		t.Errorf("after the lease: %v, %v; want the same alert, event id %s", again, err, first[0].Alert.EventID)
	}
}

// open opens the database at dsn, closed when t ends.
func open(t *testing.T, dsn string) *postgres.DB {
	t.Helper()
	db, err := postgres.Open(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// live returns the ids of the live members db sees, with a lease of a
// minute.
func live(t *testing.T, db *postgres.DB) []string {
	t.Helper()
	ms, err := db.Members(context.Background(), "", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, m := range ms {
		out = append(out, m.ID)
	}
	return out
}

// terminateMember ends the session holding member id's lock ("": every
// member's, as a restart of the server does) in dsn's database, and waits
// until the server has released them.
func terminateMember(t *testing.T, dsn, id string) {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	const held = `FROM pg_locks l WHERE l.locktype = 'advisory' AND l.classid::bigint = $1
		AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
		AND ($2 = '' OR l.objid::bigint = (SELECT lock_key FROM members WHERE id = $2))`
	var n int
	if err := conn.QueryRow(ctx, `SELECT count(pg_terminate_backend(l.pid)) `+held, postgres.LockSpaceMember, id).Scan(&n); err != nil || n == 0 {
		t.Fatalf("terminated %d sessions holding member locks (%v)", n, err)
	}
	waitFor(t, "the terminated sessions' locks released", func() bool {
		err := conn.QueryRow(ctx, `SELECT count(*) `+held, postgres.LockSpaceMember, id).Scan(&n)
		return err != nil || n == 0
	})
}

// waitFor polls cond until it holds, failing t after 10 s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	// A poll: PostgreSQL sessions end in real time.
	for deadline := time.Now().Add(10 * time.Second); !cond(); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("not within 10s: %s", what)
		}
	}
}

// TestJobsLockHandOver: of two processes, one holds the jobs lock; when its
// connection ends (kill -9), the other takes it at its next try.
func TestJobsLockHandOver(t *testing.T) {
	t.Parallel()
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
		time.Sleep(10 * time.Millisecond) // a poll: PostgreSQL sessions end in real time
	}
	if held, _ := holder.HoldLock(ctx, "jobs"); held {
		t.Error("the old holder still thinks it holds the lock")
	}
}
