// Package stats holds the significance tests xling's experiment reports.
package stats

import (
	"fmt"
	"math"
	"math/rand/v2"
)

// exactLimit is the largest sample whose 2^n sign assignments the test enumerates.
const exactLimit = 20

// PairedRandomization tests whether paired samples a and b (one value per query, same query order) differ
// in mean, two-sided, by the sign-flip randomization test: under the null hypothesis each difference
// a[i]-b[i] is as likely to have had the opposite sign. With up to 20 pairs every sign assignment is
// enumerated (exact); otherwise rounds random assignments are drawn from seed, and the p-value is
// (1 + #{|mean| >= observed}) / (1 + rounds), which is never 0. Pairs with a zero difference carry no
// information and are left out.
func PairedRandomization(a, b []float64, rounds int, seed uint64) (meanDiff, p float64, err error) {
	if len(a) != len(b) {
		return 0, 0, fmt.Errorf("paired test: %d and %d values", len(a), len(b))
	}
	if len(a) == 0 {
		return 0, 0, fmt.Errorf("paired test: no pairs")
	}
	var d []float64
	var sum float64
	for i := range a {
		x := a[i] - b[i]
		if math.IsNaN(x) {
			return 0, 0, fmt.Errorf("paired test: pair %d is NaN", i)
		}
		sum += x
		if x != 0 {
			d = append(d, x)
		}
	}
	meanDiff = sum / float64(len(a))
	if len(d) == 0 {
		return 0, 1, nil
	}
	// Compare absolute sums: the same test as means, over the informative pairs. A tiny tolerance keeps
	// assignments equal to the observed one (up to rounding) counted as extreme.
	obs := math.Abs(sumOf(d))
	tol := 1e-12 * (1 + obs)
	if len(d) <= exactLimit {
		var extreme int
		total := 1 << len(d)
		for mask := 0; mask < total; mask++ {
			var s float64
			for i, x := range d {
				if mask&(1<<i) != 0 {
					s -= x
				} else {
					s += x
				}
			}
			if math.Abs(s) >= obs-tol {
				extreme++
			}
		}
		return meanDiff, float64(extreme) / float64(total), nil
	}
	if rounds < 1 {
		return 0, 0, fmt.Errorf("paired test: %d rounds", rounds)
	}
	r := rand.New(rand.NewPCG(seed, 0x706169726564)) // "paired"
	var extreme int
	for range rounds {
		var s float64
		for i := 0; i < len(d); i += 64 {
			bits := r.Uint64()
			for j := i; j < min(i+64, len(d)); j++ {
				if bits&(1<<(j-i)) != 0 {
					s -= d[j]
				} else {
					s += d[j]
				}
			}
		}
		if math.Abs(s) >= obs-tol {
			extreme++
		}
	}
	return meanDiff, float64(1+extreme) / float64(1+rounds), nil
}

func sumOf(x []float64) float64 {
	var s float64
	for _, v := range x {
		s += v
	}
	return s
}
