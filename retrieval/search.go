// Package retrieval ranks candidates for queries by exact inner product (cosine similarity when the vectors
// are L2-normalised), as the LAReQA evaluation needs: the top k of each ranking and the rank of every relevant
// candidate in the whole ranking.
//
// Ranking order: a higher score ranks first; equal scores rank by lower candidate index. Callers hold
// candidates in a fixed order (for example sorted by item id), so a ranking never depends on scheduling.
// Every score is the float32 sum of the products q[d]*c[d] taken in order d = 0, 1, ..., so identical
// candidate vectors always get identical scores and tie.
package retrieval

import (
	"cmp"
	"container/heap"
	"context"
	"fmt"
	"math"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
)

// Hit is one ranked candidate.
type Hit struct {
	Index int     // candidate index, 0-based
	Score float32 // inner product with the query
}

// Result is one query's ranking.
type Result struct {
	// Top holds the min(k, number of candidates) best candidates, best first.
	Top []Hit
	// RelevantRanks holds the 1-based rank, in the whole ranking, of each relevant candidate, in the order the
	// relevant function listed them.
	RelevantRanks []int
}

const (
	// queryBlock queries share one pass over the candidates; each worker holds queryBlock score rows of one
	// float32 per candidate, so memory grows with the candidate count, never with queries x candidates.
	queryBlock = 32
	// candBlock candidates (candBlock*dim*4 bytes, 128 KiB at dim 128) stay in cache while a query block
	// is scored against them.
	candBlock = 256
)

// Search scores every query against every candidate. queries and cands are row-major, dim floats per
// vector. relevant, which may be nil, returns the relevant candidate indexes of query q; it is called once
// per query from the calling goroutine. workers goroutines (GOMAXPROCS when workers < 1) share the queries.
// k is capped at the number of candidates.
func Search(ctx context.Context, queries, cands []float32, dim, k int, relevant func(q int) []int, workers int) ([]Result, error) {
	if dim < 1 {
		return nil, fmt.Errorf("search: dimension %d, want at least 1", dim)
	}
	if len(queries)%dim != 0 || len(cands)%dim != 0 {
		return nil, fmt.Errorf("search: %d query floats and %d candidate floats are not multiples of dimension %d", len(queries), len(cands), dim)
	}
	if k < 0 {
		return nil, fmt.Errorf("search: k = %d, want k >= 0", k)
	}
	if err := checkFinite(queries, dim); err != nil {
		return nil, fmt.Errorf("search: query %w", err)
	}
	if err := checkFinite(cands, dim); err != nil {
		return nil, fmt.Errorf("search: candidate %w", err)
	}
	nq, nc := len(queries)/dim, len(cands)/dim
	k = min(k, nc)

	results := make([]Result, nq)
	tops := make([]Hit, nq*k)
	for q := range results {
		results[q].Top = tops[q*k : q*k : (q+1)*k]
		if relevant == nil {
			continue
		}
		rel := relevant(q)
		for _, c := range rel {
			if c < 0 || c >= nc {
				return nil, fmt.Errorf("search: query %d: relevant candidate %d out of range [0, %d)", q, c, nc)
			}
		}
		results[q].RelevantRanks = make([]int, len(rel))
		// The ranks are filled in place of a copy of the indexes: relevant may hand out shared slices.
		copy(results[q].RelevantRanks, rel)
	}
	if nq == 0 {
		return results, nil
	}

	if workers < 1 {
		workers = runtime.GOMAXPROCS(0)
	}
	nblocks := (nq + queryBlock - 1) / queryBlock
	workers = min(workers, nblocks)
	var next atomic.Int64
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			w := newWorker(dim, nc, k)
			for ctx.Err() == nil {
				b := int(next.Add(1)) - 1
				if b >= nblocks {
					return
				}
				q0 := b * queryBlock
				q1 := min(q0+queryBlock, nq)
				w.block(queries[q0*dim:q1*dim], cands, results[q0:q1])
			}
		})
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("search: %w", err)
	}
	return results, nil
}

func checkFinite(v []float32, dim int) error {
	for i, x := range v {
		if math.IsNaN(float64(x)) || math.IsInf(float64(x), 0) {
			return fmt.Errorf("vector %d: component %d is %v", i/dim, i%dim, x)
		}
	}
	return nil
}

// worker holds one goroutine's scratch space.
type worker struct {
	dim, k int
	rows   [][]float32 // rows[i][c]: score of the block's query i against candidate c
	top    topK

	targets []target // scratch for ranks
	above   []int
}

func newWorker(dim, nc, k int) *worker {
	w := &worker{dim: dim, k: k, rows: make([][]float32, queryBlock)}
	buf := make([]float32, queryBlock*nc)
	for i := range w.rows {
		w.rows[i] = buf[i*nc : (i+1)*nc]
	}
	w.top = make(topK, 0, k)
	return w
}

// block ranks the candidates for a block of queries; res[i].RelevantRanks holds candidate indexes on entry.
func (w *worker) block(qs, cands []float32, res []Result) {
	w.score(qs, cands, len(res))
	for i := range res {
		row := w.rows[i]
		w.topK(row, &res[i])
		w.ranks(row, res[i].RelevantRanks)
	}
}

