package retrieval

// The scoring kernel is a register-blocked matrix multiply: mr queries (packed dimension-major) against
// one panel of nr candidates (packed the same way), so that each step of the dimension loop loads one row
// of nr candidate components, broadcasts each query's component, and adds mr*nr fused products into
// accumulators held in registers. Each accumulator sums its own (query, candidate) pair with one fused
// multiply-add per dimension, in order d = 0, 1, ..., dim-1, starting from zero: a score never depends on
// the kernel, the blocking, the threads or on which other vectors share its call.
const (
	nr    = 16 // candidates per packed panel
	maxMR = 12 // the most queries a kernel takes per call
)

// kernels is one implementation of the inner loops.
type kernels struct {
	name string
	mr   int // queries per micro call; divides queryBlock
	// micro sets out[i*ostride+j] to the score of packed query i (qp[d*mr+i]) against the j-th
	// candidate of panel p, for i < mr and j < nr.
	micro func(qp, p []float32, dim int, out []float32, ostride int)
	// count returns how many of s are greater than t.
	count func(s []float32, t float32) int
	// aboveMask sets bit i%64 of mask[i/64] where s[i] > t, and clears the others (of the
	// (len(s)+63)/64 words).
	aboveMask func(s []float32, t float32, mask []uint64)
}

// pickKernels returns the fastest assembly kernels the CPU runs (all of which give the same bits), else
// the portable ones.
func pickKernels() *kernels {
	if ks := assembly(); len(ks) > 0 {
		return ks[0]
	}
	return portable()
}

// portable is the kernel set for CPUs without AVX2 and FMA, and for other architectures. Go has no
// float32 fused multiply-add to call, so it rounds each product before adding it (the explicit conversion
// forbids the compiler from fusing): deterministic on every platform, but its scores may differ from the
// FMA kernels' in the last bits.
func portable() *kernels {
	return &kernels{name: "go", mr: 6, micro: microGo, count: countGo, aboveMask: aboveMaskGo}
}

func microGo(qp, p []float32, dim int, out []float32, ostride int) {
	const mr = 6
	qp, p = qp[:dim*mr], p[:dim*nr]
	for i := range mr {
		var acc [nr]float32
		for d := range dim {
			a := qp[d*mr+i]
			row := p[d*nr : (d+1)*nr : (d+1)*nr]
			for j, c := range row {
				acc[j] += float32(a * c)
			}
		}
		copy(out[i*ostride:i*ostride+nr], acc[:])
	}
}

// packQueries lays the n (at most mr) row-major queries in qs out dimension-major for a micro call:
// dst[d*mr+i] is component d of query i, zero for i >= n.
func packQueries(dst, qs []float32, n, dim, mr int) {
	dst = dst[:dim*mr]
	clear(dst)
	for i := range n {
		for d, x := range qs[i*dim : (i+1)*dim] {
			dst[d*mr+i] = x
		}
	}
}

func countGo(s []float32, t float32) int {
	n := 0
	for _, x := range s {
		if x > t {
			n++
		}
	}
	return n
}

func aboveMaskGo(s []float32, t float32, mask []uint64) {
	clear(mask[:(len(s)+63)/64])
	for i, x := range s {
		if x > t {
			mask[i/64] |= 1 << (i % 64)
		}
	}
}

// pack lays n candidates of dim floats (vector(c) is the c-th) out in panels of nr, dimension-major
// (panel[d*nr+j] is component d of the panel's j-th candidate), zero-padded to a whole panel.
func pack(n, dim int, vector func(c int) []float32) []float32 {
	panels := (n + nr - 1) / nr
	out := make([]float32, panels*nr*dim)
	for c := range n {
		p := out[(c/nr)*nr*dim:]
		j := c % nr
		for d, x := range vector(c)[:dim] {
			p[d*nr+j] = x
		}
	}
	return out
}

// rows is the vector function of v, dim-float vectors laid end to end.
func rows(v []float32, dim int) func(i int) []float32 {
	return func(i int) []float32 { return v[i*dim : (i+1)*dim] }
}

// Score returns the score that Search, on this machine, gives candidate c for query q (bit for bit): a
// shard that does not hold a relevant candidate takes its score from here (see Target).
func Score(q, c []float32) float32 {
	if len(q) != len(c) || len(q) == 0 {
		panic("retrieval.Score: vectors of different or zero length")
	}
	kern := pickKernels()
	qp := make([]float32, len(q)*kern.mr)
	packQueries(qp, q, 1, len(q), kern.mr)
	var out [maxMR * nr]float32
	kern.micro(qp, pack(1, len(c), rows(c, len(c))), len(q), out[:], nr)
	return out[0]
}
