//go:build !linux

package storagefault

import "testing"

// SmallDisk needs Linux's tmpfs; elsewhere the test is skipped.
func SmallDisk(tb testing.TB, size int64) string {
	tb.Skip("storage fault tests need Linux (tmpfs)")
	return ""
}

// FillDisk is not reached: SmallDisk skips.
func FillDisk(tb testing.TB, dir string) func() { return func() {} }

// ReadOnly needs Linux's chattr +i; elsewhere the test is skipped.
func ReadOnly(tb testing.TB, path string) func() {
	tb.Skip("storage fault tests need Linux (chattr +i)")
	return func() {}
}

// DiskDir is TempDir elsewhere.
func DiskDir(tb testing.TB) string { return tb.TempDir() }
