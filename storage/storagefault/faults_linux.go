//go:build linux

package storagefault

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
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

// DiskDir returns a fresh directory on a disk file system, removed when the
// test ends: /var/tmp, which Debian keeps on disk even where /tmp is a tmpfs
// (whose chattr +i does not stop files already open), or else TempDir.
func DiskDir(tb testing.TB) string {
	tb.Helper()
	dir, err := os.MkdirTemp("/var/tmp", "linkwatch-fault-")
	if err != nil {
		return tb.TempDir()
	}
	tb.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

// ReadOnly makes the database at path and its WAL immutable (chattr +i),
// which refuses every write even to root and through files already open,
// as a read-only file does to a server that does not run as root;
// writable lifts it. (A read-only remount is refused while SQLite holds
// the files open, and chmod does not stop root.) The -shm file is left
// alone: SQLite maps it, and an immutable mapping is a SIGBUS, not an error.
func ReadOnly(tb testing.TB, path string) (writable func()) {
	tb.Helper()
	if err := immutableHolds(filepath.Dir(path)); err != nil {
		unavailable(tb, err)
	}
	files := []string{path, path + "-wal"}
	for _, f := range files {
		if err := setImmutable(f, true); err != nil {
			unavailable(tb, fmt.Errorf("make %s immutable: %w", f, err))
		}
	}
	done := false
	writable = func() {
		if done {
			return
		}
		done = true
		for _, f := range files {
			if err := setImmutable(f, false); err != nil {
				tb.Errorf("make %s writable: %v", f, err)
			}
		}
	}
	// An immutable file cannot be removed: lift it before TempDir's clean-up.
	tb.Cleanup(writable)
	return writable
}

// immutableHolds checks that dir's file system refuses a write through an
// open file once the file is immutable (ext4 does; tmpfs checks only at open).
func immutableHolds(dir string) error {
	path := filepath.Join(dir, "immutable-check")
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return err
	}
	defer os.Remove(path)
	defer f.Close()
	if err := setImmutable(path, true); err != nil {
		return fmt.Errorf("chattr +i in %s: %w", dir, err)
	}
	_, werr := f.Write([]byte("x"))
	if err := setImmutable(path, false); err != nil {
		return err
	}
	if werr == nil {
		return fmt.Errorf("the file system of %s lets open files write past chattr +i", dir)
	}
	return nil
}

// fsImmutable is the kernel's FS_IMMUTABLE_FL (linux/fs.h), which x/sys does
// not name.
const fsImmutable = 0x00000010

func setImmutable(path string, on bool) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	flags, err := unix.IoctlGetUint32(int(f.Fd()), unix.FS_IOC_GETFLAGS)
	if err != nil {
		return err
	}
	if on {
		flags |= fsImmutable
	} else {
		flags &^= fsImmutable
	}
	return unix.IoctlSetPointerInt(int(f.Fd()), unix.FS_IOC_SETFLAGS, int(flags))
}
