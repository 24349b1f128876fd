// Package offheap allocates large, pointer-free, long-lived arrays outside the Go heap. The garbage
// collector lets the heap grow to about twice what was live after the last collection (GOGC=100): a
// trainer's half gigabyte of optimiser state on the heap lets another half gigabyte of short-lived
// garbage pile up before the next collection. Memory from here is not part of that sum.
package offheap

import "unsafe"

// minBytes is the smallest request mapped outside the heap; smaller ones are not worth a system call.
const minBytes = 1 << 20

// Slice returns n zeroed values of T, which must hold no pointers (the collector does not look inside
// this memory), and a function that frees them, to be called once nothing uses the slice. Small requests,
// and systems without anonymous mappings, are served from the heap, and free does nothing.
func Slice[T any](n int) (s []T, free func()) {
	var zero T
	size := uintptr(n) * unsafe.Sizeof(zero)
	if n <= 0 || size < minBytes || size/unsafe.Sizeof(zero) != uintptr(n) {
		return make([]T, n), func() {}
	}
	b, unmap, ok := mapAnon(int(size))
	if !ok {
		return make([]T, n), func() {}
	}
	return unsafe.Slice((*T)(unsafe.Pointer(unsafe.SliceData(b))), n), unmap
}
