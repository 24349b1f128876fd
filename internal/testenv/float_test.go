package testenv

import (
	"math"
	"testing"
)

func TestToleranceChecksFailOnNaN(t *testing.T) {
	nan := math.NaN()
	closeCases := []struct {
		got, want, tol float64
		ok             bool
	}{
		{1, 1.05, 0.1, true},
		{1, 1.2, 0.1, false},
		{nan, 1, 0.1, false},
		{1, nan, 0.1, false},
		{1, 1, nan, false},
		{math.Inf(1), math.Inf(1), 1, false}, // Inf - Inf is NaN
	}
	for _, c := range closeCases {
		if got := Close(c.got, c.want, c.tol); got != c.ok {
			t.Errorf("Close(%v, %v, %v) = %v, want %v", c.got, c.want, c.tol, got, c.ok)
		}
	}
	diffCases := []struct {
		got  []float32
		want []float64
		ok   bool // whether MaxDiff(got, want) <= 0.1
	}{
		{[]float32{1, 2}, []float64{1.05, 2}, true},
		{[]float32{1, 2}, []float64{1, 2.5}, false},
		{[]float32{float32(nan), 2}, []float64{1, 2}, false},
		{[]float32{1, 2, 3}, []float64{1, nan, 30}, false}, // NaN before a large difference
		{[]float32{1, 2, 3}, []float64{1, 20, nan}, false},
		{nil, nil, true},
	}
	for _, c := range diffCases {
		if d := MaxDiff(c.got, c.want); (d <= 0.1) != c.ok {
			t.Errorf("MaxDiff(%v, %v) = %v: within 0.1 is %v, want %v", c.got, c.want, d, d <= 0.1, c.ok)
		}
	}
}
