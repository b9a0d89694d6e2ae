package config

import (
	"context"
	"fmt"
	"io"
	"io/fs"
	"os"
	"syscall"
	"time"
)

// readFile reads the config file at path, at most maxConfigBytes (and one
// more, so Parse can tell a file that is too large), and gives up when ctx
// ends, however the file behaves: a regular file is refused by its size
// before anything is read; anything else (a FIFO, /dev/zero, a process
// substitution) is read through a limit; opening a FIFO that has no
// writer, and reading one whose writer is silent, end with ctx.
func readFile(ctx context.Context, path string) ([]byte, error) {
	f, err := open(ctx, path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("read config: %w", err)
	}
	if fi.Mode().IsRegular() && fi.Size() > maxConfigBytes {
		return nil, tooLarge(path)
	}
	// A pipe's read waits in the runtime's poller: a deadline in the past
	// ends it. (A regular file's read does not wait; it has no deadline.)
	stop := context.AfterFunc(ctx, func() { _ = f.SetReadDeadline(time.Unix(1, 0)) })
	defer stop()
	data, err := io.ReadAll(io.LimitReader(f, maxConfigBytes+1))
	if ctx.Err() != nil {
		return nil, notRead(ctx, path)
	}
	if err != nil {
		return nil, fmt.Errorf("read config: %w", err)
	}
	return data, nil
}

// open opens path for reading, giving up when ctx ends. Opening a FIFO
// blocks until a writer opens it too, which may be never, so the open runs
// on its own goroutine. When ctx ends first and path is a FIFO, open
// becomes a writer of it for a moment, which lets the waiting open return,
// and closes what that opened: nothing is left behind. Anything else that
// blocks an open is left to finish on its own, and what it opens is
// closed then.
func open(ctx context.Context, path string) (*os.File, error) {
	type opened struct {
		f   *os.File
		err error
	}
	done := make(chan opened, 1)
	go func() {
		f, err := os.Open(path)
		done <- opened{f, err}
	}()
	select {
	case o := <-done:
		if o.err != nil {
			return nil, fmt.Errorf("read config: %w", o.err)
		}
		return o.f, nil
	case <-ctx.Done():
	}
	// Read and write, a FIFO's open does not wait (on Linux): while this
	// end is open, the waiting open has its writer, whenever it gets to
	// the open call.
	if fi, err := os.Stat(path); err == nil && fi.Mode()&fs.ModeNamedPipe != 0 {
		if w, err := os.OpenFile(path, os.O_RDWR|syscall.O_NONBLOCK, 0); err == nil {
			o := <-done
			w.Close()
			if o.f != nil {
				o.f.Close()
			}
			return nil, notRead(ctx, path)
		}
	}
	go func() {
		if o := <-done; o.f != nil {
			o.f.Close()
		}
	}()
	return nil, notRead(ctx, path)
}

// notRead is the error of a config not read because ctx ended.
func notRead(ctx context.Context, path string) error {
	return fmt.Errorf("%s: not read: %w", path, context.Cause(ctx))
}

// tooLarge is the error of a config file above maxConfigBytes.
func tooLarge(source string) error {
	cerr := &Error{Source: source}
	cerr.add("(file)", "is larger than %d bytes", maxConfigBytes)
	return cerr
}
