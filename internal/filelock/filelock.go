// Package filelock tells what a dead process left behind from what a live one is still writing. A writer
// holds an flock(2) lock on its file for as long as it may use the file; the kernel drops the lock when the
// process ends, however it ends (kill -9 included), so a file whose lock can be taken has no live writer.
// A process id in a file cannot say as much: ids are reused.
package filelock

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
)

// ErrUnsupported is returned where the system has no flock: nothing can be proven stale there, so
// nothing is swept.
var ErrUnsupported = errors.New("file locks not supported on this system")

// Create makes path, locked by the returned file and holding this process's id (for whoever looks), until
// the file is closed or the process ends. The lock is taken before the file has its name, so no sweeper
// can find path unlocked while its owner lives.
func Create(path string) (*os.File, error) {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".new-*")
	if err != nil {
		return nil, fmt.Errorf("create lock file %s: %w", path, err)
	}
	if err := Lock(f); err == nil {
		_, err = f.WriteString(strconv.Itoa(os.Getpid()) + "\n")
	}
	if err == nil {
		err = os.Rename(f.Name(), path)
	}
	if err != nil {
		f.Close()
		os.Remove(f.Name())
		return nil, fmt.Errorf("create lock file %s: %w", path, err)
	}
	return f, nil
}

// Stale reports whether no live process holds a lock on path. When it is stale, Stale returns a release
// func holding the lock meanwhile (the caller removes what path marks, then releases); path cannot be
// locked again by its owner, which locked it once, when it was made. It returns false on systems without
// flock.
func Stale(path string) (stale bool, release func(), err error) {
	f, err := os.Open(path)
	if err != nil {
		return false, nil, err
	}
	switch err := tryLock(f); {
	case err == nil:
		return true, func() { f.Close() }, nil
	case errors.Is(err, errHeld), errors.Is(err, ErrUnsupported):
		f.Close()
		return false, nil, nil
	default:
		f.Close()
		return false, nil, fmt.Errorf("lock %s: %w", path, err)
	}
}

var errHeld = errors.New("held by another process")
