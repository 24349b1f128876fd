package stats

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
)

// ClusteredPermutation is PairedRandomization with the sign flipped per cluster instead of per pair: all
// pairs of one cluster (for XQuAD-R, the 11 translations of one question) keep or swap their arms
// together. Translations of a question are not independent, so flipping them one by one overstates the
// evidence; flipping whole clusters is the test that holds when they are correlated, up to perfectly.
// cluster[i] names pair i's cluster (any non-negative ints). With up to 20 informative clusters every
// assignment is enumerated; otherwise the p-value is (1 + #{|sum| >= observed}) / (1 + rounds).
func ClusteredPermutation(a, b []float64, cluster []int, rounds int, seed uint64) (meanDiff, p float64, err error) {
	if len(a) != len(b) || len(a) != len(cluster) {
		return 0, 0, fmt.Errorf("clustered test: %d, %d values and %d cluster labels", len(a), len(b), len(cluster))
	}
	if len(a) == 0 {
		return 0, 0, fmt.Errorf("clustered test: no pairs")
	}
	sums := map[int]float64{}
	var total float64
	for i := range a {
		x := a[i] - b[i]
		if math.IsNaN(x) {
			return 0, 0, fmt.Errorf("clustered test: pair %d is NaN", i)
		}
		if cluster[i] < 0 {
			return 0, 0, fmt.Errorf("clustered test: pair %d has cluster %d", i, cluster[i])
		}
		sums[cluster[i]] += x
		total += x
	}
	keys := make([]int, 0, len(sums))
	for k := range sums {
		keys = append(keys, k)
	}
	slices.Sort(keys) // a fixed order, so a seed gives one answer
	d := make([]float64, 0, len(keys))
	for _, k := range keys {
		if sums[k] != 0 {
			d = append(d, sums[k])
		}
	}
	if len(d) == 0 {
		return total / float64(len(a)), 1, nil
	}
	// The per-cluster sums are the paired test's units: a sign flip of a whole cluster.
	_, p, err = PairedRandomization(d, make([]float64, len(d)), rounds, seed)
	return total / float64(len(a)), p, err
}

// Design is an experiment's per-query values for a bootstrap over seeds and questions. Values[arm][seed][q]
// is query q's value (say its AP) for an arm trained with one seed; seeds are paired across arms (seed k of
// every arm shares its random draws), so a bootstrap round draws one set of seeds for all arms. Query q
// belongs to question Cluster[q] and to Group[q] (for example its language).
type Design struct {
	Values  [][][]float64
	Cluster []int
	Group   []int
}

// Means gives an arm's mean over the queries of one group in one bootstrap round: the seeds and questions
// of that round, each as often as it was drawn.
type Means func(arm, group int) float64

// Interval is a point estimate and its percentile bootstrap interval.
type Interval struct {
	Estimate float64 `json:"estimate"`
	Lo       float64 `json:"lo"`
	Hi       float64 `json:"hi"`
	Level    float64 `json:"level"`
	Rounds   int     `json:"rounds"`
}

// cells holds the sums of one (arm, seed, cluster, group).
type cells struct {
	arms, seeds, clusters, groups int
	sum                           []float64 // [arm][seed][cluster][group]
	n                             []float64 // [cluster][group]: queries (the same for every arm and seed)
}

func (d Design) cells() (*cells, error) {
	if len(d.Values) == 0 || len(d.Values[0]) == 0 {
		return nil, fmt.Errorf("bootstrap: no arms or no seeds")
	}
	nq := len(d.Cluster)
	if len(d.Group) != nq || nq == 0 {
		return nil, fmt.Errorf("bootstrap: %d cluster labels and %d group labels", nq, len(d.Group))
	}
	c := &cells{arms: len(d.Values), seeds: len(d.Values[0])}
	for q := range nq {
		if d.Cluster[q] < 0 || d.Group[q] < 0 {
			return nil, fmt.Errorf("bootstrap: query %d has cluster %d, group %d", q, d.Cluster[q], d.Group[q])
		}
		c.clusters, c.groups = max(c.clusters, d.Cluster[q]+1), max(c.groups, d.Group[q]+1)
	}
	c.sum = make([]float64, c.arms*c.seeds*c.clusters*c.groups)
	c.n = make([]float64, c.clusters*c.groups)
	for q := range nq {
		c.n[d.Cluster[q]*c.groups+d.Group[q]]++
	}
	for a, seeds := range d.Values {
		if len(seeds) != c.seeds {
			return nil, fmt.Errorf("bootstrap: arm %d has %d seeds, arm 0 has %d", a, len(seeds), c.seeds)
		}
		for s, v := range seeds {
			if len(v) != nq {
				return nil, fmt.Errorf("bootstrap: arm %d seed %d has %d values for %d queries", a, s, len(v), nq)
			}
			base := (a*c.seeds + s) * c.clusters * c.groups
			for q, x := range v {
				if math.IsNaN(x) {
					return nil, fmt.Errorf("bootstrap: arm %d seed %d query %d is NaN", a, s, q)
				}
				c.sum[base+d.Cluster[q]*c.groups+d.Group[q]] += x
			}
		}
	}
	return c, nil
}

