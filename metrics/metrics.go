// Package metrics scores rankings the way LAReQA (XQuAD-R, MLQA-R) does, from the 1-based ranks of a
// query's relevant candidates in its whole ranking, and aggregates the scores per evaluation setting.
package metrics

import (
	"fmt"
	"math"
	"slices"
)

// Metric names one per-query score.
type Metric int

// The metrics. Cut-offs are in the names; "map" is over the whole ranking.
const (
	MAP          Metric = iota // average precision over the whole ranking (LAReQA)
	MAP20                      // average precision cut at 20, divided by min(#relevant, 20) (XTREME-R)
	MRR10                      // reciprocal rank of the first relevant hit, 0 beyond rank 10
	R1                         // fraction of the relevant candidates in the top 1
	R10                        // fraction of the relevant candidates in the top 10
	R100                       // fraction of the relevant candidates in the top 100
	NDCG10                     // nDCG@10, binary gains, log2(rank+1) discount, ideal DCG from #relevant
	P10                        // relevant hits in the top 10, divided by 10
	F1At10                     // harmonic mean of P@10 and R@10; 0 when both are 0
	RankDistance               // max rank - min rank among the relevant candidates; 0 with one relevant
	numMetrics
)

// String returns the metric's stable name, as used in reports and sink columns.
func (m Metric) String() string {
	switch m {
	case MAP:
		return "map"
	case MAP20:
		return "map@20"
	case MRR10:
		return "mrr@10"
	case R1:
		return "r@1"
	case R10:
		return "r@10"
	case R100:
		return "r@100"
	case NDCG10:
		return "ndcg@10"
	case P10:
		return "p@10"
	case F1At10:
		return "f1@10"
	case RankDistance:
		return "rank_distance"
	}
	return fmt.Sprintf("Metric(%d)", int(m))
}

// All returns every metric in order.
func All() []Metric {
	all := make([]Metric, numMetrics)
	for i := range all {
		all[i] = Metric(i)
	}
	return all
}

// Parse returns the metric with the given name.
func Parse(name string) (Metric, error) {
	for _, m := range All() {
		if m.String() == name {
			return m, nil
		}
	}
	return 0, fmt.Errorf("unknown metric %q", name)
}

// Scores holds one value per metric, indexed by Metric.
type Scores [numMetrics]float64

// Evaluate scores one query from the 1-based ranks of its relevant candidates (in any order) among n
// candidates. A query must have at least one relevant candidate, and ranks must be distinct.
func Evaluate(ranks []int, n int) (Scores, error) {
	if len(ranks) == 0 {
		return Scores{}, fmt.Errorf("evaluate: no relevant candidates")
	}
	r := slices.Clone(ranks)
	slices.Sort(r)
	for i, x := range r {
		if x < 1 || x > n {
			return Scores{}, fmt.Errorf("evaluate: rank %d outside [1, %d]", x, n)
		}
		if i > 0 && x == r[i-1] {
			return Scores{}, fmt.Errorf("evaluate: rank %d given twice", x)
		}
	}
	nrel := float64(len(r))
	var s Scores
	var ap, ap20, dcg float64
	var in1, in10, in100 int
	for i, x := range r {
		prec := float64(i+1) / float64(x) // hits so far / rank
		ap += prec
		if x <= 20 {
			ap20 += prec
		}
		if x <= 10 {
			dcg += 1 / math.Log2(float64(x+1))
			in10++
		}
		if x <= 1 {
			in1++
		}
		if x <= 100 {
			in100++
		}
	}
	var idcg float64
	for i := 1; i <= min(len(r), 10); i++ {
		idcg += 1 / math.Log2(float64(i+1))
	}
	s[MAP] = ap / nrel
	s[MAP20] = ap20 / float64(min(len(r), 20))
	if r[0] <= 10 {
		s[MRR10] = 1 / float64(r[0])
	}
	s[R1] = float64(in1) / nrel
	s[R10] = float64(in10) / nrel
	s[R100] = float64(in100) / nrel
	s[NDCG10] = dcg / idcg
	s[P10] = float64(in10) / 10
	if in10 > 0 {
		s[F1At10] = 2 * s[P10] * s[R10] / (s[P10] + s[R10])
	}
	s[RankDistance] = float64(r[len(r)-1] - r[0])
	return s, nil
}

// Degradation returns 1 - score/en per metric: the relative loss of a language against English. A metric
// whose English score is 0 gets NaN. For rank distance, where lower is better, the value is negative when
// the language does worse.
func Degradation(score, en Scores) Scores {
	var d Scores
	for m := range d {
		if en[m] == 0 {
			d[m] = math.NaN()
			continue
		}
		d[m] = 1 - score[m]/en[m]
	}
	return d
}
