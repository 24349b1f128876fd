package stats

import (
	"math"
	"testing"
)

// Six questions in 11 translations each; every translation of a question has the same difference
// (perfectly correlated), +1 for five questions and -1 for one. Per query, 66 pairs with a sum of 44: a
// sign-flip over queries finds that extreme (|2K - 66| >= 44 for K ~ Bin(66, 1/2), about 3e-9), so with
// 10,000 rounds no draw reaches it and p = 1/10001. Per question, the units are six sums of ±11 with
// observed |sum| 44 = 11 x 4: of the 64 sign assignments, |s| >= 4 holds for s = ±6 (1 way each) and s = ±4
// (6 ways each), so p = 14/64 exactly.
func TestClusteredAndUnclusteredPValuesDiffer(t *testing.T) {
	var a, b []float64
	var cluster []int
	for q := range 6 {
		d := 1.0
		if q == 5 {
			d = -1
		}
		for range 11 {
			a, b, cluster = append(a, d), append(b, 0), append(cluster, q)
		}
	}
	_, pQuery, err := PairedRandomization(a, b, 10000, 1)
	if err != nil {
		t.Fatal(err)
	}
	mean, pCluster, err := ClusteredPermutation(a, b, cluster, 10000, 1)
	if err != nil {
		t.Fatal(err)
	}
	if !(math.Abs(pQuery-1.0/10001) <= 1e-15) {
		t.Errorf("per-query p = %v, want 1/10001", pQuery)
	}
	if !(math.Abs(pCluster-14.0/64) <= 1e-15) {
		t.Errorf("per-question p = %v, want 14/64", pCluster)
	}
	if !(math.Abs(mean-44.0/66) <= 1e-15) {
		t.Errorf("mean difference %v, want 44/66", mean)
	}
}

// With one query per cluster the clustered test is the paired test.
func TestClusteredPermutationWithSingletonClustersIsPaired(t *testing.T) {
	a := []float64{0.9, 0.2, 0.5, 0.7, 0.1, 0.8, 0.4, 0.6, 0.3, 0.35, 0.55, 0.65, 0.05, 0.95, 0.45, 0.25, 0.15, 0.75, 0.85, 0.5, 0.33, 0.44}
	b := make([]float64, len(a))
	cluster := make([]int, len(a))
	for i := range a {
		b[i] = 0.5
		cluster[i] = 3 * i // labels need not be dense
	}
	// 22 units: more than the exact limit, so both draw the same 5000 rounds from the seed.
	m1, p1, err := PairedRandomization(a, b, 5000, 9)
	if err != nil {
		t.Fatal(err)
	}
	m2, p2, err := ClusteredPermutation(a, b, cluster, 5000, 9)
	if err != nil {
		t.Fatal(err)
	}
	if !(math.Abs(m1-m2) <= 1e-15) || !(p1 == p2) {
		t.Errorf("paired (%v, %v), clustered (%v, %v)", m1, p1, m2, p2)
	}
}

func TestClusteredPermutationRejectsBadInput(t *testing.T) {
	tests := []struct {
		name    string
		a, b    []float64
		cluster []int
	}{
		{"lengths", []float64{1, 2}, []float64{1, 2}, []int{0}},
		{"empty", nil, nil, nil},
		{"NaN", []float64{math.NaN()}, []float64{0}, []int{0}},
		{"negative cluster", []float64{1}, []float64{0}, []int{-1}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, _, err := ClusteredPermutation(tc.a, tc.b, tc.cluster, 100, 1); err == nil {
				t.Error("no error")
			}
		})
	}
}

// 400 questions of 11 perfectly correlated translations, value c mod 2 for question c: the mean is 0.5 and
// its standard error over questions is 0.5/sqrt(400) = 0.025, so the 95% interval's half-width is about
// 1.96 x 0.025 = 0.049. Treating the 4,400 queries as independent would give 0.5/sqrt(4400) x 1.96 = 0.015.
func TestBootstrapResamplesQuestionsNotQueries(t *testing.T) {
	var v []float64
	var cluster, group []int
	for c := range 400 {
		for range 11 {
			v, cluster, group = append(v, float64(c%2)), append(cluster, c), append(group, 0)
		}
	}
	d := Design{Values: [][][]float64{{v}}, Cluster: cluster, Group: group}
	iv, err := Bootstrap(d, func(m Means) float64 { return m(0, 0) }, 4000, 0.95, 1)
	if err != nil {
		t.Fatal(err)
	}
	half := (iv.Hi - iv.Lo) / 2
	if !(math.Abs(iv.Estimate-0.5) <= 1e-12) || !(half >= 0.042 && half <= 0.056) {
		t.Errorf("estimate %v, interval [%v, %v] (half-width %v), want 0.5 and about 0.049", iv.Estimate, iv.Lo, iv.Hi, half)
	}
}

