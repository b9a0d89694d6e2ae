package main

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// fifo makes a FIFO at path.
func fifo(t *testing.T, path string) {
	t.Helper()
	if err := syscall.Mkfifo(path, 0o600); err != nil {
		t.Fatal(err)
	}
}

// fifoReader reports whether anyone has the FIFO open for reading (an
// open for writing that does not wait fails with ENXIO otherwise).
func fifoReader(t *testing.T, path string) bool {
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

// A config path that is a FIFO without a writer once ignored SIGTERM in
// validate, check and serve: each waited in open for a writer that never
// came. Each now stops, and leaves no reader behind.
func TestCommandsStopOnCancelWhileAFIFOHasNoWriter(t *testing.T) {
	for _, cmd := range []string{"validate", "check", "serve"} {
		path := filepath.Join(t.TempDir(), "config.yaml")
		fifo(t, path)
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan error, 1)
		go func() {
			var out, errOut strings.Builder
			done <- run(ctx, []string{"linkwatch", cmd, "-config", path}, func(string) string { return "" }, &out, &errOut)
		}()
		cancel() // SIGTERM, before or while the open waits
		select {
		case err := <-done:
			if !errors.Is(err, context.Canceled) {
				t.Errorf("%s: err = %v, want context.Canceled", cmd, err)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("%s did not stop on cancel while its config is a FIFO without a writer", cmd)
		}
		if fifoReader(t, path) {
			t.Errorf("%s left the FIFO open", cmd)
		}
	}
}

// A SIGHUP reload reading a FIFO whose writer says nothing stops at
// shutdown: serve returns, and the FIFO is left without a reader. Not
// parallel: the SIGHUP reaches every serve of the test process.
func TestReloadFromASilentFIFOStopsAtShutdown(t *testing.T) {
	app := startApp(t, e2eConfig, map[string]string{"ADMIN_TOKEN": "0123456789abcdef0123"})
	cfgPath := filepath.Join(filepath.Dir(app.DBPath), "config.yaml")
	if err := os.Remove(cfgPath); err != nil {
		t.Fatal(err)
	}
	fifo(t, cfgPath)
	if err := syscall.Kill(os.Getpid(), syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	// The reload waits in its open; a writer that does not wait can open
	// once it does. Then the reload reads, and nothing comes.
	var w *os.File
	waitUntil(t, 10*time.Second, "the reload to open the FIFO", func() bool {
		f, err := os.OpenFile(cfgPath, os.O_WRONLY|syscall.O_NONBLOCK, 0)
		if err != nil && !errors.Is(err, syscall.ENXIO) {
			t.Fatal(err)
		}
		w = f
		return err == nil
	})
	if _, err := w.WriteString("pages:\n"); err != nil {
		t.Fatal(err)
	}
	if err := app.stop(t); err != nil {
		t.Fatalf("serve returned %v; stderr:\n%s", err, app.stderr)
	}
	w.Close()
	if fifoReader(t, cfgPath) {
		t.Error("the reload left the FIFO open")
	}
	if !strings.Contains(app.stderr.String(), "config reload abandoned: shutting down") {
		t.Errorf("the reload's end is not in the log:\n%s", app.stderr)
	}
}
