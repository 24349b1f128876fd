package retrieval

import (
	"container/heap"
	"context"
	"fmt"
	"math"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
)

// BM25Params are Okapi BM25's free parameters, and how many goroutines share the queries.
type BM25Params struct {
	K1, B   float64
	Workers int // GOMAXPROCS when < 1
}

// DefaultBM25Params are Anserini's (and so Pyserini's, BEIR's and MIRACL's BM25 baselines'): k1 = 0.9, b = 0.4.
func DefaultBM25Params() BM25Params { return BM25Params{K1: 0.9, B: 0.4} }

// BM25 ranks candidates for queries by Okapi BM25, both given as bags of term ids. Collection statistics
// (document count, document frequencies, average length) are those of cands. The score of candidate d for
// query q is
//
//	sum over distinct terms t of q:  qtf(t) * idf(t) * tf(t,d) * (k1 + 1) / (tf(t,d) + k1 * (1 - b + b * |d| / avgdl))
//
// with idf(t) = log(1 + (N - df(t) + 0.5) / (df(t) + 0.5)), Lucene's idf, which is never negative. A term
// repeated in the query counts as often as it occurs, as in Anserini's bag-of-words queries. The sum is taken
// in float64, in ascending term id, and rounded to float32: the ranking is by that float32 score with Search's
// tie rule (equal scores rank by lower candidate index) and rank semantics. Candidates sharing no term with
// the query score 0 and rank after every other, by index.
//
// Cost is proportional to the postings of the query terms, not to the number of candidates: an inverted index
// is built once per call. relevant and k are as in Search.
func BM25(ctx context.Context, queries, cands [][]int64, k int, relevant func(q int) []int, p BM25Params) ([]Result, error) {
	if k < 0 {
		return nil, fmt.Errorf("bm25: k = %d, want k >= 0", k)
	}
	if !(p.K1 >= 0) || math.IsInf(p.K1, 0) || !(p.B >= 0 && p.B <= 1) {
		return nil, fmt.Errorf("bm25: k1 = %v, b = %v; want a finite k1 >= 0 and b in [0, 1]", p.K1, p.B)
	}
	nq, nc := len(queries), len(cands)
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
				return nil, fmt.Errorf("bm25: query %d: relevant candidate %d out of range [0, %d)", q, c, nc)
			}
		}
		results[q].RelevantRanks = slices.Clone(rel) // replaced by ranks in place
	}
	if nq == 0 || nc == 0 {
		return results, nil
	}
	ix := newInvertedIndex(cands, p)

	workers := p.Workers
	if workers < 1 {
		workers = runtime.GOMAXPROCS(0)
	}
	workers = min(workers, nq)
	var next atomic.Int64
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			w := bm25Worker{acc: make([]float64, nc), k: k}
			for ctx.Err() == nil {
				q := int(next.Add(1)) - 1
				if q >= nq {
					return
				}
				w.query(ix, queries[q], &results[q])
			}
		})
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("bm25: %w", err)
	}
	return results, nil
}

// invertedIndex holds, for each term of the candidates, its postings (candidate, tf) in candidate order,
// and each term's weight factor; norm[d] is k1 * (1 - b + b * |d| / avgdl).
type invertedIndex struct {
	terms   map[int64]int32 // term id -> term index
	start   []int32         // postings of term i are docs[start[i]:start[i+1]]
	docs    []int32
	tfs     []float64
	idf     []float64
	norm    []float64
	k1Plus1 float64
}

