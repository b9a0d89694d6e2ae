//go:build linux

// Package pgtest starts a throwaway PostgreSQL server for tests and hands
// each test a fresh database on it. It is imported only by tests, so the
// testing package never reaches the binary.
//
// The server is Debian's (or the PATH's) initdb and postgres, run from a
// temporary directory as an unprivileged user (PostgreSQL refuses to run
// as root, and CI runs tests as root), listening on a free port of
// 127.0.0.1 only, with its unix socket in the temporary directory. One
// server serves a test binary; Main stops it and removes its files.
// Without the binaries the tests skip, or fail when CI=true.
package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"linkwatch/storage/postgres"
	"linkwatch/storage/storagetest"
)

// superuser is the cluster's superuser, the owner of every test database.
const superuser = "linkwatch"

var (
	mu     sync.Mutex
	shared *Server
	dbSeq  atomic.Int64
)

// Server is a running throwaway cluster.
type Server struct {
	dir      string // owned by the server's user; removed by Stop
	Port     int
	Password string
	cmd      *exec.Cmd
	exited   chan struct{} // closed when the postgres process has exited
	admin    *pgxpool.Pool // on the postgres database, to create and drop test databases
	logPath  string
	bin      string // where initdb and postgres are
	data     string // the cluster's data directory
	cred     *syscall.Credential
}

// Main runs the package's tests, then stops the server if one was
// started: call it from TestMain.
func Main(m *testing.M) {
	code := m.Run()
	mu.Lock()
	if shared != nil {
		if err := shared.Stop(); err != nil {
			fmt.Fprintln(os.Stderr, "pgtest:", err)
		}
		shared = nil
	}
	mu.Unlock()
	os.Exit(code)
}

// DSN returns the connection string of a fresh, empty database on the
// test binary's server (started on first use), dropped when tb ends.
func DSN(tb testing.TB) string {
	tb.Helper()
	return server(tb).DSN(tb)
}

// DSN returns the connection string of a fresh, empty database on s,
// dropped when tb ends.
func (s *Server) DSN(tb testing.TB) string {
	tb.Helper()
	name := fmt.Sprintf("lw_%d_%d", os.Getpid(), dbSeq.Add(1))
	ctx := context.Background()
	if _, err := s.admin.Exec(ctx, `CREATE DATABASE `+name); err != nil {
		tb.Fatalf("pgtest: create database: %v", err)
	}
	tb.Cleanup(func() {
		// FORCE ends the sessions a failed test left open.
		if _, err := s.admin.Exec(ctx, `DROP DATABASE IF EXISTS `+name+` WITH (FORCE)`); err != nil {
			tb.Errorf("pgtest: drop database: %v", err)
		}
	})
	return s.dsn(name)
}

// MustOpen opens a fresh database (migrated) and closes it when tb ends.
func MustOpen(tb testing.TB) *postgres.DB {
	tb.Helper()
	db, err := postgres.Open(context.Background(), DSN(tb))
	return storagetest.Opened(tb, db, err)
}

func (s *Server) dsn(database string) string {
	u := url.URL{Scheme: "postgres", User: url.UserPassword(superuser, s.Password),
		Host: net.JoinHostPort("127.0.0.1", strconv.Itoa(s.Port)), Path: "/" + database, RawQuery: "sslmode=disable"}
	return u.String()
}

// server returns the binary's server, starting it on first use.
func server(tb testing.TB) *Server {
	tb.Helper()
	mu.Lock()
	defer mu.Unlock()
	if shared != nil {
		return shared
	}
	shared = launch(tb)
	return shared
}

// Own starts a server of tb's own, stopped when tb ends: for a test that
// takes the database down and up again (Down, Up), which would break
// every other test on the shared one.
func Own(tb testing.TB) *Server {
	tb.Helper()
	s := launch(tb)
	tb.Cleanup(func() {
		if err := s.Stop(); err != nil {
			tb.Errorf("pgtest: %v", err)
		}
	})
	return s
}

// Down shuts the server down as an outage of the database does (fast
// shutdown: every session ends, every lock with it), keeping its data
// for Up.
func (s *Server) Down(tb testing.TB) {
	tb.Helper()
	s.admin.Close()
	s.admin = nil
	_ = s.cmd.Process.Signal(syscall.SIGINT)
	select {
	case <-s.exited:
	case <-time.After(30 * time.Second):
		tb.Fatalf("pgtest: postgres did not shut down within 30s: %s", s.logTail())
	}
}

// Up starts the server Down shut down again, on the same port, with its
// data.
func (s *Server) Up(tb testing.TB) {
	tb.Helper()
	if err := s.start(s.bin, s.data, s.cred); err != nil {
		tb.Fatalf("pgtest: restart: %v", err)
	}
}

// launch starts a server for tb, or skips tb where there is no PostgreSQL
// to start (fails under CI=true).
func launch(tb testing.TB) *Server {
	tb.Helper()
	bin, err := BinDir()
	if err != nil {
		if os.Getenv("CI") == "true" {
			tb.Fatalf("pgtest: %v (CI=true: .ci/run installs Debian's postgresql package)", err)
		}
		tb.Skipf("pgtest: %v; install PostgreSQL (Debian: apt-get install postgresql) to run the PostgreSQL tests", err)
	}
	s, err := Start(bin)
	if err != nil {
		tb.Fatalf("pgtest: %v", err)
	}
	return s
}

