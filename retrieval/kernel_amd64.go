//go:build amd64 && !purego

package retrieval

import "golang.org/x/sys/cpu"

//go:noescape
func microAVX2(q *float32, qstride uintptr, p *float32, dim uintptr, out *float32, ostride uintptr)

//go:noescape
func firstAboveAVX2(s *float32, n uintptr, t float32) uintptr

//go:noescape
func countAVX2(s *float32, n uintptr, t float32, orEqual bool) uintptr

// avx2 is the AVX2/FMA kernel pair, or nil where the CPU lacks either extension.
func avx2() *kernels {
	if !cpu.X86.HasAVX2 || !cpu.X86.HasFMA {
		return nil
	}
	return &kernels{
		name: "avx2",
		micro: func(q []float32, qstride int, p []float32, dim int, out []float32, ostride int) {
			_, _, _ = q[(mr-1)*qstride+dim-1], p[dim*nr-1], out[(mr-1)*ostride+nr-1] // the assembly's reach
			microAVX2(&q[0], uintptr(4*qstride), &p[0], uintptr(dim), &out[0], uintptr(4*ostride))
		},
		count: func(s []float32, t float32, orEqual bool) int {
			n := len(s) &^ 7
			c := 0
			if n > 0 {
				c = int(countAVX2(&s[0], uintptr(n), t, orEqual))
			}
			return c + countGo(s[n:], t, orEqual)
		},
		firstAbove: func(s []float32, t float32) int {
			n := len(s) &^ 7
			if n > 0 {
				if i := int(firstAboveAVX2(&s[0], uintptr(n), t)); i < n {
					return i
				}
			}
			return n + firstAboveGo(s[n:], t)
		},
	}
}