func newInvertedIndex(cands [][]int64, p BM25Params) *invertedIndex {
	nc := len(cands)
	ix := &invertedIndex{terms: map[int64]int32{}, norm: make([]float64, nc), k1Plus1: p.K1 + 1}
	// Each candidate's distinct terms and their counts, as (term index, tf) pairs in candidate order.
	type posting struct {
		term int32
		tf   int32
	}
	var all []posting
	ends := make([]int, nc)
	var counts []int32 // document frequency per term index
	var total int
	sorted := []int64{}
	for d, c := range cands {
		total += len(c)
		sorted = append(sorted[:0], c...)
		slices.Sort(sorted)
		for i := 0; i < len(sorted); {
			j := i + 1
			for j < len(sorted) && sorted[j] == sorted[i] {
				j++
			}
			t, ok := ix.terms[sorted[i]]
			if !ok {
				t = int32(len(counts))
				ix.terms[sorted[i]] = t
				counts = append(counts, 0)
			}
			counts[t]++
			all = append(all, posting{t, int32(j - i)})
			i = j
		}
		ends[d] = len(all)
	}
	nt := len(counts)
	ix.start = make([]int32, nt+1)
	for t, n := range counts {
		ix.start[t+1] = ix.start[t] + n
	}
	ix.docs = make([]int32, len(all))
	ix.tfs = make([]float64, len(all))
	fill := slices.Clone(ix.start[:nt])
	d := 0
	for i, pst := range all {
		for i >= ends[d] {
			d++
		}
		at := fill[pst.term]
		ix.docs[at], ix.tfs[at] = int32(d), float64(pst.tf)
		fill[pst.term]++
	}
	n := float64(nc)
	ix.idf = make([]float64, nt)
	for t, df := range counts {
		ix.idf[t] = math.Log(1 + (n-float64(df)+0.5)/(float64(df)+0.5))
	}
	avgdl := float64(total) / n
	for d, c := range cands {
		rel := 1.0 // every candidate empty: no postings, so the norm is never read
		if avgdl > 0 {
			rel = float64(len(c)) / avgdl
		}
		ix.norm[d] = p.K1 * (1 - p.B + p.B*rel)
	}
	return ix
}

// bm25Worker holds one goroutine's scratch space: a score per candidate, zero outside the touched ones.
type bm25Worker struct {
	acc     []float64
	touched []int32
	hits    []Hit
	heap    topK
	terms   []int64
	k       int
}

func (w *bm25Worker) query(ix *invertedIndex, query []int64, res *Result) {
	w.terms = append(w.terms[:0], query...)
	slices.Sort(w.terms)
	w.touched = w.touched[:0]
	for i := 0; i < len(w.terms); {
		j := i + 1
		for j < len(w.terms) && w.terms[j] == w.terms[i] {
			j++
		}
		if t, ok := ix.terms[w.terms[i]]; ok {
			weight := float64(j-i) * ix.idf[t]
			for at := ix.start[t]; at < ix.start[t+1]; at++ {
				d, tf := ix.docs[at], ix.tfs[at]
				if w.acc[d] == 0 {
					w.touched = append(w.touched, d)
				}
				w.acc[d] += weight * tf * ix.k1Plus1 / (tf + ix.norm[d])
			}
		}
		i = j
	}
	// Every touched candidate has a positive score (idf > 0, tf > 0); the others score 0.
	w.hits = w.hits[:0]
	for _, d := range w.touched {
		w.hits = append(w.hits, Hit{Index: int(d), Score: float32(w.acc[d])})
	}
	w.topK(res)
	w.ranks(res.RelevantRanks)
	for _, d := range w.touched {
		w.acc[d] = 0
	}
}

// topK fills res.Top with the best k scored candidates, then zero-score ones in index order.
func (w *bm25Worker) topK(res *Result) {
	if w.k == 0 {
		return
	}
	h := w.heap[:0]
	for _, hit := range w.hits {
		if len(h) < w.k {
			h = append(h, hit)
			if len(h) == w.k {
				heap.Init(&h)
			}
			continue
		}
		if better(hit, h[0]) {
			h[0] = hit
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
	w.heap = h
	for d := 0; len(res.Top) < w.k; d++ {
		if w.acc[d] == 0 {
			res.Top = append(res.Top, Hit{Index: d})
		}
	}
}

// ranks replaces each relevant candidate index in rel by its 1-based rank: one plus the scored candidates
// that rank before it, and for an unscored candidate also the unscored ones of lower index.
func (w *bm25Worker) ranks(rel []int) {
	for j, c := range rel {
		t := Hit{Index: c, Score: float32(w.acc[c])}
		n := 0
		for _, h := range w.hits {
			if better(h, t) {
				n++
			}
		}
		if t.Score == 0 {
			below := 0 // scored candidates of lower index
			for _, h := range w.hits {
				if h.Index < c {
					below++
				}
			}
			n += c - below
		}
		rel[j] = 1 + n
	}
}

// topK is a heap of hits whose root is the worst one kept (by better).
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
