package postgres_test

import (
	"context"
	"errors"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"linkwatch"

	"github.com/jackc/pgx/v5"

	"linkwatch/incidents"
	"linkwatch/internal/refused"
	"linkwatch/storage/postgres"
	"linkwatch/storage/postgres/pgtest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// TestOpenTogetherMigratesOnce: replicas starting at once on an empty
// database all open it, and each migration is applied and recorded once.
func TestOpenTogetherMigratesOnce(t *testing.T) {
	t.Parallel()
	dsn := pgtest.DSN(t)
	ctx := context.Background()
	const n = 4
	var wg sync.WaitGroup
	errs := make([]error, n)
	dbs := make([]*postgres.DB, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			dbs[i], errs[i] = postgres.Open(ctx, dsn)
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("open #%d: %v", i, err)
		}
		defer dbs[i].Close()
	}
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var rows, versions int
	if err := conn.QueryRow(ctx, `SELECT COUNT(*), COUNT(DISTINCT version) FROM schema_migrations`).Scan(&rows, &versions); err != nil {
		t.Fatal(err)
	}
	if rows != versions || versions < 4 {
		t.Errorf("schema_migrations holds %d rows for %d versions; want each embedded migration once", rows, versions)
	}
	// A second open applies nothing and still works.
	db, err := postgres.Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.WriteProbe(ctx); err != nil {
		t.Fatal(err)
	}
}

// TestOpenBadDSN: a malformed connection string is refused with an error
// that says so and does not quote the string (it holds the password).
func TestOpenBadDSN(t *testing.T) {
	t.Parallel()
	const secret = "s3cr3t-pa55"
	for _, dsn := range []string{
		"",
		"postgres://lw:" + secret + "@127.0.0.1:notaport/lw",
		"postgres://lw:" + secret + "@127.0.0.1:5432/lw?sslmode=sometimes",
		"host=127.0.0.1 password=" + secret + " sslmode=sometimes",
		"postgres://lw:" + secret + "@[::1/lw",
	} {
		_, err := postgres.Open(context.Background(), dsn)
		if err == nil {
			t.Errorf("Open(%q) succeeded", dsn)
			continue
		}
		t.Logf("Open(bad dsn): %v", err)
		if strings.Contains(err.Error(), secret) {
			t.Errorf("the error for a bad dsn shows the password: %v", err)
		}
		if !strings.Contains(err.Error(), "dsn") {
			t.Errorf("the error for a bad dsn does not say the dsn is wrong: %v", err)
		}
	}
}

// TestOpenWrongPassword: the server refuses; the error names the host and
// the refusal, never the password.
func TestOpenWrongPassword(t *testing.T) {
	t.Parallel()
	u, err := url.Parse(pgtest.DSN(t))
	if err != nil {
		t.Fatal(err)
	}
	const wrong = "not-the-password-42"
	u.User = url.UserPassword(u.User.Username(), wrong)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_, err = postgres.Open(ctx, u.String())
	if err == nil {
		t.Fatal("Open with a wrong password succeeded")
	}
	t.Logf("Open(wrong password): %v", err)
	msg := err.Error()
	if strings.Contains(msg, wrong) {
		t.Errorf("the error shows the password: %v", err)
	}
	if !strings.Contains(msg, u.Host) || !strings.Contains(msg, "password authentication failed") {
		t.Errorf("the error should name the host %s and the refusal: %v", u.Host, err)
	}
}

// TestOpenUnreachable: nothing listens on the port; the error names the
// host and comes within the caller's deadline.
func TestOpenUnreachable(t *testing.T) {
	t.Parallel()
	addr := refused.Addr(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err := postgres.Open(ctx, "postgres://lw:hunter2hunter2@"+addr+"/lw?sslmode=disable")
	if err == nil {
		t.Fatal("Open of a closed port succeeded")
	}
	t.Logf("Open(closed port): %v", err)
	if !strings.Contains(err.Error(), addr) || strings.Contains(err.Error(), "hunter2hunter2") {
		t.Errorf("error = %v; want the host %s and no password", err, addr)
	}
}

// TestPingAndFault: Ping answers; a write on a closed pool fails and is
// remembered as the last write fault, while a caller's own error is not.
func TestPingAndFault(t *testing.T) {
	t.Parallel()
	db := pgtest.MustOpen(t)
	ctx := context.Background()
	if err := db.Ping(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Record(ctx, incidents.Change{Incident: linkwatch.Incident{ID: 77}}); !errors.Is(err, linkwatch.ErrNotFound) {
		t.Fatalf("update of a missing incident: %v", err)
	}
	if f := db.LastWriteFault(); f.Err != nil {
		t.Errorf("a missing row counted as a storage fault: %v", f.Err)
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if err := db.Ping(cctx); err == nil {
		t.Error("Ping with a cancelled context succeeded")
	}
}

// TestResultsBatchLarge: a batch far larger than one statement's parameter
// limit (65,535) is written whole.
func TestResultsBatchLarge(t *testing.T) {
	t.Parallel()
	db := pgtest.MustOpen(t)
	ctx := context.Background()
	t0 := time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)
	var batch []linkwatch.Result
	for i := range 5000 {
		url := "https://t" + strings.Repeat("x", i%7) + ".test/" + string(rune('a'+i%26)) + "/" + time.Duration(i).String()
		batch = append(batch, linkwatch.Result{TargetID: url, Kind: linkwatch.TargetDestination, URL: url, Start: t0, Latency: time.Millisecond, Status: linkwatch.StatusUp, StatusCode: 200})
	}
	if err := db.SaveResults(ctx, batch); err != nil {
		t.Fatal(err)
	}
	got, err := db.RecentChecks(ctx, []string{batch[4999].TargetID}, t0, 10)
	if err != nil || len(got[batch[4999].TargetID]) != 1 {
		t.Fatalf("recent results of the last target: %v, %v", got, err)
	}
}
