//go:build linux || darwin || freebsd || netbsd || openbsd

package offheap

import "syscall"

// mapAnon maps size zeroed bytes of private anonymous memory.
func mapAnon(size int) (b []byte, unmap func(), ok bool) {
	b, err := syscall.Mmap(-1, 0, size, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_ANON|syscall.MAP_PRIVATE)
	if err != nil {
		return nil, nil, false
	}
	return b, func() { _ = syscall.Munmap(b) }, true
}
