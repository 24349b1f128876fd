package retrieval

import (
	"context"
	"math"
	"reflect"
	"slices"
	"strings"
	"testing"
)

// tieProblem is worked by hand. Scores for query 0 = (1, 0): c0 1, c1 0.5, c2 1, c3 0.5, c4 1, so its
// ranking is c0, c2, c4 (ties by index), then c1, c3. For query 1 = (0, 1): c0 0, c1 1, c2 1, c3 0,
// c4 0.5, ranking c1, c2, c4, c0, c3.
var tieProblem = struct {
	queries, cands []float32
	relevant       [][]int
	want           []Result // k = 2
}{
	queries:  []float32{1, 0, 0, 1},
	cands:    []float32{1, 0, 0.5, 1, 1, 1, 0.5, 0, 1, 0.5},
	relevant: [][]int{{4, 3, 0}, {2, 3}},
	want: []Result{
		{Top: []Hit{{0, 1}, {2, 1}}, RelevantRanks: []int{3, 5, 1}},
		{Top: []Hit{{1, 1}, {2, 1}}, RelevantRanks: []int{2, 5}},
	},
}

func TestSearchBreaksTiesByIndexAsWorkedByHand(t *testing.T) {
	p := tieProblem
	for _, kern := range append(assembly(), portable()) {
		got, err := searchWith(context.Background(), kern, p.queries, p.cands, 2, 2, func(q int) []int { return p.relevant[q] }, 1)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, p.want) {
			t.Errorf("%s kernel: got %+v, want %+v", kern.name, got, p.want)
		}
	}
}

// searchSharded cuts the pool at cuts, searches each shard with targets scored by Score, and merges.
func searchSharded(t *testing.T, p problem, k int, cuts []int) []Result {
	t.Helper()
	dim := p.dim
	targets := func(q int) []Target {
		var ts []Target
		for _, c := range p.relevant[q] {
			ts = append(ts, Target{Index: c, Score: Score(p.queries[q*dim:(q+1)*dim], p.cands[c*dim:(c+1)*dim])})
		}
		return ts
	}
	var parts [][]Partial
	bounds := append(append([]int{0}, cuts...), len(p.cands)/dim)
	for i := range len(bounds) - 1 {
		sh := Shard{Cands: p.cands[bounds[i]*dim : bounds[i+1]*dim], Offset: bounds[i]}
		part, err := SearchShard(context.Background(), p.queries, sh, dim, k, targets, 2)
		if err != nil {
			t.Fatal(err)
		}
		parts = append(parts, part)
	}
	res, err := Merge(k, parts...)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func TestShardedSearchEqualsWholeSearch(t *testing.T) {
	tests := []struct {
		name string
		p    problem
		k    int
		cuts []int // shard boundaries
	}{
		{"hand-worked ties split inside tie groups", problem{queries: tieProblem.queries, cands: tieProblem.cands, dim: 2, relevant: tieProblem.relevant}, 2, []int{1, 3}},
		{"dyadic ties, uneven shards", dyadicProblem(21, 40, 1300, 16), 100, []int{7, 600, 613, 1299}},
		{"shards smaller than k", dyadicProblem(22, 9, 90, 4), 50, []int{10, 20, 45}},
		{"normalised vectors, blocks of the kernel", normalProblem(23, 100, 3000, 32), 100, []int{512, 1000, 2049}},
		{"ranks only", normalProblem(24, 30, 800, 8), 0, []int{400}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			whole, err := Search(context.Background(), tt.p.queries, tt.p.cands, tt.p.dim, tt.k, func(q int) []int { return tt.p.relevant[q] }, 2)
			if err != nil {
				t.Fatal(err)
			}
			if got := searchSharded(t, tt.p, tt.k, tt.cuts); !reflect.DeepEqual(got, whole) {
				for q := range got {
					if !reflect.DeepEqual(got[q], whole[q]) {
						t.Fatalf("query %d: sharded %+v, whole %+v", q, got[q], whole[q])
					}
				}
				t.Fatal("sharded and whole results differ")
			}
		})
	}
}

