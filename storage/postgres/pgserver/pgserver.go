//go:build linux

// Package pgserver runs a throwaway PostgreSQL server: initdb into a
// temporary directory, postgres on a free port of 127.0.0.1, and its
// databases removed with it. Tests get it through pgtest; benchmarks, which
// must not link the testing package, use it directly, and may take the
// server down and up again (Down, Up) as a database outage would.
//
// The server is Debian's (or the PATH's) initdb and postgres, run as an
// unprivileged user (PostgreSQL refuses to run as root, and CI runs tests
// as root), listening on 127.0.0.1 only, with its unix socket in the
// temporary directory, and durability off (fsync, synchronous commit and
// full-page writes): what it holds lives as long as the process using it.
package pgserver

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
	"syscall"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
)

// superuser is the cluster's superuser, the owner of every database.
const superuser = "linkwatch"

// Server is a running throwaway cluster.
type Server struct {
	dir      string // owned by the server's user; removed by Stop
	Port     int
	Password string
	bin      string // the directory of initdb and postgres
	cred     *syscall.Credential
	logPath  string

	mu     sync.Mutex
	cmd    *exec.Cmd
	exited chan struct{} // closed when the postgres process has exited
	admin  *pgxpool.Pool // on the postgres database, to create and drop databases; nil while shut down
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
func Start(binDir string) (*Server, error) { return StartIn(binDir, "") }

// StartIn is Start with the temporary directory made in parent (the
// default temporary directory when parent is "").
func StartIn(binDir, parent string) (*Server, error) {
	cred, err := credential()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp(parent, "linkwatch-pg-")
	if err != nil {
		return nil, err
	}
	var pw [16]byte
	_, _ = rand.Read(pw[:])
	s := &Server{dir: dir, Password: hex.EncodeToString(pw[:]), bin: binDir, cred: cred, logPath: filepath.Join(dir, "postgres.log")}
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
	// Password auth over TCP, so a wrong password is a real refusal.
	initdb := exec.Command(filepath.Join(binDir, "initdb"), "-D", s.dataDir(), "-U", superuser, "--pwfile="+pwFile,
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
		err = s.start()
		if err == nil {
			return s, nil
		}
		if attempt == 2 {
			return fail(err)
		}
	}
}

func (s *Server) dataDir() string { return filepath.Join(s.dir, "data") }

// DSN is the connection string of database on s, as its superuser.
func (s *Server) DSN(database string) string {
	u := url.URL{Scheme: "postgres", User: url.UserPassword(superuser, s.Password),
		Host: net.JoinHostPort("127.0.0.1", strconv.Itoa(s.Port)), Path: "/" + database, RawQuery: "sslmode=disable"}
	return u.String()
}

// CreateDatabase creates an empty database called name (a plain
// identifier); DSN(name) connects to it.
func (s *Server) CreateDatabase(ctx context.Context, name string) error {
	return s.CreateDatabaseFrom(ctx, name, "template1")
}

// CreateDatabaseFrom creates a database called name as a copy of the
// database template, which nothing may be connected to. The files are
// copied (STRATEGY FILE_COPY): with durability off its checkpoints cost
// little, and a copy takes a fraction of the time of writing the same
// pages through the WAL, PostgreSQL's default.
func (s *Server) CreateDatabaseFrom(ctx context.Context, name, template string) error {
	admin, err := s.adminPool()
	if err != nil {
		return err
	}
	if _, err := admin.Exec(ctx, `CREATE DATABASE `+name+` TEMPLATE `+template+` STRATEGY FILE_COPY`); err != nil {
		return fmt.Errorf("pgserver: create database %s: %w", name, err)
	}
	return nil
}

// DropDatabase drops the database called name, ending the sessions left
// open on it.
func (s *Server) DropDatabase(ctx context.Context, name string) error {
	admin, err := s.adminPool()
	if err != nil {
		return err
	}
	if _, err := admin.Exec(ctx, `DROP DATABASE IF EXISTS `+name+` WITH (FORCE)`); err != nil {
		return fmt.Errorf("pgserver: drop database %s: %w", name, err)
	}
	return nil
}

func (s *Server) adminPool() (*pgxpool.Pool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.admin == nil {
		return nil, errors.New("pgserver: the server is shut down")
	}
	return s.admin, nil
}

// start runs postgres on s's data directory and port, and waits until it
// answers.
func (s *Server) start() error {
	logf, err := os.OpenFile(s.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	cmd := exec.Command(filepath.Join(s.bin, "postgres"), "-D", s.dataDir(), "-p", strconv.Itoa(s.Port),
		"-c", "listen_addresses=127.0.0.1", "-c", "unix_socket_directories="+s.dir,
		"-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off", "-c", "max_connections=300")
	cmd.Stdout, cmd.Stderr = logf, logf
	// SIGQUIT (immediate shutdown) if the process that started the server
	// dies without Stop. Pdeathsig follows the thread that started the
	// child, so that thread stays locked, waiting for the server, until it
	// exits; and is unlocked then, not left to end with its goroutine: a
	// thread that ends delivers the Pdeathsig of every child it ever
	// started, and before this goroutine locked it, it may have started
	// one (chromedp's Chromium, killed in the middle of the browser tests
	// when a test's own server stopped; linkbench's replicas).
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: s.cred, Pdeathsig: syscall.SIGQUIT, Setpgid: true}
	started := make(chan error, 1)
	exited := make(chan struct{})
	go func() {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		defer logf.Close()
		if err := cmd.Start(); err != nil {
			started <- err
			return
		}
		started <- nil
		_ = cmd.Wait()
		close(exited)
	}()
	if err := <-started; err != nil {
		return fmt.Errorf("start postgres: %w", err)
	}
	kill := func() {
		_ = cmd.Process.Signal(syscall.SIGQUIT)
		<-exited
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	for {
		select {
		case <-exited:
			return fmt.Errorf("postgres exited at start: %s", s.logTail())
		case <-ctx.Done():
			kill()
			return fmt.Errorf("postgres did not answer within a minute: %s", s.logTail())
		case <-time.After(50 * time.Millisecond):
		}
		pool, err := pgxpool.New(ctx, s.DSN("postgres"))
		if err != nil {
			kill()
			return err
		}
		if err := pool.Ping(ctx); err == nil {
			s.mu.Lock()
			s.cmd, s.exited, s.admin = cmd, exited, pool
			s.mu.Unlock()
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

// Down stops the server as an outage would (fast shutdown: every
// session ends, and connections are refused from then on) and keeps its
// data for Up. It returns once the server has exited.
func (s *Server) Down() {
	s.mu.Lock()
	cmd, exited, admin := s.cmd, s.exited, s.admin
	s.admin = nil
	s.mu.Unlock()
	if admin != nil {
		admin.Close()
	}
	if cmd == nil {
		return
	}
	_ = cmd.Process.Signal(syscall.SIGINT)
	select {
	case <-exited:
	case <-time.After(30 * time.Second):
		_ = cmd.Process.Kill()
		<-exited
	}
}

// Up starts a server Down stopped, on the same port, with its
// databases, and returns once it answers. (A port taken meanwhile by
// another process is an error: clients keep the address they were given.)
func (s *Server) Up() error {
	s.mu.Lock()
	exited := s.exited
	s.mu.Unlock()
	select {
	case <-exited:
	default:
		return errors.New("pgserver: Up of a server that is running")
	}
	return s.start()
}

// Stop shuts the server down and removes its directory.
func (s *Server) Stop() error {
	s.Down()
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
