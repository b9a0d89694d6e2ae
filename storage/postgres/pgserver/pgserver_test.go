//go:build linux

package pgserver_test

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"linkwatch/storage/postgres/pgserver"
)

// TestDownUp takes the server down as an outage does and up
// again: while down, connections are refused and databases cannot be
// made; after Up, on the same address, what was written is there.
func TestDownUp(t *testing.T) {
	bin, err := pgserver.BinDir()
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal(err)
		}
		t.Skip(err)
	}
	s, err := pgserver.Start(bin)
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := s.Stop(); err != nil {
			t.Error(err)
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := s.CreateDatabase(ctx, "kept"); err != nil {
		t.Fatal(err)
	}
	dsn := s.DSN("kept")
	exec := func(sql string) error {
		c, err := pgx.Connect(ctx, dsn)
		if err != nil {
			return err
		}
		defer c.Close(ctx)
		_, err = c.Exec(ctx, sql)
		return err
	}
	if err := exec(`CREATE TABLE t (v int); INSERT INTO t VALUES (42)`); err != nil {
		t.Fatal(err)
	}
	if err := s.Up(); err == nil {
		t.Error("Up of a running server: no error")
	}

	s.Down()
	if err := exec(`SELECT 1`); err == nil {
		t.Fatal("a connection to the shut-down server succeeded")
	}
	if err := s.CreateDatabase(ctx, "other"); err == nil {
		t.Fatal("CreateDatabase on the shut-down server: no error")
	}

	if err := s.Up(); err != nil {
		t.Fatal(err)
	}
	if s.DSN("kept") != dsn {
		t.Errorf("the restarted server's DSN is %q, was %q", s.DSN("kept"), dsn)
	}
	c, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(ctx)
	var v int
	if err := c.QueryRow(ctx, `SELECT v FROM t`).Scan(&v); err != nil || v != 42 {
		t.Fatalf("after Up: %d, %v; want the 42 written before", v, err)
	}
	if err := s.DropDatabase(ctx, "missing_is_fine"); err != nil {
		t.Error(err)
	}
}