func TestAssemblyKernelsGiveTheSameResults(t *testing.T) {
	kerns := assembly()
	if len(kerns) < 2 {
		t.Skipf("%d assembly kernel sets on this CPU or build: nothing to compare", len(kerns))
	}
	p := normalProblem(25, 61, 1100, 48)
	rel := func(q int) []int { return p.relevant[q] }
	want, err := searchWith(context.Background(), kerns[0], p.queries, p.cands, p.dim, 20, rel, 3)
	if err != nil {
		t.Fatal(err)
	}
	for _, kern := range kerns[1:] {
		got, err := searchWith(context.Background(), kern, p.queries, p.cands, p.dim, 20, rel, 2)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s kernel's results differ from the %s kernel's", kern.name, kerns[0].name)
		}
	}
}

func TestScoreIsTheScoreSearchGives(t *testing.T) {
	p := normalProblem(26, 13, 500, 40)
	res, err := Search(context.Background(), p.queries, p.cands, p.dim, 30, nil, 1)
	if err != nil {
		t.Fatal(err)
	}
	for q, r := range res {
		for _, h := range r.Top {
			got := Score(p.queries[q*p.dim:(q+1)*p.dim], p.cands[h.Index*p.dim:(h.Index+1)*p.dim])
			if math.Float32bits(got) != math.Float32bits(h.Score) {
				t.Fatalf("query %d candidate %d: Score %v, Search %v", q, h.Index, got, h.Score)
			}
		}
	}
}

func TestShardInputErrorsNameTheShard(t *testing.T) {
	ok := []float32{1, 0, 0, 1}
	tests := []struct {
		name    string
		shard   Shard
		targets func(int) []Target
		want    string
	}{
		{"negative offset", Shard{Cands: ok, Offset: -1}, nil, "offset -1"},
		{"NaN target score", Shard{Cands: ok, Offset: 4}, func(int) []Target { return []Target{{0, float32(math.NaN())}} }, "search shard at 4: query 0: target"},
		{"negative target index", Shard{Cands: ok}, func(int) []Target { return []Target{{-2, 1}} }, "needs an index >= 0"},
		{"ragged shard", Shard{Cands: ok[:3], Offset: 9}, nil, "search shard at 9: 4 query floats and 3 candidate floats"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := SearchShard(context.Background(), ok, tt.shard, 2, 1, tt.targets, 1)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("got error %v, want one containing %q", err, tt.want)
			}
		})
	}
}

func TestMergeRejectsShardsThatDisagree(t *testing.T) {
	a := []Partial{{Before: []int{1}}}
	if _, err := Merge(1, a, []Partial{{Before: []int{1}}, {}}); err == nil || !strings.Contains(err.Error(), "shard 1 answers 2 queries") {
		t.Fatalf("got error %v, want a query count mismatch", err)
	}
	if _, err := Merge(1, a, []Partial{{Before: []int{1, 2}}}); err == nil || !strings.Contains(err.Error(), "shard 1 counts 2 targets") {
		t.Fatalf("got error %v, want a target count mismatch", err)
	}
}

