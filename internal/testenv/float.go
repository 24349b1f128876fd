package testenv

import "math"

// Close reports whether got is within tol of want. It is false when either is NaN, which a check written
// `math.Abs(got-want) > tol` lets pass: write `if !testenv.Close(got, want, tol)`.
func Close(got, want, tol float64) bool {
	return math.Abs(got-want) <= tol
}

// MaxDiff returns the largest |got[i]-want[i]|, or NaN when any pair holds a NaN, so that a check
// written `if d := MaxDiff(got, want); !(d <= tol)` fails on NaN. The slices must have equal lengths.
func MaxDiff[G, W ~float32 | ~float64](got []G, want []W) float64 {
	if len(got) != len(want) {
		panic("testenv.MaxDiff: slices of different lengths")
	}
	var d float64
	for i := range got {
		x := math.Abs(float64(got[i]) - float64(want[i]))
		if math.IsNaN(x) {
			return x
		}
		d = max(d, x)
	}
	return d
}
