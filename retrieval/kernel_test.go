package retrieval

import (
	"math"
	"math/big"
	"math/rand/v2"
	"slices"
	"testing"
)

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

// microFMA is the reference for the assembly kernels: the same sums, one fma32 per step.
func microFMA(mr int, qp, p []float32, dim int, out []float32, ostride int) {
	for i := range mr {
		for j := range nr {
			var s float32
			for d := range dim {
				s = fma32(qp[d*mr+i], p[d*nr+j], s)
			}
			out[i*ostride+j] = s
		}
	}
}

// exactFMA32 is the independent reference for fma32: a*b+c computed exactly with big.Float, then
// rounded once to the nearest float32 (ties to even).
func exactFMA32(a, b, c float32) float32 {
	x := new(big.Float).SetPrec(256).SetFloat64(float64(a))
	x.Mul(x, new(big.Float).SetPrec(256).SetFloat64(float64(b)))
	x.Add(x, new(big.Float).SetPrec(256).SetFloat64(float64(c)))
	f, _ := x.Float32()
	return f
}

func TestFMA32RoundsOnceLikeTheInstruction(t *testing.T) {
	const eps = 1.0 / (1 << 23)
	cases := [][3]float32{
		// a*b = 1 + 2^-22 + 2^-46: added to -1, the 2^-46 survives only if the product is not rounded first.
		{1 + eps, 1 + eps, -1},
		{1 + eps, 1 - eps, -1},
		// a*b = 2^-24 - 2^-60: the exact sum lies just off the midpoint between two float32s, but rounding
		// it to float64 first lands on the midpoint, and ties-to-even then picks the wrong neighbour.
		{(1 + 32*eps) / 4096, (1 - 32*eps) / 4096, 1 + eps},
		{-(1 + 32*eps) / 4096, (1 - 32*eps) / 4096, 1 + eps},
		{1 + eps, 1 + 0.5*eps, 1},
		{3, 1.0 / 3, -1},
		{-0.1, 0.1, 0.01},
		{0, 5, -0},
	}
	r := rand.New(rand.NewPCG(11, 0))
	for range 200000 {
		e := func() float32 {
			return float32(r.NormFloat64() * math.Pow(2, float64(r.IntN(40)-20)))
		}
		a, b := e(), e()
		c := -a * b // cancellation, where double rounding shows
		if r.IntN(2) == 0 {
			c = e()
		}
		cases = append(cases, [3]float32{a, b, c * (1 + float32(r.IntN(5)-2)*eps)})
	}
	for _, tc := range cases {
		a, b, c := tc[0], tc[1], tc[2]
		if got, want := fma32(a, b, c), exactFMA32(a, b, c); math.Float32bits(got) != math.Float32bits(want) {
			t.Fatalf("fma32(%v, %v, %v) = %v, want %v", a, b, c, got, want)
		}
	}
}

// TestAssemblyKernelsRoundAsFMA checks that every assembly kernel set gives the bits of microFMA, which
// rounds each step as a fused multiply-add does (fma32, checked above against big.Float), and counts and
// scans as the portable functions do.
func TestAssemblyKernelsRoundAsFMA(t *testing.T) {
	kerns := assembly()
	if len(kerns) == 0 {
		t.Skip("no assembly kernel on this CPU or build")
	}
	r := rand.New(rand.NewPCG(12, 0))
	for _, asm := range kerns {
		for _, dim := range []int{1, 3, 16, 17, 128, 301} {
			qp := make([]float32, asm.mr*dim)
			p := make([]float32, nr*dim)
			for i := range qp {
				qp[i] = float32(r.NormFloat64())
			}
			for i := range p {
				p[i] = float32(r.NormFloat64())
			}
			const ostride = nr + 3
			got := make([]float32, asm.mr*ostride)
			want := make([]float32, asm.mr*ostride)
			asm.micro(qp, p, dim, got, ostride)
			microFMA(asm.mr, qp, p, dim, want, ostride)
			for i := range got {
				if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
					t.Fatalf("%s dim %d: out[%d] = %v, fma32 reference %v", asm.name, dim, i, got[i], want[i])
				}
			}
		}
		for _, n := range []int{0, 5, 8, 33, 70} {
			s := make([]float32, n)
			for i := range s {
				s[i] = float32(r.IntN(7)) // small integers: many ties with the threshold
			}
			for _, th := range []float32{-1, 0, 3, 6, 7} {
				if g, w := asm.count(s, th), countGo(s, th); g != w {
					t.Fatalf("%s count(n=%d, t=%v) = %d, portable %d", asm.name, n, th, g, w)
				}
				got, want := make([]uint64, 2), make([]uint64, 2)
				got[1], want[1] = 7, 7 // beyond the words for n: left alone
				asm.aboveMask(s, th, got)
				aboveMaskGo(s, th, want)
				if !slices.Equal(got, want) {
					t.Fatalf("%s aboveMask(n=%d, t=%v) = %x, portable %x", asm.name, n, th, got, want)
				}
			}
		}
	}
}

func TestKeyOrdersAsTheRanking(t *testing.T) {
	hits := []Hit{{3, 2}, {1, 2}, {0, 0.5}, {7, 0}, {2, 0}, {4, -1e-30}, {5, -3}, {6, float32(math.Inf(-1))}}
	for i := range hits {
		if got := hit(key(hits[i].Score, hits[i].Index)); got != hits[i] {
			t.Fatalf("hit(key(%+v)) = %+v", hits[i], got)
		}
		for j := range hits {
			if got, want := key(hits[i].Score, hits[i].Index) > key(hits[j].Score, hits[j].Index), compareHits(hits[i], hits[j]) < 0; got != want {
				t.Fatalf("key(%+v) > key(%+v) is %v, ranking says %v", hits[i], hits[j], got, want)
			}
		}
	}
	if key(float32(math.Copysign(0, -1)), 1) != key(0, 1) {
		t.Fatal("-0 and +0 get different keys")
	}
}

// TestSelectLargestKeepsTheLargest checks quickselect against a full sort, for every k from 0 to n.
func TestSelectLargestKeepsTheLargest(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 3))
	for range 2000 {
		n := 1 + r.IntN(300)
		k := r.IntN(n + 1)
		v := make([]uint64, n)
		for i := range v {
			v[i] = r.Uint64()%1000*1000 + uint64(i) // distinct, as keys are
		}
		want := slices.Clone(v)
		slices.Sort(want)
		slices.Reverse(want)
		selectLargest(v, k)
		got := slices.Clone(v[:k])
		slices.Sort(got)
		slices.Reverse(got)
		if !slices.Equal(got, want[:k]) {
			t.Fatalf("n %d, k %d: kept %v, want %v", n, k, got, want[:k])
		}
	}
}