// A pool dealt to shards by a key rather than cut in ranges (the score stage's shards): each shard holds
// an increasing subsequence of the pool, laid out once as Candidates; a target's index is the number of
// the shard's candidates before it in the pool. Merged, with the shards' indexes mapped back to the
// pool's, the answers equal the whole search's.
func TestCandidatesSearchShardOfAnInterleavedPoolEqualsWholeSearch(t *testing.T) {
	tests := []struct {
		name   string
		p      problem
		k      int
		shards int
	}{
		{"dyadic ties over 3 shards", dyadicProblem(31, 50, 1500, 8), 60, 3},
		{"one shard", dyadicProblem(32, 20, 300, 4), 10, 1},
		{"more shards than some hold candidates", dyadicProblem(33, 9, 40, 4), 30, 7},
		{"normalised vectors over 4 shards", normalProblem(34, 70, 2500, 32), 100, 4},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, dim := tt.p, tt.p.dim
			nc := len(p.cands) / dim
			whole, err := Search(context.Background(), p.queries, p.cands, dim, tt.k, func(q int) []int { return p.relevant[q] }, 2)
			if err != nil {
				t.Fatal(err)
			}
			// Deal candidate i to shard (i*7+i/5)%shards: not contiguous, some shards uneven.
			members := make([][]int, tt.shards)
			for i := range nc {
				s := (i*7 + i/5) % tt.shards
				members[s] = append(members[s], i)
			}
			var parts [][]Partial
			for _, m := range members {
				c, err := NewCandidates(len(m), dim, func(i int) []float32 { return p.cands[m[i]*dim : (m[i]+1)*dim] })
				if err != nil {
					t.Fatal(err)
				}
				targets := func(q int) []Target {
					var ts []Target
					for _, g := range p.relevant[q] {
						local, _ := slices.BinarySearch(m, g)
						ts = append(ts, Target{Index: local, Score: Score(p.queries[q*dim:(q+1)*dim], p.cands[g*dim:(g+1)*dim])})
					}
					return ts
				}
				part, err := c.SearchShard(context.Background(), p.queries, tt.k, targets, 2)
				if err != nil {
					t.Fatal(err)
				}
				for q := range part {
					for i := range part[q].Top {
						part[q].Top[i].Index = m[part[q].Top[i].Index]
					}
				}
				parts = append(parts, part)
			}
			got, err := Merge(tt.k, parts...)
			if err != nil {
				t.Fatal(err)
			}
			for q := range whole {
				if !reflect.DeepEqual(got[q], whole[q]) {
					t.Fatalf("query %d: sharded %+v, whole %+v", q, got[q], whole[q])
				}
			}
		})
	}
}

// A pool held as parts laid out one by one (the scorer's languages) searches as one layout of it: the
// same results, and the same shard answers; a part's vectors come back bit for bit.
func TestPartsSearchLikeOnePool(t *testing.T) {
	tests := []struct {
		name string
		p    problem
		k    int
		cuts []int
	}{
		{"dyadic ties across parts", dyadicProblem(41, 40, 1200, 8), 80, []int{300, 301, 900}},
		{"one part", dyadicProblem(42, 10, 100, 4), 10, nil},
		{"parts smaller than k", dyadicProblem(43, 12, 60, 4), 50, []int{5, 20, 40}},
		{"normalised vectors", normalProblem(44, 50, 2000, 32), 100, []int{700, 1400}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, dim := tt.p, tt.p.dim
			nc := len(p.cands) / dim
			rel := func(q int) []int { return p.relevant[q] }
			whole, err := Search(context.Background(), p.queries, p.cands, dim, tt.k, rel, 2)
			if err != nil {
				t.Fatal(err)
			}
			var ps Parts
			bounds := append(append([]int{0}, tt.cuts...), nc)
			for i := range len(bounds) - 1 {
				c, err := NewCandidates(bounds[i+1]-bounds[i], dim, rows(p.cands[bounds[i]*dim:bounds[i+1]*dim], dim))
				if err != nil {
					t.Fatal(err)
				}
				ps = append(ps, c)
			}
			got, err := ps.Search(context.Background(), p.queries, tt.k, rel, 2)
			if err != nil {
				t.Fatal(err)
			}
			for q := range whole {
				if !reflect.DeepEqual(got[q], whole[q]) {
					t.Fatalf("query %d: parts %+v, one pool %+v", q, got[q], whole[q])
				}
			}
			for _, i := range []int{0, nc / 2, nc - 1} {
				if v := ps.Vector(i); !reflect.DeepEqual(v, p.cands[i*dim:(i+1)*dim]) {
					t.Fatalf("vector %d = %v, want %v", i, v, p.cands[i*dim:(i+1)*dim])
				}
			}
		})
	}
}
