//go:build !(linux || darwin || freebsd || netbsd || openbsd)

package filelock

import "os"

// Lock does nothing where there is no flock; Stale then never reports a file stale.
func Lock(*os.File) error { return nil }

func tryLock(*os.File) error { return ErrUnsupported }
