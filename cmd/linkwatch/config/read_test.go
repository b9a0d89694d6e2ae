package config

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"
)

// allocated returns how many bytes fn allocated.
func allocated(fn func()) uint64 {
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	fn()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// A regular file over the limit is refused by its size, unread: a 1 GB
// file once took the process's memory to 1 GB.
func TestLoadFileRefusesALargeFileUnread(t *testing.T) {
	path := filepath.Join(t.TempDir(), "big.yaml")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(1 << 30); err != nil { // sparse: no disk used
		t.Fatal(err)
	}
	f.Close()
	var lerr error
	if n := allocated(func() { _, lerr = LoadFile(t.Context(), path, noEnv) }); n > 1<<20 {
		t.Errorf("refusing a 1 GB file allocated %d bytes: it was read", n)
	}
	if lerr == nil || !strings.Contains(lerr.Error(), "(file): is larger than 4194304 bytes") {
		t.Errorf("err = %v, want the size named", lerr)
	}
}

// A device without end is read up to the limit, then refused: validate
// -config /dev/zero once ran out of memory.
func TestLoadFileReadsAnEndlessFileToTheLimit(t *testing.T) {
	var lerr error
	if n := allocated(func() { _, lerr = LoadFile(t.Context(), "/dev/zero", noEnv) }); n > 64<<20 {
		t.Errorf("reading /dev/zero allocated %d bytes", n)
	}
	if lerr == nil || !strings.Contains(lerr.Error(), "(file): is larger than 4194304 bytes") {
		t.Errorf("err = %v, want the size named", lerr)
	}
}

// mkfifo makes a FIFO in a temp dir.
func mkfifo(t *testing.T) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "config.yaml")
	if err := syscall.Mkfifo(path, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// hasReader reports whether anyone has the FIFO open for reading (an open
// for writing that does not wait fails with ENXIO otherwise). A writer
// opened this way is closed again at once.
func hasReader(t *testing.T, path string) bool {
	t.Helper()
	w, err := os.OpenFile(path, os.O_WRONLY|syscall.O_NONBLOCK, 0)
	if errors.Is(err, syscall.ENXIO) {
		return false
	}
	if err != nil {
		t.Fatal(err)
	}
	w.Close()
	return true
}

// loadAsync runs LoadFile on its own goroutine; a test fails rather than
// hangs when it never returns.
func loadAsync(ctx context.Context, path string) func(t *testing.T) (*Config, error) {
	type res struct {
		cfg *Config
		err error
	}
	done := make(chan res, 1)
	go func() {
		cfg, err := LoadFile(ctx, path, noEnv)
		done <- res{cfg, err}
	}()
	return func(t *testing.T) (*Config, error) {
		t.Helper()
		select {
		case r := <-done:
			return r.cfg, r.err
		case <-time.After(10 * time.Second):
			t.Fatal("LoadFile did not return once its context ended")
			return nil, nil
		}
	}
}

// A FIFO no one writes to: opening it waits for a writer, and the wait
// ends with the context (SIGTERM), leaving no reader behind.
func TestLoadFileFromAFIFOWithoutAWriterStopsOnCancel(t *testing.T) {
	for _, early := range []bool{true, false} {
		path := mkfifo(t)
		ctx, cancel := context.WithCancel(t.Context())
		if early {
			cancel()
		}
		wait := loadAsync(ctx, path)
		cancel()
		if _, err := wait(t); !errors.Is(err, context.Canceled) || !strings.Contains(err.Error(), "not read") {
			t.Errorf("err = %v, want not read: context canceled", err)
		}
		if hasReader(t, path) {
			t.Error("the abandoned open still holds the FIFO")
		}
	}
}

// A FIFO whose writer never writes nor closes: the read ends with the
// context.
func TestLoadFileFromASilentFIFOStopsOnCancel(t *testing.T) {
	path := mkfifo(t)
	ctx, cancel := context.WithCancel(t.Context())
	wait := loadAsync(ctx, path)
	// Once LoadFile waits in its open, a writer can open without waiting;
	// then LoadFile reads, and nothing comes.
	var w *os.File
	for w == nil {
		if f, err := os.OpenFile(path, os.O_WRONLY|syscall.O_NONBLOCK, 0); err == nil {
			w = f
		} else if !errors.Is(err, syscall.ENXIO) {
			t.Fatal(err)
		} else {
			time.Sleep(time.Millisecond) // a poll: the reader opens the FIFO in real time
		}
	}
	defer w.Close()
	if _, err := w.WriteString("pages:\n"); err != nil {
		t.Fatal(err)
	}
	cancel()
	if _, err := wait(t); !errors.Is(err, context.Canceled) {
		t.Errorf("err = %v, want context canceled", err)
	}
}

// A FIFO is still a way to hand over a config: what its writer writes
// is read to the end.
func TestLoadFileFromAFIFO(t *testing.T) {
	path := mkfifo(t)
	wait := loadAsync(t.Context(), path)
	w, err := os.OpenFile(path, os.O_WRONLY, 0) // waits for LoadFile's open
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.WriteString(validPages); err != nil {
		t.Fatal(err)
	}
	w.Close()
	cfg, err := wait(t)
	if err != nil || len(cfg.Pages) != 1 {
		t.Fatalf("LoadFile = %v, %v", cfg, err)
	}
}

func noEnv(string) string { return "" }
