package retrieval

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"xling/internal/testenv"
)

// problem is a random search problem and its relevant sets.
type problem struct {
	queries, cands []float32
	dim            int
	relevant       [][]int
}

// dyadicProblem draws components from {-2, -1.5, ..., 2}: every product and partial sum is exact in
// float32, so scores do not depend on summation order and ties are frequent. Some candidates are copies
// of others, so relevant candidates tie exactly with earlier and later copies.
func dyadicProblem(seed uint64, nq, nc, dim int) problem {
	r := rand.New(rand.NewPCG(seed, 1))
	draw := func() float32 { return float32(r.IntN(9)-4) / 2 }
	p := problem{dim: dim, queries: make([]float32, nq*dim), cands: make([]float32, nc*dim)}
	for i := range p.queries {
		p.queries[i] = draw()
	}
	for c := range nc {
		if c > 0 && r.IntN(4) == 0 {
			src := r.IntN(nc)
			if src < c {
				copy(p.cands[c*dim:(c+1)*dim], p.cands[src*dim:(src+1)*dim])
				continue
			}
		}
		for d := range dim {
			p.cands[c*dim+d] = draw()
		}
	}
	p.relevant = randomRelevant(r, nq, nc)
	return p
}

// normalProblem draws L2-normalised Gaussian vectors, with some candidates duplicated, and random
// relevant sets.
func normalProblem(seed uint64, nq, nc, dim int) problem {
	p, r := normalVectors(seed, nq, nc, dim)
	p.relevant = randomRelevant(r, nq, nc)
	return p
}

// normalVectors draws normalProblem's vectors; it returns the generator to draw more from.
func normalVectors(seed uint64, nq, nc, dim int) (problem, *rand.Rand) {
	r := rand.New(rand.NewPCG(seed, 2))
	p := problem{dim: dim, queries: make([]float32, nq*dim), cands: make([]float32, nc*dim)}
	fill := func(v []float32) {
		var n float64
		for d := range v {
			x := r.NormFloat64()
			v[d] = float32(x)
			n += x * x
		}
		for d := range v {
			v[d] = float32(float64(v[d]) / math.Sqrt(n))
		}
	}
	for i := range nq {
		fill(p.queries[i*dim : (i+1)*dim])
	}
	for c := range nc {
		if c > 0 && r.IntN(10) == 0 {
			src := r.IntN(c)
			copy(p.cands[c*dim:(c+1)*dim], p.cands[src*dim:(src+1)*dim])
			continue
		}
		fill(p.cands[c*dim : (c+1)*dim])
	}
	return p, r
}

func randomRelevant(r *rand.Rand, nq, nc int) [][]int {
	rel := make([][]int, nq)
	for q := range rel {
		rel[q] = r.Perm(nc)[:1+r.IntN(min(nc, 11))]
	}
	return rel
}

func writeF32(t testing.TB, path string, v []float32) {
	t.Helper()
	b := make([]byte, 4*len(v))
	for i, x := range v {
		binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(x))
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// writeProblem stores p where the python helpers read it.
func writeProblem(t testing.TB, p problem) string {
	t.Helper()
	dir := t.TempDir()
	writeF32(t, filepath.Join(dir, "queries.f32"), p.queries)
	writeF32(t, filepath.Join(dir, "cands.f32"), p.cands)
	rel, err := json.Marshal(p.relevant)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "relevant.json"), rel, 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

type oracleResult struct {
	Top    []int     `json:"top"`
	Scores []float64 `json:"scores"`
	Ranks  []int     `json:"ranks"`
	Slack  []int     `json:"slack"`
}

func numpyRanking(t *testing.T, p problem, k int, tol float64) []oracleResult {
	t.Helper()
	py := testenv.RequirePython(t, "numpy")
	dir := writeProblem(t, p)
	out, err := exec.Command(py, "testdata/rank_oracle.py", dir, strconv.Itoa(p.dim), strconv.Itoa(k),
		strconv.FormatFloat(tol, 'g', -1, 64)).Output()
	if err != nil {
		t.Fatalf("rank_oracle.py: %v", err)
	}
	var res []oracleResult
	if err := json.Unmarshal(out, &res); err != nil {
		t.Fatalf("decode rank_oracle.py output: %v", err)
	}
	return res
}

func TestSearchMatchesNumpyRanking(t *testing.T) {
	tests := []struct {
		name string
		p    problem
		k    int
		// tol is the score tolerance; 0 means scores are exact and rankings must match exactly.
		tol float64
	}{
		{"exact scores with many ties", dyadicProblem(1, 37, 601, 16), 100, 0},
		{"k above candidate count", dyadicProblem(2, 5, 20, 3), 50, 0},
		{"k zero gives ranks only", dyadicProblem(3, 9, 300, 8), 0, 0},
		{"normalised vectors", normalProblem(4, 70, 1500, 64), 100, 1e-5},
		{"full ranking", dyadicProblem(13, 50, 700, 5), 700, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			want := numpyRanking(t, tt.p, tt.k, tt.tol)
			for _, kern := range append(assembly(), portable()) {
				got, err := searchWith(context.Background(), kern, tt.p.queries, tt.p.cands, tt.p.dim, tt.k,
					func(q int) []int { return tt.p.relevant[q] }, 2)
				if err != nil {
					t.Fatal(err)
				}
				if len(got) != len(want) {
					t.Fatalf("%s kernel: got %d results, want %d", kern.name, len(got), len(want))
				}
				for q := range got {
					checkQuery(t, q, tt.p, got[q], want[q], tt.tol)
				}
			}
		})
	}
}

