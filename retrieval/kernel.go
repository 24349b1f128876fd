package retrieval

import "math"

// The scoring kernel is a register-blocked matrix multiply: mr queries against one panel of nr candidates
// packed dimension-major, so that each step of the dimension loop loads one row of nr candidate components,
// broadcasts each query's component, and adds mr*nr fused products into accumulators held in registers.
// Each accumulator sums its own (query, candidate) pair with one fused multiply-add per dimension, in
// order d = 0, 1, ..., dim-1, starting from zero: a score never depends on blocking, threads or on which
// other candidates share its panel.
const (
	mr = 6  // queries per micro-kernel call
	nr = 16 // candidates per packed panel
)

// kernels is one implementation of the two inner loops.
type kernels struct {
	name string
	// micro sets out[i*ostride+j] to the score of query row q[i*qstride:] against the j-th candidate of
	// panel p, for i < mr and j < nr.
	micro func(q []float32, qstride int, p []float32, dim int, out []float32, ostride int)
	// count returns how many of s are greater than t (or equal to it, when orEqual).
	count func(s []float32, t float32, orEqual bool) int
	// firstAbove returns the index of the first of s greater than t, or len(s).
	firstAbove func(s []float32, t float32) int
}

// pickKernels returns the assembly kernels where the CPU runs them, else the portable ones, which give
// bit-identical scores.
func pickKernels() *kernels {
	if k := avx2(); k != nil {
		return k
	}
	return portable()
}

func portable() *kernels {
	return &kernels{name: "go", micro: microGo, count: countGo, firstAbove: firstAboveGo}
}

func microGo(q []float32, qstride int, p []float32, dim int, out []float32, ostride int) {
	p = p[:dim*nr]
	for i := range mr {
		qi := q[i*qstride : i*qstride+dim]
		o := out[i*ostride : i*ostride+nr]
		for j := range o {
			var s float32
			for d, a := range qi {
				s = fma32(a, p[d*nr+j], s)
			}
			o[j] = s
		}
	}
}

func countGo(s []float32, t float32, orEqual bool) int {
	n := 0
	for _, x := range s {
		if x > t || (orEqual && x == t) {
			n++
		}
	}
	return n
}

func firstAboveGo(s []float32, t float32) int {
	for i, x := range s {
		if x > t {
			return i
		}
	}
	return len(s)
}

// fma32 returns a*b+c rounded once to float32, as a fused multiply-add instruction does. The product is
// exact in float64; the sum is rounded to odd in float64 (53 bits, more than 24+2), after which rounding to
// float32 gives the correctly rounded result.
func fma32(a, b, c float32) float32 {
	p := float64(a) * float64(b)
	cc := float64(c)
	s := p + cc
	// Two-sum: e is the exact error s - (p + cc).
	bv := s - p
	e := (p - (s - bv)) + (cc - bv)
	if e != 0 {
		bits := math.Float64bits(s)
		if bits&1 == 0 { // even: step to the odd neighbour on the side of the exact sum
			if (e > 0) == (s > 0) {
				bits++
			} else {
				bits--
			}
		}
		s = math.Float64frombits(bits)
	}
	return float32(s)
}

// pack lays candidates out in panels of nr, dimension-major (panel[d*nr+j] is component d of the panel's
// j-th candidate), zero-padded to a whole panel.
func pack(cands []float32, dim int) []float32 {
	n := len(cands) / dim
	panels := (n + nr - 1) / nr
	out := make([]float32, panels*nr*dim)
	for c := range n {
		p := out[(c/nr)*nr*dim:]
		j := c % nr
		for d, x := range cands[c*dim : (c+1)*dim] {
			p[d*nr+j] = x
		}
	}
	return out
}

// Score returns the score that Search gives candidate c for query q (bit for bit): a shard that does not
// hold a relevant candidate takes its score from here (see Target).
func Score(q, c []float32) float32 {
	if len(q) != len(c) || len(q) == 0 {
		panic("retrieval.Score: vectors of different or zero length")
	}
	var out [mr * nr]float32
	pickKernels().micro(q, 0, pack(c, len(c)), len(q), out[:], nr)
	return out[0]
}
