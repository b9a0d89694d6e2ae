package main

import (
	"context"
	"io"
	"net"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"linkwatch/storage/postgres/pgtest"
)

// TestServeWaitsForPostgres: serve started before its database exists
// stays up, answers /healthz 200 and /readyz 503, logs why with the host
// and never the password, and serves once the database appears.
func TestServeWaitsForPostgres(t *testing.T) {
	t.Parallel()
	base := pgtest.DSN(t)
	u, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	late := strings.TrimPrefix(u.Path, "/") + "_late"
	u.Path = "/" + late
	password, _ := u.User.Password()
	ctx := context.Background()
	admin, err := pgx.Connect(ctx, base)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close(ctx)

	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "c.yaml")
	mustWrite(t, cfgPath, "storage: {driver: postgres, dsn: '${PG_DSN}'}\nserver: {drain_delay: 0s}\nprobe: {self_check: false}\n"+
		"pages:\n  - slug: a\n    links:\n      - {slug: x, url: 'https://127.0.0.1:9/'}\n")
	env := map[string]string{"PG_DSN": u.String()}
	stderr := &lockedBuffer{}
	stdoutR, stdoutW := io.Pipe()
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() {
		err := run(runCtx, []string{"linkwatch", "serve", "-config", cfgPath, "-addr", addr}, func(k string) string { return env[k] }, stdoutW, stderr)
		stdoutW.Close()
		done <- err
	}()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("run: %v", err)
		}
		_, _ = admin.Exec(ctx, `DROP DATABASE IF EXISTS `+late+` WITH (FORCE)`)
	}()
	listening := make(chan struct{})
	go func() {
		var buf [256]byte
		if n, _ := stdoutR.Read(buf[:]); n > 0 {
			close(listening)
		}
		_, _ = io.Copy(io.Discard, stdoutR)
	}()

	status := func(path string) int {
		resp, err := noRedirect.Get("http://" + addr + path)
		if err != nil {
			return 0
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	waitUntil(t, 20*time.Second, "/readyz 503 while the database is missing", func() bool { return status("/readyz") == 503 })
	if got := status("/healthz"); got != 200 {
		t.Errorf("/healthz = %d while waiting, want 200 (the process is alive)", got)
	}
	if got := status("/a/x"); got != 503 {
		t.Errorf("GET /a/x = %d while waiting, want 503", got)
	}
	waitUntil(t, 10*time.Second, "a log line naming the host", func() bool {
		return strings.Contains(stderr.String(), u.Host) && strings.Contains(stderr.String(), "does not exist")
	})
	if strings.Contains(stderr.String(), password) {
		t.Fatalf("the log shows the database password:\n%s", stderr)
	}

	if _, err := admin.Exec(ctx, `CREATE DATABASE `+late); err != nil {
		t.Fatal(err)
	}
	select {
	case <-listening:
	case <-time.After(60 * time.Second):
		t.Fatalf("serve did not start once the database existed; stderr:\n%s", stderr)
	}
	waitUntil(t, 10*time.Second, "/readyz 200 once connected", func() bool { return status("/readyz") == 200 })
	if got := status("/a/x"); got != 302 {
		t.Errorf("GET /a/x = %d once serving, want 302", got)
	}
}