func checkQuery(t *testing.T, q int, p problem, got Result, want oracleResult, tol float64) {
	t.Helper()
	if len(got.Top) != len(want.Top) {
		t.Fatalf("query %d: %d hits, want %d", q, len(got.Top), len(want.Top))
	}
	for i, h := range got.Top {
		if tol == 0 && (h.Index != want.Top[i] || float64(h.Score) != want.Scores[i]) {
			t.Fatalf("query %d hit %d: got %+v, want {%d %v}", q, i, h, want.Top[i], want.Scores[i])
		}
		// With rounding, near-ties may swap indexes, but the i-th best score stays within tol, and each
		// hit's score must be its own candidate's.
		if !(math.Abs(float64(h.Score)-want.Scores[i]) <= tol) {
			t.Fatalf("query %d hit %d: score %v, want %v", q, i, h.Score, want.Scores[i])
		}
		if own := dot64(p, q, h.Index); !(math.Abs(float64(h.Score)-own) <= tol+1e-12) {
			t.Fatalf("query %d hit %d: score %v, candidate %d scores %v", q, i, h.Score, h.Index, own)
		}
	}
	for j, r := range got.RelevantRanks {
		slack := want.Slack[j]
		if tol == 0 {
			slack = 0
		}
		if d := r - want.Ranks[j]; d < -slack || d > slack {
			t.Fatalf("query %d relevant %d (candidate %d): rank %d, want %d (slack %d)",
				q, j, p.relevant[q][j], r, want.Ranks[j], slack)
		}
	}
	if len(got.RelevantRanks) != len(want.Ranks) {
		t.Fatalf("query %d: %d relevant ranks, want %d", q, len(got.RelevantRanks), len(want.Ranks))
	}
}

func dot64(p problem, q, c int) float64 {
	var s float64
	for d := range p.dim {
		s += float64(p.queries[q*p.dim+d]) * float64(p.cands[c*p.dim+d])
	}
	return s
}

func TestSearchSameResultForAnyWorkerCount(t *testing.T) {
	p := normalProblem(5, 101, 777, 24)
	rel := func(q int) []int { return p.relevant[q] }
	base, err := Search(context.Background(), p.queries, p.cands, p.dim, 10, rel, 1)
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range []int{0, 2, 7} {
		got, err := Search(context.Background(), p.queries, p.cands, p.dim, 10, rel, w)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, base) {
			t.Errorf("workers=%d: results differ from workers=1", w)
		}
	}
}

// Candidates laid out once answer every set of queries exactly as Search does, ties and relevant ranks
// included (dyadic vectors tie often, and copies tie exactly).
func TestCandidatesSearchedByManyQuerySetsAgreeWithSearch(t *testing.T) {
	p := dyadicProblem(9, 90, 301, 20)
	cands, err := NewCandidates(len(p.cands)/p.dim, p.dim, func(i int) []float32 { return p.cands[i*p.dim : (i+1)*p.dim] })
	if err != nil {
		t.Fatal(err)
	}
	for _, part := range [][2]int{{0, 30}, {30, 31}, {31, 90}} {
		qs := p.queries[part[0]*p.dim : part[1]*p.dim]
		rel := func(q int) []int { return p.relevant[part[0]+q] }
		want, err := Search(context.Background(), qs, p.cands, p.dim, 17, rel, 2)
		if err != nil {
			t.Fatal(err)
		}
		got, err := cands.Search(context.Background(), qs, 17, rel, 2)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("queries %d..%d: results differ from Search", part[0], part[1])
		}
	}
}

func TestNewCandidatesRejectsBadVectors(t *testing.T) {
	tests := []struct {
		name string
		vecs [][]float32
		want string
	}{
		{"short vector", [][]float32{{1, 0}, {1}}, "vector 1 has 1 components, want 2"},
		{"NaN", [][]float32{{float32(math.NaN()), 0}}, "candidates: vector 0: component 0 is NaN"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := NewCandidates(len(tt.vecs), 2, func(i int) []float32 { return tt.vecs[i] })
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("got error %v, want one containing %q", err, tt.want)
			}
		})
	}
}

func TestSearchRejectsBadInput(t *testing.T) {
	ok := []float32{1, 0, 0, 1}
	tests := []struct {
		name           string
		queries, cands []float32
		dim, k         int
		relevant       func(int) []int
		want           string
	}{
		{"zero dimension", ok, ok, 0, 1, nil, "dimension 0"},
		{"ragged vectors", ok, []float32{1, 0, 0}, 2, 1, nil, "not multiples"},
		{"negative k", ok, ok, 2, -1, nil, "k = -1"},
		{"NaN in query", []float32{1, float32(math.NaN())}, ok, 2, 1, nil, "query vector 0: component 1 is NaN"},
		{"infinity in candidate", ok, []float32{1, 0, float32(math.Inf(-1)), 0}, 2, 1, nil, "candidate vector 1: component 0 is -Inf"},
		{"relevant out of range", ok, ok, 2, 1, func(int) []int { return []int{2} }, "relevant candidate 2 out of range"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Search(context.Background(), tt.queries, tt.cands, tt.dim, tt.k, tt.relevant, 1)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("got error %v, want one containing %q", err, tt.want)
			}
		})
	}
}

func TestSearchStopsWhenCancelled(t *testing.T) {
	p := normalProblem(6, 64, 100, 8)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Search(ctx, p.queries, p.cands, p.dim, 5, nil, 1); !errors.Is(err, context.Canceled) {
		t.Fatalf("got error %v, want context.Canceled", err)
	}
}
