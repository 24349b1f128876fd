package metrics

import (
	"bytes"
	"encoding/json"
	"math"
	"math/rand/v2"
	"os/exec"
	"strings"
	"testing"

	"xling/internal/testenv"
)

func TestEvaluateHandWorked(t *testing.T) {
	tests := []struct {
		name  string
		ranks []int
		n     int
		want  Scores
	}{
		{
			// Hits at 1, 3, 6 of 3 relevant: precisions 1/1, 2/3, 3/6; AP = (1 + 2/3 + 1/2)/3 = 13/18.
			// Top 10 holds all 3: P@10 = 3/10, R@10 = 1, F1 = 2*0.3*1/1.3 = 6/13.
			// DCG = 1/log2(2) + 1/log2(4) + 1/log2(7); IDCG = 1/log2(2) + 1/log2(3) + 1/log2(4).
			name: "three relevant given out of order", ranks: []int{6, 1, 3}, n: 10,
			want: Scores{MAP: 13.0 / 18, MAP20: 13.0 / 18, MRR10: 1, R1: 1.0 / 3, R10: 1, R100: 1,
				NDCG10: (1 + 0.5 + 1/math.Log2(7)) / (1 + 1/math.Log2(3) + 0.5), P10: 0.3, F1At10: 6.0 / 13,
				RankDistance: 5},
		},
		{
			// One relevant at 4: AP = 1/4, nDCG = (1/log2(5))/1, P@10 = 1/10, F1 = 2*0.1*1/1.1 = 2/11.
			name: "one relevant", ranks: []int{4}, n: 100,
			want: Scores{MAP: 0.25, MAP20: 0.25, MRR10: 0.25, R1: 0, R10: 1, R100: 1,
				NDCG10: 1 / math.Log2(5), P10: 0.1, F1At10: 2.0 / 11, RankDistance: 0},
		},
		{
			// Hits at 15, 30, 150: AP = (1/15 + 2/30 + 3/150)/3 = (10+10+3)/150/3 = 23/450.
			// Cut at 20 only 15 counts: (1/15)/min(3, 20) = 1/45. Nothing in the top 10.
			name: "relevant beyond the cut-offs", ranks: []int{150, 15, 30}, n: 200,
			want: Scores{MAP: 23.0 / 450, MAP20: 1.0 / 45, R100: 2.0 / 3, RankDistance: 135},
		},
		{
			// 25 relevant at ranks 1..25: every precision is 1, AP = 1; cut at 20: 20 hits / min(25, 20) = 1.
			// R@10 = 10/25 = 0.4, P@10 = 1, F1 = 2*1*0.4/1.4 = 4/7; the top 10 is ideal, nDCG = 1.
			name: "more relevant than the cut-off", ranks: seq(1, 25), n: 25,
			want: Scores{MAP: 1, MAP20: 1, MRR10: 1, R1: 1.0 / 25, R10: 0.4, R100: 1, NDCG10: 1, P10: 1,
				F1At10: 4.0 / 7, RankDistance: 24},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Evaluate(tt.ranks, tt.n)
			if err != nil {
				t.Fatal(err)
			}
			for _, m := range All() {
				if !testenv.Close(got[m], tt.want[m], 1e-12) {
					t.Errorf("%s = %v, want %v", m, got[m], tt.want[m])
				}
			}
		})
	}
}

func seq(from, to int) []int {
	var s []int
	for i := from; i <= to; i++ {
		s = append(s, i)
	}
	return s
}

func TestEvaluateRejectsBadRanks(t *testing.T) {
	tests := []struct {
		name  string
		ranks []int
		n     int
		want  string
	}{
		{"no relevant", nil, 5, "no relevant"},
		{"rank zero", []int{0, 2}, 5, "rank 0 outside [1, 5]"},
		{"rank past the end", []int{6}, 5, "rank 6 outside [1, 5]"},
		{"duplicate rank", []int{2, 3, 2}, 5, "rank 2 given twice"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Evaluate(tt.ranks, tt.n)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("got error %v, want one containing %q", err, tt.want)
			}
		})
	}
}

func TestMetricNamesRoundTrip(t *testing.T) {
	want := []string{"map", "map@20", "mrr@10", "r@1", "r@10", "r@100", "ndcg@10", "p@10", "f1@10", "rank_distance"}
	all := All()
	if len(all) != len(want) {
		t.Fatalf("%d metrics, want %d", len(all), len(want))
	}
	for i, m := range all {
		if m.String() != want[i] {
			t.Errorf("metric %d is %q, want %q", i, m, want[i])
		}
		if p, err := Parse(want[i]); err != nil || p != m {
			t.Errorf("Parse(%q) = %v, %v; want %v", want[i], p, err, m)
		}
	}
	if _, err := Parse("map@10"); err == nil {
		t.Error("Parse accepted an unknown name")
	}
}

// TestEvaluateMatchesSklearn compares every metric with sklearn (AP over the whole ranking, nDCG@10) and
// plain numpy code (the rest) on random rankings.
func TestEvaluateMatchesSklearn(t *testing.T) {
	py := testenv.RequirePython(t, "numpy", "sklearn")
	r := rand.New(rand.NewPCG(42, 0))
	type query struct {
		n     int
		ranks []int
	}
	qs := make([]query, 3000)
	input := make([][2]any, len(qs))
	for i := range qs {
		n := 2 + r.IntN(299)
		nrel := 1 + r.IntN(min(n, 30))
		// Half the queries draw their relevant ranks near the top, so cut-off metrics are rarely zero.
		span := n
		if r.IntN(2) == 0 {
			span = max(nrel, min(n, 2*nrel+r.IntN(15)))
		}
		ranks := r.Perm(span)[:nrel]
		for j := range ranks {
			ranks[j]++
		}
		qs[i] = query{n, ranks}
		input[i] = [2]any{n, ranks}
	}
	in, err := json.Marshal(input)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(py, "testdata/metrics_oracle.py")
	cmd.Stdin = bytes.NewReader(in)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("metrics_oracle.py: %v", err)
	}
	var want []map[string]float64
	if err := json.Unmarshal(out, &want); err != nil {
		t.Fatalf("decode metrics_oracle.py output: %v", err)
	}
	if len(want) != len(qs) {
		t.Fatalf("oracle scored %d queries, want %d", len(want), len(qs))
	}
	for i, q := range qs {
		got, err := Evaluate(q.ranks, q.n)
		if err != nil {
			t.Fatalf("query %d: %v", i, err)
		}
		for _, m := range All() {
			w, ok := want[i][m.String()]
			if !ok {
				t.Fatalf("oracle lacks %s", m)
			}
			if !testenv.Close(got[m], w, 1e-9) {
				t.Errorf("query %d (n=%d, ranks %v): %s = %v, want %v", i, q.n, q.ranks, m, got[m], w)
			}
		}
	}
}

func TestDegradation(t *testing.T) {
	var lang, en Scores
	lang[MAP], en[MAP] = 0.3, 0.5       // 1 - 0.3/0.5 = 0.4
	lang[F1At10], en[F1At10] = 0.2, 0.1 // 1 - 0.2/0.1 = -1
	d := Degradation(lang, en)
	if !testenv.Close(d[MAP], 0.4, 1e-12) || !testenv.Close(d[F1At10], -1, 1e-12) {
		t.Errorf("map %v, f1@10 %v; want 0.4, -1", d[MAP], d[F1At10])
	}
	if !math.IsNaN(d[P10]) {
		t.Errorf("p@10 with English 0 = %v, want NaN", d[P10])
	}
}
