//go:build amd64 && !purego

package retrieval

import (
	"unsafe"

	"golang.org/x/sys/cpu"
)

//go:noescape
func microAVX2(qp *float32, p *float32, dim uintptr, out *float32, ostride uintptr)

//go:noescape
func microAVX512(qp *float32, p *float32, dim uintptr, out *float32, ostride uintptr)

//go:noescape
func aboveMaskAVX2(s *float32, n uintptr, t float32, mask *byte)

//go:noescape
func countAVX2(s *float32, n uintptr, t float32) uintptr

// assembly returns the assembly kernels this CPU runs, best first: AVX-512 (12 queries a call), then
// AVX2 with FMA (6 queries a call).
func assembly() []*kernels {
	if !cpu.X86.HasAVX2 || !cpu.X86.HasFMA {
		return nil
	}
	avx2 := &kernels{name: "avx2", mr: 6, micro: asmMicro(6, microAVX2), count: countAsm, aboveMask: aboveMaskAsm}
	if !cpu.X86.HasAVX512F {
		return []*kernels{avx2}
	}
	avx512 := &kernels{name: "avx512", mr: 12, micro: asmMicro(12, microAVX512), count: countAsm, aboveMask: aboveMaskAsm}
	return []*kernels{avx512, avx2}
}

func asmMicro(mr int, f func(qp *float32, p *float32, dim uintptr, out *float32, ostride uintptr)) func(qp, p []float32, dim int, out []float32, ostride int) {
	return func(qp, p []float32, dim int, out []float32, ostride int) {
		_, _, _ = qp[dim*mr-1], p[dim*nr-1], out[(mr-1)*ostride+nr-1] // the assembly's reach
		f(&qp[0], &p[0], uintptr(dim), &out[0], uintptr(4*ostride))
	}
}

func countAsm(s []float32, t float32) int {
	n := len(s) &^ 7
	c := 0
	if n > 0 {
		c = int(countAVX2(&s[0], uintptr(n), t))
	}
	return c + countGo(s[n:], t)
}

func aboveMaskAsm(s []float32, t float32, mask []uint64) {
	n := len(s) &^ 7
	clear(mask[:(len(s)+63)/64])
	if n > 0 {
		b := unsafe.Slice((*byte)(unsafe.Pointer(&mask[0])), n/8) // bytes of the words, little-endian
		aboveMaskAVX2(&s[0], uintptr(n), t, &b[0])
	}
	for i := n; i < len(s); i++ {
		if s[i] > t {
			mask[i/64] |= 1 << (i % 64)
		}
	}
}
