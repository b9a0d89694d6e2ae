package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"linkwatch/storage/postgres/pgserver"
)

// The processes a bench runs: linkwatch serve (its own build, or the one
// given), and a throwaway PostgreSQL.

// linkwatchBinary returns bin, or, when it is empty, a linkwatch built
// from this repository into dir.
func linkwatchBinary(ctx context.Context, bin, dir string, stdout, stderr io.Writer) (string, error) {
	if bin != "" {
		return bin, nil
	}
	bin = filepath.Join(dir, "linkwatch")
	fmt.Fprintln(stdout, "linkbench: building linkwatch")
	build := exec.CommandContext(ctx, "go", "build", "-o", bin, "linkwatch/cmd/linkwatch")
	build.Stdout, build.Stderr = stderr, stderr
	if err := build.Run(); err != nil {
		return "", fmt.Errorf("build linkwatch (run from the repository, or give -linkwatch): %w", err)
	}
	return bin, nil
}

// serveProc is one linkwatch serve process.
type serveProc struct {
	cmd       *exec.Cmd
	done      chan struct{} // closed when it has exited
	listening chan struct{} // closed when it has said it listens
}

// startServe starts bin serve -config cfgPath with args after them and
// env added to the bench's environment (a DSN goes there, never in a
// file), its log going to log. It dies with the bench, however the bench
// ends.
func startServe(bin, cfgPath string, args, env []string, log io.Writer) (*serveProc, error) {
	cmd := exec.Command(bin, append([]string{"serve", "-config", cfgPath}, args...)...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stderr = log
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start linkwatch: %w", err)
	}
	p := &serveProc{cmd: cmd, done: make(chan struct{}), listening: make(chan struct{})}
	read := make(chan struct{})
	go func() {
		defer close(read)
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if strings.Contains(sc.Text(), "listening") {
				close(p.listening)
				break
			}
		}
		_, _ = io.Copy(io.Discard, out)
	}()
	// Wait only once stdout is read to its end: Wait closes the pipe.
	go func() { <-read; _ = cmd.Wait(); close(p.done) }()
	return p, nil
}

// waitListening returns once p says it listens: an error if it exits
// first, or does not within a minute (a linkwatch on PostgreSQL waits
// for the database before it listens).
func (p *serveProc) waitListening(ctx context.Context) error {
	select {
	case <-p.listening:
		return nil
	case <-p.done:
		return errors.New("linkwatch exited before it listened")
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(time.Minute):
		return errors.New("linkwatch did not listen within a minute")
	}
}

func (p *serveProc) pid() int { return p.cmd.Process.Pid }

// kill sends SIGKILL and returns once the process is gone.
func (p *serveProc) kill() {
	_ = p.cmd.Process.Kill()
	<-p.done
}

// stop ends the process as a deploy does (SIGTERM), and kills it if it has
// not exited within 30 s.
func (p *serveProc) stop() {
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(30 * time.Second):
		p.kill()
	}
}

// exited reports whether the process has exited.
func (p *serveProc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// startPostgres starts a throwaway PostgreSQL server with one empty
// database for linkwatch, and returns the server and the database's DSN.
func startPostgres(ctx context.Context) (*pgserver.Server, string, error) {
	bin, err := pgserver.BinDir()
	if err != nil {
		return nil, "", err
	}
	pg, err := pgserver.Start(bin)
	if err != nil {
		return nil, "", err
	}
	if err := pg.CreateDatabase(ctx, "linkbench"); err != nil {
		_ = pg.Stop()
		return nil, "", err
	}
	return pg, pg.DSN("linkbench"), nil
}

// postgresVersion is what the throwaway server's postgres says it is.
func postgresVersion(ctx context.Context) string {
	bin, err := pgserver.BinDir()
	if err != nil {
		return "PostgreSQL"
	}
	v, err := exec.CommandContext(ctx, filepath.Join(bin, "postgres"), "--version").Output()
	if err != nil {
		return "PostgreSQL"
	}
	return strings.TrimSpace(string(v))
}
