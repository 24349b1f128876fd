package retrieval

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"xling/internal/testenv"
)

// bm25Oracle is an independent BM25 in numpy: dense term-frequency matrices, scores in float64, ranked by
// the float32 rounding of each score with ties to the lower candidate index (lexsort), as BM25 promises.
const bm25Oracle = `
import json, sys
import numpy as np

d = json.load(open(sys.argv[1]))
k1, b, k = d["k1"], d["b"], d["k"]
Q, C = d["queries"], d["cands"]
vocab = sorted({t for doc in C for t in doc} | {t for q in Q for t in q})
col = {t: i for i, t in enumerate(vocab)}
N, V = len(C), len(vocab)
tf = np.zeros((N, V))
for i, doc in enumerate(C):
    for t in doc:
        tf[i, col[t]] += 1
qtf = np.zeros((len(Q), V))
for i, q in enumerate(Q):
    for t in q:
        qtf[i, col[t]] += 1
df = (tf > 0).sum(axis=0)
idf = np.log(1 + (N - df + 0.5) / (df + 0.5))
dl = tf.sum(axis=1)
norm = k1 * (1 - b + b * dl / dl.mean())
w = tf * (k1 + 1) / (tf + norm[:, None])
s = (qtf * idf) @ w.T
s32 = s.astype(np.float32)
out = []
for i in range(len(Q)):
    order = np.lexsort((np.arange(N), -s32[i]))
    rank = np.empty(N, dtype=np.int64)
    rank[order] = np.arange(1, N + 1)
    out.append({"top": order[:k].tolist(), "scores": s[i].tolist(),
                "ranks": [int(rank[r]) for r in d["relevant"][i]]})
json.dump(out, sys.stdout)
`

type bm25Problem struct {
	Queries  [][]int64 `json:"queries"`
	Cands    [][]int64 `json:"cands"`
	Relevant [][]int   `json:"relevant"`
	K        int       `json:"k"`
	K1       float64   `json:"k1"`
	B        float64   `json:"b"`
}

// randomBM25Problem draws documents over a skewed vocabulary of vocab terms (ids spread over the int64
// range), some empty and some copies of earlier ones (so scores tie exactly), and queries that include
// terms no candidate has, repeated terms, and one empty query.
func randomBM25Problem(seed uint64, nq, nc, vocab, k int) bm25Problem {
	r := rand.New(rand.NewPCG(seed, 25))
	ids := make([]int64, vocab+20) // the last 20 occur only in queries
	for i := range ids {
		ids[i] = r.Int64()
	}
	term := func() int64 { return ids[r.IntN(r.IntN(vocab)+1)] } // low indexes are frequent
	p := bm25Problem{K: k, K1: 0.9, B: 0.4, Cands: make([][]int64, nc), Queries: make([][]int64, nq)}
	for c := range p.Cands {
		if c > 0 && r.IntN(8) == 0 {
			p.Cands[c] = slices.Clone(p.Cands[r.IntN(c)])
			continue
		}
		doc := []int64{}
		for range r.IntN(30) {
			doc = append(doc, term())
		}
		p.Cands[c] = doc
	}
	for q := range p.Queries {
		query := []int64{}
		for range r.IntN(7) + min(q, 1) { // query 0 is empty
			if r.IntN(6) == 0 {
				query = append(query, ids[vocab+r.IntN(20)])
			} else {
				query = append(query, term())
			}
		}
		p.Queries[q] = query
	}
	p.Relevant = randomRelevant(r, nq, nc)
	return p
}

type bm25OracleResult struct {
	Top    []int     `json:"top"`
	Scores []float64 `json:"scores"` // every candidate's
	Ranks  []int     `json:"ranks"`
}