// Two seeds whose values are 0 and 1 on every query: resampling seeds gives a mean of 0, 0.5 or 1 with
// probabilities 1/4, 1/2, 1/4, so the 95% interval is [0, 1] however the questions are drawn, and the
// estimate is 0.5.
func TestBootstrapResamplesSeeds(t *testing.T) {
	n := 50
	zero, one := make([]float64, n), make([]float64, n)
	cluster, group := make([]int, n), make([]int, n)
	for i := range n {
		one[i], cluster[i] = 1, i/5
	}
	d := Design{Values: [][][]float64{{zero, one}}, Cluster: cluster, Group: group}
	iv, err := Bootstrap(d, func(m Means) float64 { return m(0, 0) }, 2000, 0.95, 3)
	if err != nil {
		t.Fatal(err)
	}
	if iv.Estimate != 0.5 || iv.Lo != 0 || iv.Hi != 1 {
		t.Errorf("got %+v, want estimate 0.5 in [0, 1]", iv)
	}
}

// Degradation 1 - score(lang)/score(en) with paired arms: arm 1 is arm 0 with every value halved in
// group 1 only, so its degradation is 1 - 0.5 x (arm 0's ratio); on values where group 1 is 0.6 of group 0
// exactly, arm 0 degrades 0.4 and arm 1 0.7 in every round: the difference's interval is the point 0.3.
// In both cases below the difference in degradation between the arms is the same for every resample, so
// its interval collapses onto it, but only if a resample draws the same clusters (questions) for both arms.
// In the first, each arm's degradation is constant on its own; in the second, each arm's varies from
// resample to resample (a language score not proportional to the English one) and only the pairing keeps
// the difference fixed: resampling the arms independently would widen its interval.
func TestBootstrapDegradationDifferenceOfExactCase(t *testing.T) {
	for _, tc := range []struct {
		name  string
		score func(c int) (en0, lang0, en1, lang1 float64)
		want  float64
	}{
		{"each arm's degradation constant", func(c int) (float64, float64, float64, float64) {
			x := 0.2 + 0.02*float64(c)
			return x, 0.6 * x, x, 0.3 * x
		}, 0.3},
		{"only the paired difference constant", func(c int) (float64, float64, float64, float64) {
			x := 0.2 + 0.02*float64(c)
			y := 0.5*x + 0.05*math.Sin(float64(c)) // not proportional to x: each arm's ratio varies
			return x, y, x, y - 0.1*x
		}, 0.1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var v0, v1 []float64
			var cluster, group []int
			for c := range 30 {
				en0, l0, en1, l1 := tc.score(c)
				v0, v1 = append(v0, en0, l0), append(v1, en1, l1)
				cluster, group = append(cluster, c, c), append(group, 0, 1)
			}
			d := Design{Values: [][][]float64{{v0}, {v1}}, Cluster: cluster, Group: group}
			deg := func(m Means, arm int) float64 { return 1 - m(arm, 1)/m(arm, 0) }
			iv, err := Bootstrap(d, func(m Means) float64 { return deg(m, 1) - deg(m, 0) }, 500, 0.95, 1)
			if err != nil {
				t.Fatal(err)
			}
			for _, x := range []float64{iv.Estimate, iv.Lo, iv.Hi} {
				if !(math.Abs(x-tc.want) <= 1e-12) {
					t.Errorf("got %+v, want %v throughout", iv, tc.want)
				}
			}
			// The arms alone do vary in the second case: the test would see independent resampling.
			single, err := Bootstrap(d, func(m Means) float64 { return deg(m, 0) }, 500, 0.95, 1)
			if err != nil {
				t.Fatal(err)
			}
			if tc.want == 0.1 && !(single.Hi-single.Lo > 0.01) {
				t.Errorf("arm 0's degradation interval %+v is too narrow for the case to test pairing", single)
			}
		})
	}
}

func TestBootstrapRejectsBadDesign(t *testing.T) {
	ok := Design{Values: [][][]float64{{{1, 2}}}, Cluster: []int{0, 1}, Group: []int{0, 0}}
	tests := []struct {
		name string
		d    Design
	}{
		{"no arms", Design{Cluster: []int{0}, Group: []int{0}}},
		{"labels", Design{Values: ok.Values, Cluster: []int{0}, Group: []int{0, 0}}},
		{"values", Design{Values: [][][]float64{{{1}}}, Cluster: ok.Cluster, Group: ok.Group}},
		{"NaN", Design{Values: [][][]float64{{{1, math.NaN()}}}, Cluster: ok.Cluster, Group: ok.Group}},
		{"seeds differ", Design{Values: [][][]float64{{{1, 2}}, {{1, 2}, {3, 4}}}, Cluster: ok.Cluster, Group: ok.Group}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := Bootstrap(tc.d, func(m Means) float64 { return m(0, 0) }, 10, 0.95, 1); err == nil {
				t.Error("no error")
			}
		})
	}
	// A statistic that is not finite in some round (a ratio over an empty group) is an error, not dropped.
	if _, err := Bootstrap(ok, func(m Means) float64 { return 1 / (m(0, 0) - 1.5) }, 200, 0.95, 1); err == nil {
		t.Error("non-finite statistic: no error")
	}
}

func TestHolmHandWorked(t *testing.T) {
	// Sorted 0.01, 0.02, 0.04 x (3, 2, 1) = 0.03, 0.04, 0.04 (monotone), back in the given order.
	got := Holm([]float64{0.04, 0.01, 0.02})
	want := []float64{0.04, 0.03, 0.04}
	for i := range want {
		if !(math.Abs(got[i]-want[i]) <= 1e-15) {
			t.Errorf("Holm = %v, want %v", got, want)
			break
		}
	}
}
