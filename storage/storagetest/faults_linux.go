//go:build linux

package storagetest

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

// SmallDisk mounts a tmpfs of size bytes on a fresh directory and returns
// it; it is unmounted when the test ends. Mounting needs root (CAP_SYS_ADMIN):
// without it the test is skipped, except under CI=true, where .ci/run runs
// as root and a skipped fault test would hide a regression.
func SmallDisk(tb testing.TB, size int64) string {
	tb.Helper()
	dir := tb.TempDir()
	if err := syscall.Mount("tmpfs", dir, "tmpfs", syscall.MS_NOSUID|syscall.MS_NODEV, fmt.Sprintf("size=%d,mode=0700", size)); err != nil {
		unavailable(tb, fmt.Errorf("mount a tmpfs on %s: %w", dir, err))
	}
	// Registered after TempDir's clean-up, so it runs first: unmount, then
	// remove the (then empty) directory. MNT_DETACH: a database the test
	// forgot to close must not make the clean-up fail.
	tb.Cleanup(func() {
		if err := syscall.Unmount(dir, syscall.MNT_DETACH); err != nil {
			tb.Errorf("unmount %s: %v", dir, err)
		}
	})
	return dir
}

func unavailable(tb testing.TB, err error) {
	tb.Helper()
	if os.Getenv("CI") == "true" {
		tb.Fatalf("storage fault test needs root to mount a small file system (CI=true): %v", err)
	}
	tb.Skipf("storage fault test skipped: %v (run as root, as CI does)", err)
}

// FillDisk writes a filler file in dir until its file system is full, and
// returns a function that deletes it again.
func FillDisk(tb testing.TB, dir string) (free func()) {
	tb.Helper()
	path := filepath.Join(dir, "filler")
	f, err := os.Create(path)
	if err != nil {
		tb.Fatalf("fill disk: %v", err)
	}
	chunk := make([]byte, 64<<10)
	for {
		if _, err = f.Write(chunk); err != nil {
			break
		}
	}
	// Smaller writes fill the last partial chunk's worth of space too.
	for _, err = f.Write(chunk[:512]); err == nil; _, err = f.Write(chunk[:512]) {
	}
	f.Close()
	if !errors.Is(err, syscall.ENOSPC) {
		tb.Fatalf("fill disk: want ENOSPC, got %v", err)
	}
	return func() {
		if err := os.Remove(path); err != nil {
			tb.Errorf("free disk: %v", err)
		}
	}
}

// ReadOnly remounts dir, a SmallDisk, read-only, as a kernel does with a
// file system after an I/O error; writable returns it to read-write.
func ReadOnly(tb testing.TB, dir string) (writable func()) {
	tb.Helper()
	if err := syscall.Mount("", dir, "", syscall.MS_REMOUNT|syscall.MS_RDONLY, ""); err != nil {
		tb.Fatalf("remount %s read-only: %v", dir, err)
	}
	return func() {
		if err := syscall.Mount("", dir, "", syscall.MS_REMOUNT, ""); err != nil {
			tb.Errorf("remount %s read-write: %v", dir, err)
		}
	}
}