// means returns Means for seed weights ws and cluster weights wc: the seed-weighted average of each seed's
// cluster-weighted mean.
func (c *cells) means(ws, wc []float64) Means {
	type key struct{ arm, group int }
	memo := map[key]float64{}
	var wsTotal float64
	for _, w := range ws {
		wsTotal += w
	}
	return func(arm, group int) float64 {
		if v, ok := memo[key{arm, group}]; ok {
			return v
		}
		var den float64
		for k, w := range wc {
			den += w * c.n[k*c.groups+group]
		}
		var m float64
		for s, w := range ws {
			if w == 0 {
				continue
			}
			base := (arm*c.seeds + s) * c.clusters * c.groups
			var num float64
			for k, x := range wc {
				if x != 0 {
					num += x * c.sum[base+k*c.groups+group]
				}
			}
			m += w * num / den
		}
		m /= wsTotal
		memo[key{arm, group}] = m
		return m
	}
}

// Bootstrap estimates stat on the design and gives its percentile interval at level (0.95 for 95%): each of
// rounds draws the seeds with replacement (the same draw for every arm) and the questions with replacement
// (a question's queries, in every language, travel together). A round whose statistic is not finite (a
// resample in which some group is empty, or a ratio over 0) fails the call rather than being dropped.
func Bootstrap(d Design, stat func(Means) float64, rounds int, level float64, seed uint64) (Interval, error) {
	if rounds < 1 || !(level > 0 && level < 1) {
		return Interval{}, fmt.Errorf("bootstrap: %d rounds at level %v", rounds, level)
	}
	c, err := d.cells()
	if err != nil {
		return Interval{}, err
	}
	ones := func(n int) []float64 {
		w := make([]float64, n)
		for i := range w {
			w[i] = 1
		}
		return w
	}
	// Clusters that hold no query (labels need not be dense) are never drawn.
	var live []int
	for k := range c.clusters {
		for g := range c.groups {
			if c.n[k*c.groups+g] > 0 {
				live = append(live, k)
				break
			}
		}
	}
	wc := make([]float64, c.clusters)
	for _, k := range live {
		wc[k] = 1
	}
	iv := Interval{Estimate: stat(c.means(ones(c.seeds), wc)), Level: level, Rounds: rounds}
	if math.IsNaN(iv.Estimate) || math.IsInf(iv.Estimate, 0) {
		return Interval{}, fmt.Errorf("bootstrap: the statistic on the data is %v", iv.Estimate)
	}
	r := rand.New(rand.NewPCG(seed, 0x626f6f74)) // "boot"
	vals := make([]float64, rounds)
	ws := make([]float64, c.seeds)
	for i := range rounds {
		clear(ws)
		for range c.seeds {
			ws[r.IntN(c.seeds)]++
		}
		clear(wc)
		for range live {
			wc[live[r.IntN(len(live))]]++
		}
		v := stat(c.means(ws, wc))
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return Interval{}, fmt.Errorf("bootstrap: round %d gives %v", i, v)
		}
		vals[i] = v
	}
	slices.Sort(vals)
	iv.Lo, iv.Hi = quantile(vals, (1-level)/2), quantile(vals, 1-(1-level)/2)
	return iv, nil
}

// quantile of sorted x by linear interpolation between order statistics (numpy's default).
func quantile(x []float64, q float64) float64 {
	pos := q * float64(len(x)-1)
	i := int(math.Floor(pos))
	if i+1 >= len(x) {
		return x[len(x)-1]
	}
	return x[i] + (pos-float64(i))*(x[i+1]-x[i])
}

// Holm adjusts p-values for the number of comparisons made (Holm–Bonferroni step-down), in the order given.
func Holm(p []float64) []float64 {
	idx := make([]int, len(p))
	for i := range idx {
		idx[i] = i
	}
	slices.SortStableFunc(idx, func(a, b int) int {
		switch {
		case p[a] < p[b]:
			return -1
		case p[a] > p[b]:
			return 1
		}
		return 0
	})
	out := make([]float64, len(p))
	run := 0.0
	for rank, i := range idx {
		run = max(run, min(1, float64(len(p)-rank)*p[i]))
		out[i] = run
	}
	return out
}