func numpyBM25(t *testing.T, p bm25Problem) []bm25OracleResult {
	t.Helper()
	py := testenv.RequirePython(t, "numpy")
	dir := t.TempDir()
	in := filepath.Join(dir, "problem.json")
	b, err := json.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(in, b, 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(py, "-c", bm25Oracle, in).Output()
	if err != nil {
		t.Fatalf("numpy BM25: %v", err)
	}
	var res []bm25OracleResult
	if err := json.Unmarshal(out, &res); err != nil {
		t.Fatalf("decode numpy BM25 output: %v", err)
	}
	return res
}

func TestBM25MatchesNumpy(t *testing.T) {
	// Scores are below about 100; float32 rounding and summation order move them by far less than tol.
	const tol = 1e-4
	tests := []struct {
		name string
		p    bm25Problem
	}{
		{"small vocabulary, many ties", randomBM25Problem(1, 40, 300, 12, 20)},
		{"larger vocabulary", randomBM25Problem(2, 60, 800, 400, 50)},
		{"k above candidate count", randomBM25Problem(3, 10, 15, 30, 40)},
		{"k zero gives ranks only", randomBM25Problem(4, 20, 200, 50, 0)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			want := numpyBM25(t, tt.p)
			got, err := BM25(context.Background(), tt.p.Queries, tt.p.Cands, tt.p.K,
				func(q int) []int { return tt.p.Relevant[q] }, BM25Params{K1: tt.p.K1, B: tt.p.B, Workers: 3})
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(want) {
				t.Fatalf("%d results, want %d", len(got), len(want))
			}
			for q := range got {
				s := want[q].Scores
				if len(got[q].Top) != len(want[q].Top) {
					t.Fatalf("query %d: %d hits, want %d", q, len(got[q].Top), len(want[q].Top))
				}
				for i, h := range got[q].Top {
					if !(math.Abs(float64(h.Score)-s[h.Index]) <= tol) {
						t.Fatalf("query %d hit %d: candidate %d scored %v, numpy %v", q, i, h.Index, h.Score, s[h.Index])
					}
					// Only a near-tie may swap candidates.
					if w := want[q].Top[i]; h.Index != w && !(math.Abs(s[h.Index]-s[w]) <= tol) {
						t.Fatalf("query %d hit %d: candidate %d (%v), numpy has %d (%v)", q, i, h.Index, s[h.Index], w, s[w])
					}
					if i > 0 {
						prev := got[q].Top[i-1]
						if !better(prev, h) {
							t.Fatalf("query %d: hit %d %+v does not rank after hit %d %+v", q, i, h, i-1, prev)
						}
					}
				}
				if len(got[q].RelevantRanks) != len(want[q].Ranks) {
					t.Fatalf("query %d: %d relevant ranks, want %d", q, len(got[q].RelevantRanks), len(want[q].Ranks))
				}
				for j, r := range got[q].RelevantRanks {
					c := tt.p.Relevant[q][j]
					if r != want[q].Ranks[j] && !nearTie(s, c, tol) {
						t.Fatalf("query %d relevant candidate %d: rank %d, numpy %d", q, c, r, want[q].Ranks[j])
					}
				}
			}
		})
	}
}

// nearTie reports whether another candidate's score is within tol of candidate c's without being equal,
// the only case where float rounding may order the two differently.
func nearTie(s []float64, c int, tol float64) bool {
	for i, x := range s {
		if i != c && x != s[c] && math.Abs(x-s[c]) <= tol {
			return true
		}
	}
	return false
}

// Three documents worked by hand with k1 = 0.9, b = 0.4. Lengths 2, 3, 1 (avgdl 2), so the length norms
// k1*(1-b+b*|d|/avgdl) are 0.9, 1.08 and 0.72. N = 3: idf(1) = ln(1 + 1.5/2.5) = ln 1.6 (df 2),
// idf(3) = ln(1 + 2.5/1.5) = ln(8/3) (df 1).
func TestBM25HandWorkedThreeDocuments(t *testing.T) {
	cands := [][]int64{{1, 2}, {1, 1, 3}, {4}}
	ln16, ln83 := math.Log(1.6), math.Log(8.0/3)
	tests := []struct {
		name     string
		query    []int64
		relevant []int
		want     []Hit
		ranks    []int
	}{
		// d0: ln1.6 * 1*1.9/(1+0.9); d1: ln1.6 * 2*1.9/(2+1.08) + ln(8/3) * 1.9/(1+1.08); d2 shares no term.
		{"two terms", []int64{1, 3}, []int{2, 0}, []Hit{{1, float32(ln16*3.8/3.08 + ln83*1.9/2.08)}, {0, float32(ln16)}, {2, 0}}, []int{3, 2}},
		{"a repeated query term counts twice", []int64{3, 3}, []int{1}, []Hit{{1, float32(2 * ln83 * 1.9 / 2.08)}, {0, 0}, {2, 0}}, []int{1}},
		// d2: ln(8/3) * 1.9/(1+0.72); the unscored rank by index after it.
		{"unscored candidates by index", []int64{4, 99}, []int{1, 0}, []Hit{{2, float32(ln83 * 1.9 / 1.72)}, {0, 0}, {1, 0}}, []int{3, 2}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := BM25(context.Background(), [][]int64{tt.query}, cands, 3, func(int) []int { return tt.relevant }, DefaultBM25Params())
			if err != nil {
				t.Fatal(err)
			}
			got := res[0]
			for i, h := range got.Top {
				if h.Index != tt.want[i].Index || !(math.Abs(float64(h.Score-tt.want[i].Score)) <= 1e-6) {
					t.Fatalf("top = %+v, want %+v", got.Top, tt.want)
				}
			}
			if len(got.Top) != len(tt.want) || !slices.Equal(got.RelevantRanks, tt.ranks) {
				t.Fatalf("top %+v ranks %v, want %+v and %v", got.Top, got.RelevantRanks, tt.want, tt.ranks)
			}
		})
	}
	if tt := tests[0].relevant; !slices.Equal(tt, []int{2, 0}) {
		t.Errorf("BM25 changed the caller's relevant list to %v", tt)
	}
}