// score fills rows[0:nq] with the block's scores, candBlock candidates at a time, four queries by two
// candidates per inner kernel.
func (w *worker) score(qs, cands []float32, nq int) {
	dim := w.dim
	nc := len(cands) / dim
	for c0 := 0; c0 < nc; c0 += candBlock {
		c1 := min(c0+candBlock, nc)
		i := 0
		for ; i+4 <= nq; i += 4 {
			q0 := qs[i*dim : (i+1)*dim]
			q1 := qs[(i+1)*dim : (i+2)*dim]
			q2 := qs[(i+2)*dim : (i+3)*dim]
			q3 := qs[(i+3)*dim : (i+4)*dim]
			r0, r1, r2, r3 := w.rows[i], w.rows[i+1], w.rows[i+2], w.rows[i+3]
			c := c0
			for ; c+2 <= c1; c += 2 {
				r0[c], r0[c+1], r1[c], r1[c+1], r2[c], r2[c+1], r3[c], r3[c+1] =
					dot4x2(q0, q1, q2, q3, cands[c*dim:(c+1)*dim], cands[(c+1)*dim:(c+2)*dim])
			}
			for ; c < c1; c++ {
				cv := cands[c*dim : (c+1)*dim]
				r0[c], r1[c], r2[c], r3[c] = dot(q0, cv), dot(q1, cv), dot(q2, cv), dot(q3, cv)
			}
		}
		for ; i < nq; i++ {
			q := qs[i*dim : (i+1)*dim]
			r := w.rows[i]
			for c := c0; c < c1; c++ {
				r[c] = dot(q, cands[c*dim:(c+1)*dim])
			}
		}
	}
}

// dot4x2 returns the eight inner products of q0..q3 with c0 and c1. Each product is rounded before it is
// added (the explicit conversion forbids fusing into an FMA), so the result is bit-identical to dot's.
func dot4x2(q0, q1, q2, q3, c0, c1 []float32) (s00, s01, s10, s11, s20, s21, s30, s31 float32) {
	n := len(q0)
	q1, q2, q3, c0, c1 = q1[:n], q2[:n], q3[:n], c0[:n], c1[:n]
	for d, a0 := range q0 {
		a1, a2, a3 := q1[d], q2[d], q3[d]
		b0, b1 := c0[d], c1[d]
		s00 += float32(a0 * b0)
		s01 += float32(a0 * b1)
		s10 += float32(a1 * b0)
		s11 += float32(a1 * b1)
		s20 += float32(a2 * b0)
		s21 += float32(a2 * b1)
		s30 += float32(a3 * b0)
		s31 += float32(a3 * b1)
	}
	return
}

func dot(q, c []float32) float32 {
	c = c[:len(q)]
	var s float32
	for d, a := range q {
		s += float32(a * c[d])
	}
	return s
}

// topK fills res.Top from a query's score row.
func (w *worker) topK(row []float32, res *Result) {
	if w.k == 0 {
		return
	}
	h := w.top[:0]
	for c, s := range row {
		if len(h) < w.k {
			h = append(h, Hit{c, s})
			if len(h) == w.k {
				heap.Init(&h)
			}
			continue
		}
		// Candidates come in index order, so an equal score never displaces the held one.
		if s > h[0].Score {
			h[0] = Hit{c, s}
			heap.Fix(&h, 0)
		}
	}
	res.Top = append(res.Top, h...)
	slices.SortFunc(res.Top, func(a, b Hit) int {
		if better(a, b) {
			return -1
		}
		return 1
	})
	w.top = h
}

// better reports whether a ranks before b.
func better(a, b Hit) bool {
	return a.Score > b.Score || (a.Score == b.Score && a.Index < b.Index)
}

// topK is a min-heap under the ranking order: the root is the worst held hit.
type topK []Hit

func (h topK) Len() int           { return len(h) }
func (h topK) Less(i, j int) bool { return better(h[j], h[i]) }
func (h topK) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *topK) Push(x any)        { *h = append(*h, x.(Hit)) }
func (h *topK) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

// ranks replaces each relevant candidate index in rel by its 1-based rank: one plus the number of
// candidates that rank before it. One pass over the row, without sorting it: with the relevant scores in
// ascending order, a candidate that beats m of them is counted once in above[m], and the candidates above
// the j-th are those counted in above[j+1:], plus ties won on index.
func (w *worker) ranks(row []float32, rel []int) {
	if len(rel) == 0 {
		return
	}
	ts := w.targets[:0]
	for j, c := range rel {
		ts = append(ts, target{index: c, pos: j, score: row[c]})
	}
	slices.SortFunc(ts, func(a, b target) int { return cmp.Compare(a.score, b.score) })
	above := slices.Grow(w.above[:0], len(ts)+1)[:len(ts)+1]
	clear(above)
	lowest := ts[0].score
	for c, s := range row {
		if s < lowest {
			continue
		}
		m := 0
		for m < len(ts) && ts[m].score < s {
			m++
		}
		above[m]++
		for j := m; j < len(ts) && ts[j].score == s; j++ {
			if c < ts[j].index {
				ts[j].ties++
			}
		}
	}
	n := 0
	for j := len(ts) - 1; j >= 0; j-- {
		n += above[j+1]
		rel[ts[j].pos] = 1 + n + ts[j].ties
	}
	w.targets, w.above = ts, above
}

// target is a relevant candidate while its rank is counted.
type target struct {
	index, pos int // candidate index; position in the relevant list
	score      float32
	ties       int // candidates with an equal score and a lower index
}
