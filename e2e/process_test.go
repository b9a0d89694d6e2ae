package e2e

import (
	"bufio"
	"bytes"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// fastEnv lowers the shortest probe.interval the binary accepts to 100ms
// (an environment variable for tests only; see the README): the tests run
// their deployments at a few hundred milliseconds an interval.
const fastEnv = "LINKWATCH_TEST_MIN_INTERVAL=100ms"

// lockedBuffer is an io.Writer safe to read while a process writes to it.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// writeConfig writes a config file into dir and returns its path.
func writeConfig(t *testing.T, dir, cfg string) string {
	t.Helper()
	f, err := os.CreateTemp(dir, "config-*.yaml")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteString(cfg); err != nil {
		t.Fatal(err)
	}
	return f.Name()
}

// proc is one `linkwatch serve` process.
type proc struct {
	cmd    *exec.Cmd
	URL    string // where it listens, from its first line of output
	stderr *lockedBuffer
	done   chan struct{} // closed when it has exited
	// Links are paths a scene seeded that are worth visiting, by name (an
	// email subscriber's confirmation and manage pages, whose tokens the
	// scene signed).
	Links map[string]string
}

// startServe runs `linkwatch serve -config cfgPath` on a free loopback port
// with the test's environment plus env, and waits until it serves. The
// process is killed, if still running, when the test ends; its log is
// printed if the test failed.
func startServe(t *testing.T, cfgPath string, env ...string) *proc {
	t.Helper()
	cmd := exec.Command(linkwatchBin, "serve", "-config", cfgPath, "-addr", "127.0.0.1:0")
	cmd.Env = append(append(os.Environ(), fastEnv), env...)
	p := &proc{cmd: cmd, stderr: &lockedBuffer{}, done: make(chan struct{})}
	cmd.Stderr = p.stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { _ = cmd.Wait(); close(p.done) }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-p.done
		if t.Failed() {
			t.Logf("linkwatch %s (%s) stderr:\n%s", p.URL, filepath.Base(cfgPath), p.stderr)
		}
	})
	line := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		if sc.Scan() {
			line <- sc.Text()
		}
		close(line)
		_, _ = io.Copy(io.Discard, out)
	}()
	select {
	case l := <-line:
		u, ok := strings.CutPrefix(l, "linkwatch listening on ")
		if !ok {
			t.Fatalf("linkwatch's first line %q; stderr:\n%s", l, p.stderr)
		}
		p.URL = u
	case <-time.After(60 * time.Second): // a bound on a hung start, not a timed assertion
		t.Fatalf("linkwatch did not start; stderr:\n%s", p.stderr)
	}
	return p
}

// stop sends SIGTERM and waits for the process to exit.
func (p *proc) stop(t *testing.T) {
	t.Helper()
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(60 * time.Second):
		_ = p.cmd.Process.Signal(syscall.SIGQUIT) // its goroutines' stacks, to stderr
		<-p.done
		t.Fatalf("linkwatch %s did not stop on SIGTERM:\n%s", p.URL, p.stderr)
	}
	if code := p.cmd.ProcessState.ExitCode(); code != 0 {
		t.Errorf("linkwatch %s exited %d after SIGTERM; stderr:\n%s", p.URL, code, p.stderr)
	}
}

// kill sends SIGKILL: no goodbye, nothing flushed.
func (p *proc) kill() {
	_ = p.cmd.Process.Kill()
	<-p.done
}

// reload sends SIGHUP: linkwatch reads its config file again.
func (p *proc) reload(t *testing.T) {
	t.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
}

// waitUntil polls cond until it holds, or fails the test after limit: a
// bound on something that does not happen, never a measure of speed.
func waitUntil(t *testing.T, limit time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", limit, what)
		}
		time.Sleep(50 * time.Millisecond) // a poll of processes: real time
	}
}

// noRedirect is a client that reports redirects instead of following them.
var noRedirect = &http.Client{
	Timeout:       10 * time.Second,
	CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
}

// get requests url and returns the response with its body read.
func get(t *testing.T, method, url string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := noRedirect.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp, string(body)
}