// BinDir finds the directory of initdb and postgres: the PATH's, or the
// newest of Debian's /usr/lib/postgresql/<version>/bin (not on the PATH).
func BinDir() (string, error) {
	if p, err := exec.LookPath("initdb"); err == nil {
		return filepath.Dir(p), nil
	}
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	slices.SortFunc(dirs, func(a, b string) int { return version(b) - version(a) })
	for _, d := range dirs {
		if _, err := os.Stat(filepath.Join(d, "initdb")); err == nil {
			return d, nil
		}
	}
	return "", errors.New("no PostgreSQL binaries (initdb) on the PATH or in /usr/lib/postgresql/*/bin")
}

func version(binDir string) int {
	v, _ := strconv.Atoi(filepath.Base(filepath.Dir(binDir)))
	return v
}

// Start initialises a cluster in a new temporary directory and starts it
// on a free loopback port. Stop stops it and removes the directory.
func Start(binDir string) (*Server, error) {
	cred, err := credential()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "linkwatch-pg-")
	if err != nil {
		return nil, err
	}
	var pw [16]byte
	_, _ = rand.Read(pw[:])
	s := &Server{dir: dir, Password: hex.EncodeToString(pw[:]), exited: make(chan struct{}), logPath: filepath.Join(dir, "postgres.log"),
		bin: binDir, data: filepath.Join(dir, "data"), cred: cred}
	fail := func(err error) (*Server, error) {
		os.RemoveAll(dir)
		return nil, err
	}
	pwFile := filepath.Join(dir, "pw")
	if err := os.WriteFile(pwFile, []byte(s.Password+"\n"), 0o600); err != nil {
		return fail(err)
	}
	if cred != nil {
		if err := chownAll(dir, int(cred.Uid), int(cred.Gid)); err != nil {
			return fail(fmt.Errorf("give %s to the server's user: %w", dir, err))
		}
	}
	data := s.data
	// Password auth over TCP, so a wrong password is a real refusal.
	initdb := exec.Command(filepath.Join(binDir, "initdb"), "-D", data, "-U", superuser, "--pwfile="+pwFile,
		"--auth-local=trust", "--auth-host=scram-sha-256", "-E", "UTF8", "--no-locale", "--no-sync")
	initdb.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	if out, err := initdb.CombinedOutput(); err != nil {
		return fail(fmt.Errorf("initdb: %w: %s", err, out))
	}
	// A port taken between probing and binding makes the server exit;
	// try a few.
	for attempt := 0; ; attempt++ {
		s.Port, err = freePort()
		if err != nil {
			return fail(err)
		}
		err = s.start(binDir, data, cred)
		if err == nil {
			return s, nil
		}
		if attempt == 2 {
			return fail(err)
		}
	}
}

func (s *Server) start(binDir, data string, cred *syscall.Credential) error {
	logf, err := os.OpenFile(s.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	// Durability settings off: a test database lives for a test, and the
	// crash tests kill linkwatch, not the server.
	s.cmd = exec.Command(filepath.Join(binDir, "postgres"), "-D", data, "-p", strconv.Itoa(s.Port),
		"-c", "listen_addresses=127.0.0.1", "-c", "unix_socket_directories="+s.dir,
		"-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off", "-c", "max_connections=300")
	s.cmd.Stdout, s.cmd.Stderr = logf, logf
	// SIGQUIT (immediate shutdown) if the test binary dies without Main's
	// Stop. Pdeathsig follows the thread that started the child, so that
	// thread stays locked, waiting for the server, until it exits.
	s.cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred, Pdeathsig: syscall.SIGQUIT, Setpgid: true}
	started := make(chan error, 1)
	s.exited = make(chan struct{})
	go func() {
		runtime.LockOSThread()
		defer logf.Close()
		if err := s.cmd.Start(); err != nil {
			started <- err
			return
		}
		started <- nil
		_ = s.cmd.Wait()
		close(s.exited)
	}()
	if err := <-started; err != nil {
		return fmt.Errorf("start postgres: %w", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	for {
		select {
		case <-s.exited:
			return fmt.Errorf("postgres exited at start: %s", s.logTail())
		case <-ctx.Done():
			s.kill()
			return fmt.Errorf("postgres did not answer within a minute: %s", s.logTail())
		case <-time.After(50 * time.Millisecond):
		}
		pool, err := pgxpool.New(ctx, s.dsn("postgres"))
		if err != nil {
			s.kill()
			return err
		}
		if err := pool.Ping(ctx); err == nil {
			s.admin = pool
			return nil
		}
		pool.Close()
	}
}

func (s *Server) logTail() string {
	b, _ := os.ReadFile(s.logPath)
	if len(b) > 2000 {
		b = b[len(b)-2000:]
	}
	return strings.TrimSpace(string(b))
}

func (s *Server) kill() {
	if s.cmd.Process != nil {
		_ = s.cmd.Process.Signal(syscall.SIGQUIT)
		<-s.exited
	}
}

// Stop shuts the server down (fast shutdown: sessions are ended), if Down
// has not, and removes its directory.
func (s *Server) Stop() error {
	if s.admin != nil {
		s.admin.Close()
	}
	_ = s.cmd.Process.Signal(syscall.SIGINT)
	select {
	case <-s.exited:
	case <-time.After(30 * time.Second):
		_ = s.cmd.Process.Kill()
		<-s.exited
	}
	return os.RemoveAll(s.dir)
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("find a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func chownAll(dir string, uid, gid int) error {
	return filepath.Walk(dir, func(p string, _ os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		return os.Chown(p, uid, gid)
	})
}
