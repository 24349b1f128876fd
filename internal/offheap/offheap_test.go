package offheap

import (
	"runtime"
	"testing"
)

// A slice from Slice is zeroed and writable to its end; a large one is not part of the Go heap.
func TestLargeSlicesLiveOutsideTheHeap(t *testing.T) {
	tests := []struct {
		name    string
		n       int
		offHeap bool
	}{
		{"64 MiB of float32", 16 << 20, true},
		{"4 KiB of float32", 1 << 10, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			runtime.GC()
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			s, free := Slice[float32](tc.n)
			defer free()
			runtime.ReadMemStats(&after)
			if len(s) != tc.n {
				t.Fatalf("len %d, want %d", len(s), tc.n)
			}
			for i := range s {
				if s[i] != 0 {
					t.Fatalf("element %d is %v, want 0", i, s[i])
				}
				s[i] = float32(i)
			}
			if s[tc.n-1] != float32(tc.n-1) {
				t.Fatalf("last element %v after writing", s[tc.n-1])
			}
			if tc.offHeap && after.HeapAlloc > before.HeapAlloc+uint64(tc.n)*4/2 {
				t.Errorf("heap grew by %d bytes for a %d-byte slice that should live outside it", after.HeapAlloc-before.HeapAlloc, tc.n*4)
			}
		})
	}
}
