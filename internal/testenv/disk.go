package testenv

import (
	"fmt"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"
)

// SmallDisk mounts a tmpfs of size bytes in a new temporary directory and returns it, unmounted when the
// test ends: a disk that really fills, so that a writer meets the kernel's ENOSPC rather than a stand-in.
// Mounting needs root (CAP_SYS_ADMIN); where it is refused the test is skipped, or fails under
// XLING_REQUIRE_ORACLES=1 (Missing).
func SmallDisk(t testing.TB, size int) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "disk")
	if err := unix.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := unix.Mount("tmpfs", dir, "tmpfs", 0, fmt.Sprintf("size=%d", size)); err != nil {
		Missing(t, fmt.Sprintf("a %d-byte tmpfs at %s (mount: %v; needs root)", size, dir, err))
	}
	// Registered after TempDir's removal, so it runs first: the directory is removed once unmounted.
	t.Cleanup(func() {
		if err := unix.Unmount(dir, 0); err != nil {
			t.Errorf("unmount %s: %v", dir, err)
		}
	})
	return dir
}