func TestBM25EmptyCandidatesRankByIndex(t *testing.T) {
	res, err := BM25(context.Background(), [][]int64{{1}}, [][]int64{{}, {}, {}}, 2, func(int) []int { return []int{2} }, DefaultBM25Params())
	if err != nil {
		t.Fatal(err)
	}
	if want := []Hit{{0, 0}, {1, 0}}; !reflect.DeepEqual(res[0].Top, want) || !slices.Equal(res[0].RelevantRanks, []int{3}) {
		t.Fatalf("got %+v, want top %+v and rank 3", res[0], want)
	}
}

func TestBM25SameResultForAnyWorkerCount(t *testing.T) {
	p := randomBM25Problem(5, 101, 500, 60, 10)
	rel := func(q int) []int { return p.Relevant[q] }
	base, err := BM25(context.Background(), p.Queries, p.Cands, 10, rel, BM25Params{K1: 0.9, B: 0.4, Workers: 1})
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range []int{0, 2, 7} {
		got, err := BM25(context.Background(), p.Queries, p.Cands, 10, rel, BM25Params{K1: 0.9, B: 0.4, Workers: w})
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, base) {
			t.Errorf("workers=%d: results differ from workers=1", w)
		}
	}
}

func TestBM25RejectsBadInput(t *testing.T) {
	docs := [][]int64{{1}, {2}}
	tests := []struct {
		name     string
		k        int
		p        BM25Params
		relevant func(int) []int
		want     string
	}{
		{"negative k", -1, DefaultBM25Params(), nil, "k = -1"},
		{"negative k1", 1, BM25Params{K1: -1, B: 0.4}, nil, "k1 = -1"},
		{"NaN k1", 1, BM25Params{K1: math.NaN(), B: 0.4}, nil, "k1 = NaN"},
		{"b above 1", 1, BM25Params{K1: 0.9, B: 1.5}, nil, "b = 1.5"},
		{"relevant out of range", 1, DefaultBM25Params(), func(int) []int { return []int{2} }, "relevant candidate 2 out of range"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := BM25(context.Background(), docs, docs, tt.k, tt.relevant, tt.p)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("got error %v, want one containing %q", err, tt.want)
			}
		})
	}
}

func TestBM25StopsWhenCancelled(t *testing.T) {
	p := randomBM25Problem(6, 64, 100, 20, 5)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := BM25(ctx, p.Queries, p.Cands, 5, nil, DefaultBM25Params()); !errors.Is(err, context.Canceled) {
		t.Fatalf("got error %v, want context.Canceled", err)
	}
}

func ExampleBM25() {
	// Three documents as term ids (tokenizer/lexical makes them from text), one query.
	cands := [][]int64{{1, 2}, {1, 1, 3}, {4}}
	res, _ := BM25(context.Background(), [][]int64{{1, 3}}, cands, 2, func(int) []int { return []int{0} }, DefaultBM25Params())
	for _, h := range res[0].Top {
		fmt.Printf("candidate %d: %.4f\n", h.Index, h.Score)
	}
	fmt.Println("rank of candidate 0:", res[0].RelevantRanks[0])
	// Output:
	// candidate 1: 1.4758
	// candidate 0: 0.4700
	// rank of candidate 0: 2
}
