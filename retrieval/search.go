// Package retrieval ranks candidates for queries by exact inner product (cosine similarity when the vectors
// are L2-normalised), as the LAReQA evaluation needs: the top k of each ranking and the rank of every relevant
// candidate in the whole ranking.
//
// Ranking order: a higher score ranks first; equal scores rank by lower candidate index. Callers hold
// candidates in a fixed order (for example sorted by item id), so a ranking never depends on scheduling.
//
// Scores come from a Go assembly micro-kernel (kernel.go): AVX-512 (12 queries by 16 candidates per call)
// where the CPU has it, else AVX2 with FMA (6 by 16). Go assembly was chosen over the other ways to SIMD
// speed because it fixes each score's arithmetic: every score is the float32 chain
// s = fma(q[d], c[d], s) over d = 0, 1, ..., dim-1, whatever the kernel width, the blocking, the thread
// count or the neighbouring vectors, so identical candidate vectors always tie, a run repeats bit for bit,
// and the AVX2 and AVX-512 kernels agree bit for bit. OpenBLAS (through cgo) and gonum pick their kernels,
// blocking and threading by CPU and version, as does ONNX Runtime's MatMul; none of them would fuse the
// top-k selection and rank counting into the pass over the scores, which here stay in a cache-sized
// block; and a cgo call or a second thread pool would sit beside the scorer's own workers. Go's simd
// package is still behind GOEXPERIMENT. Other CPUs and architectures (and the purego build tag) run a
// portable Go kernel, which rounds each product before adding it: deterministic too, but its scores may
// differ from the FMA kernels' in the last bits.
//
// Memory grows with the candidate count (one packed copy of the candidates), never with queries x
// candidates: each worker scores a block of queries against a block of candidates at a time, and folds
// the block into the queries' top-k and rank counts before the next.
//
// A pool too large for one machine can be split into shards (Shard), searched independently
// (SearchShard) and merged exactly (Merge).
package retrieval

import (
	"context"
	"fmt"
	"math"
	"math/bits"
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

// Shard is a contiguous part of a candidate pool: Cands holds candidates Offset, Offset+1, ... of the
// whole pool, row-major.
type Shard struct {
	Cands  []float32
	Offset int
}

// Target is a relevant candidate as a shard sees it: its index in the whole pool and its score against
// the query (from Score), so that a shard can count its candidates ranking before a relevant candidate
// held by another shard. Scores are exact across machines whose CPUs run the FMA kernels (any x86-64 with
// AVX2 and FMA); a pool sharded across other machines must not mix them with those.
type Target struct {
	Index int
	Score float32
}

// Partial is one query's answer from one shard.
type Partial struct {
	// Top holds the shard's min(k, shard size) best candidates, pool indexes, best first.
	Top []Hit
	// Before holds, for each target, the number of the shard's candidates that rank before it.
	Before []int
}

const (
	// queryBlock queries (a multiple of every kernel's mr) share one pass over the candidates.
	queryBlock = 48
	// candBlock candidates (a multiple of nr; 256 KiB packed at dim 128) stay in L2 while a query block
	// is scored against them; the block's scores, queryBlock x candBlock, stay there too.
	candBlock = 32 * nr
)

// Search scores every query against every candidate. queries and cands are row-major, dim floats per
// vector. relevant, which may be nil, returns the relevant candidate indexes of query q; it is called once
// per query from the calling goroutine. workers goroutines (GOMAXPROCS when workers < 1) share the queries.
// k is capped at the number of candidates.
func Search(ctx context.Context, queries, cands []float32, dim, k int, relevant func(q int) []int, workers int) ([]Result, error) {
	return searchWith(ctx, pickKernels(), queries, cands, dim, k, relevant, workers)
}

func searchWith(ctx context.Context, kern *kernels, queries, cands []float32, dim, k int, relevant func(q int) []int, workers int) ([]Result, error) {
	if err := checkVectors(queries, cands, dim, k); err != nil {
		return nil, fmt.Errorf("search: %w", err)
	}
	n := len(cands) / dim
	c := &Candidates{packed: pack(n, dim, rows(cands, dim)), n: n, dim: dim}
	return c.search(ctx, kern, queries, k, relevant, workers)
}

// Candidates is a candidate set laid out for the kernel once, for searches by many sets of queries (a
// multilingual pool is searched by every language's queries): Search lays its candidates out on every call.
type Candidates struct {
	packed []float32
	n, dim int
}

// NewCandidates lays out n candidates of dim floats, vector(i) being the i-th (it is asked more than once,
// so it should be cheap: a slice of something held). It fails on a vector of another length or with a
// component that is not finite.
func NewCandidates(n, dim int, vector func(i int) []float32) (*Candidates, error) {
	if dim < 1 || n < 0 {
		return nil, fmt.Errorf("candidates: %d of dimension %d", n, dim)
	}
	for i := range n {
		v := vector(i)
		if len(v) != dim {
			return nil, fmt.Errorf("candidates: vector %d has %d components, want %d", i, len(v), dim)
		}
		for d, x := range v {
			if !finite(x) {
				return nil, fmt.Errorf("candidates: vector %d: component %d is %v", i, d, x)
			}
		}
	}
	return &Candidates{packed: pack(n, dim, vector), n: n, dim: dim}, nil
}

// Search is the package's Search over these candidates: the same results for the same vectors.
func (c *Candidates) Search(ctx context.Context, queries []float32, k int, relevant func(q int) []int, workers int) ([]Result, error) {
	if err := checkVectors(queries, nil, c.dim, k); err != nil {
		return nil, fmt.Errorf("search: %w", err)
	}
	return c.search(ctx, pickKernels(), queries, k, relevant, workers)
}

func (c *Candidates) search(ctx context.Context, kern *kernels, queries []float32, k int, relevant func(q int) []int, workers int) ([]Result, error) {
	dim, nc := c.dim, c.n
	nq := len(queries) / dim
	targets := make([][]Target, nq)
	if relevant != nil {
		var out [maxMR * nr]float32
		panel := make([]float32, nr*dim)
		qp := make([]float32, dim*kern.mr)
		for q := range targets {
			rel := relevant(q)
			ts := make([]Target, len(rel))
			for i, ci := range rel {
				if ci < 0 || ci >= nc {
					return nil, fmt.Errorf("search: query %d: relevant candidate %d out of range [0, %d)", q, ci, nc)
				}
				ts[i].Index = ci
			}
			// Relevant candidates are scored by the same kernel, nr at a time, so their scores are the
			// very ones the pass over the pool meets.
			for i := 0; i < len(ts); i += nr {
				clear(panel)
				for j, t := range ts[i:min(i+nr, len(ts))] {
					src := c.packed[(t.Index/nr)*nr*dim+t.Index%nr:]
					for d := range dim {
						panel[d*nr+j] = src[d*nr]
					}
				}
				packQueries(qp, queries[q*dim:(q+1)*dim], 1, dim, kern.mr)
				kern.micro(qp, panel, dim, out[:], nr)
				for j := range ts[i:min(i+nr, len(ts))] {
					ts[i+j].Score = out[j]
				}
			}
			targets[q] = ts
		}
	}
	parts, err := search(ctx, kern, queries, c.packed, nc, 0, dim, k, targets, workers)
	if err != nil {
		return nil, fmt.Errorf("search: %w", err)
	}
	return Merge(k, parts)
}

// SearchShard is the package's SearchShard over these candidates as a shard at offset 0: a worker that
// holds its shard laid out once searches it for many settings without a row-major copy. A target's Index
// is where it stands among these candidates (its insertion point if another shard holds it), so that
// candidates tied with it count before it exactly when they sort before it.
func (c *Candidates) SearchShard(ctx context.Context, queries []float32, k int, targets func(q int) []Target, workers int) ([]Partial, error) {
	if err := checkVectors(queries, nil, c.dim, k); err != nil {
		return nil, fmt.Errorf("search shard: %w", err)
	}
	ts, err := shardTargets(len(queries)/c.dim, targets)
	if err != nil {
		return nil, fmt.Errorf("search shard: %w", err)
	}
	parts, err := search(ctx, pickKernels(), queries, c.packed, c.n, 0, c.dim, k, ts, workers)
	if err != nil {
		return nil, fmt.Errorf("search shard: %w", err)
	}
	return parts, nil
}

// Len returns the number of candidates.
func (c *Candidates) Len() int { return c.n }

// shardTargets asks targets for each of nq queries, and checks them.
func shardTargets(nq int, targets func(q int) []Target) ([][]Target, error) {
	ts := make([][]Target, nq)
	if targets == nil {
		return ts, nil
	}
	for q := range ts {
		ts[q] = targets(q)
		for _, t := range ts[q] {
			if t.Index < 0 || !finite(t.Score) {
				return nil, fmt.Errorf("query %d: target %+v needs an index >= 0 and a finite score", q, t)
			}
		}
	}
	return ts, nil
}

// SearchShard ranks one shard's candidates for every query: its top k and, for each target of query q
// (targets(q), called once per query from the calling goroutine; targets may be nil), the number of the
// shard's candidates that rank before it. Merge combines the shards' answers into Search's.
func SearchShard(ctx context.Context, queries []float32, shard Shard, dim, k int, targets func(q int) []Target, workers int) ([]Partial, error) {
	if err := checkVectors(queries, shard.Cands, dim, k); err != nil {
		return nil, fmt.Errorf("search shard at %d: %w", shard.Offset, err)
	}
	if shard.Offset < 0 {
		return nil, fmt.Errorf("search shard: offset %d, want >= 0", shard.Offset)
	}
	ts, err := shardTargets(len(queries)/dim, targets)
	if err != nil {
		return nil, fmt.Errorf("search shard at %d: %w", shard.Offset, err)
	}
	nc := len(shard.Cands) / dim
	parts, err := search(ctx, pickKernels(), queries, pack(nc, dim, rows(shard.Cands, dim)), nc, shard.Offset, dim, k, ts, workers)
	if err != nil {
		return nil, fmt.Errorf("search shard at %d: %w", shard.Offset, err)
	}
	return parts, nil
}

// Merge combines per-shard answers for the same queries and targets (shards[s][q] is shard s's answer for
// query q) into whole-pool results: the best k hits of all shards, and each target's rank, one plus the
// candidates ranking before it in every shard.
func Merge(k int, shards ...[]Partial) ([]Result, error) {
	if len(shards) == 0 {
		return nil, nil
	}
	nq := len(shards[0])
	for s, sh := range shards {
		if len(sh) != nq {
			return nil, fmt.Errorf("merge: shard %d answers %d queries, shard 0 answers %d", s, len(sh), nq)
		}
	}
	results := make([]Result, nq)
	for q := range results {
		nt := len(shards[0][q].Before)
		top := shards[0][q].Top
		if len(shards) > 1 {
			n := 0
			for _, sh := range shards {
				n += len(sh[q].Top)
			}
			top = make([]Hit, 0, n)
			for _, sh := range shards {
				top = append(top, sh[q].Top...)
			}
			slices.SortFunc(top, compareHits)
		}
		top = slices.Clip(top[:min(k, len(top)):min(k, len(top))])
		var ranks []int
		if nt > 0 {
			ranks = make([]int, nt)
			for i := range ranks {
				ranks[i] = 1
			}
		}
		for s, sh := range shards {
			if len(sh[q].Before) != nt {
				return nil, fmt.Errorf("merge: query %d: shard %d counts %d targets, shard 0 counts %d", q, s, len(sh[q].Before), nt)
			}
			for i, n := range sh[q].Before {
				ranks[i] += n
			}
		}
		results[q] = Result{Top: top, RelevantRanks: ranks}
	}
	return results, nil
}

func checkVectors(queries, cands []float32, dim, k int) error {
	if dim < 1 {
		return fmt.Errorf("dimension %d, want at least 1", dim)
	}
	if len(queries)%dim != 0 || len(cands)%dim != 0 {
		return fmt.Errorf("%d query floats and %d candidate floats are not multiples of dimension %d", len(queries), len(cands), dim)
	}
	if k < 0 {
		return fmt.Errorf("k = %d, want k >= 0", k)
	}
	if err := checkFinite(queries, dim); err != nil {
		return fmt.Errorf("query %w", err)
	}
	if err := checkFinite(cands, dim); err != nil {
		return fmt.Errorf("candidate %w", err)
	}
	return nil
}

func checkFinite(v []float32, dim int) error {
	for i, x := range v {
		if !finite(x) {
			return fmt.Errorf("vector %d: component %d is %v", i/dim, i%dim, x)
		}
	}
	return nil
}

// finite is false for an infinity or a NaN: all exponent bits set (one integer test, where IsNaN and IsInf
// take two).
func finite(x float32) bool { return math.Float32bits(x)&0x7f800000 != 0x7f800000 }

// search ranks nc packed candidates, pool indexes offset.., for every query, with query blocks shared out
// among workers.
func search(ctx context.Context, kern *kernels, queries, packed []float32, nc, offset, dim, k int, targets [][]Target, workers int) ([]Partial, error) {
	nq := len(queries) / dim
	if offset+nc > math.MaxUint32 {
		return nil, fmt.Errorf("candidates %d..%d: indexes must stay below 2^32", offset, offset+nc-1)
	}
	k = min(k, nc)
	parts := make([]Partial, nq)
	tops := make([]Hit, nq*k)
	for q := range parts {
		parts[q].Top = tops[q*k : q*k : (q+1)*k]
		if len(targets[q]) > 0 {
			parts[q].Before = make([]int, len(targets[q]))
		}
	}
	if nq == 0 {
		return parts, nil
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
			w := &worker{kern: kern, dim: dim, k: k, nc: nc, offset: offset,
				qbuf: make([]float32, queryBlock*dim), scores: make([]float32, queryBlock*candBlock), keys: make([]uint64, 0, candBlock), mask: make([]uint64, candBlock/64)}
			for ctx.Err() == nil {
				b := int(next.Add(1)) - 1
				if b >= nblocks {
					return
				}
				q0 := b * queryBlock
				q1 := min(q0+queryBlock, nq)
				w.block(queries[q0*dim:q1*dim], packed, parts[q0:q1], targets[q0:q1])
			}
		})
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return parts, nil
}

// worker holds one goroutine's scratch space.
type worker struct {
	kern               *kernels
	dim, k, nc, offset int
	qbuf               []float32             // the block's queries, zero-padded to a whole number of micro-kernel rows
	scores             []float32             // scores[i*candBlock+j]: query i against the candidate block's j-th candidate
	sel                [queryBlock]selection // each query's best candidates so far
	keys               []uint64              // a block's keys, scratch for selection
	mask               []uint64              // a block's scores above the threshold, one bit each
}

// block ranks the candidates for a block of queries.
func (w *worker) block(qs, packed []float32, parts []Partial, targets [][]Target) {
	dim := w.dim
	nq := len(parts)
	mr := w.kern.mr
	rows := (nq + mr - 1) / mr * mr
	for i := range parts {
		w.sel[i].reset(w.k)
	}
	for r := 0; r < rows; r += mr {
		packQueries(w.qbuf[r*dim:(r+mr)*dim], qs[r*dim:], min(mr, nq-r), dim, mr)
	}
	for c0 := 0; c0 < w.nc; c0 += candBlock {
		c1 := min(c0+candBlock, w.nc)
		panels := (c1 - c0 + nr - 1) / nr
		for r := 0; r < rows; r += mr {
			for p := range panels {
				pc := c0 + p*nr
				w.kern.micro(w.qbuf[r*dim:(r+mr)*dim], packed[pc*dim:(pc+nr)*dim], dim, w.scores[r*candBlock+p*nr:], candBlock)
			}
		}
		for i := range parts {
			s := w.scores[i*candBlock : i*candBlock+c1-c0]
			base := w.offset + c0
			w.topK(s, base, &w.sel[i])
			w.count(s, base, targets[i], parts[i].Before)
		}
	}
	for i := range parts {
		parts[i].Top = w.sel[i].hits(w.k, parts[i].Top)
	}
}

// topK folds a block's scores, candidates base, base+1, ..., into the query's selection buffer.
func (w *worker) topK(s []float32, base int, sel *selection) {
	if w.k == 0 {
		return
	}
	if len(sel.keys) == 0 && len(s) > w.k {
		// The query's first block: its best k, selected at once, set a threshold that most of the
		// candidates to come do not pass.
		keys := w.keys[:0]
		for i, x := range s {
			keys = append(keys, key(x, base+i))
		}
		selectLargest(keys, w.k)
		sel.keys = append(sel.keys, keys[:w.k]...)
		sel.threshold = hit(slices.Min(sel.keys)).Score
		return
	}
	// Candidates come in index order, so one that only equals the k-th best score held never enters.
	w.kern.aboveMask(s, sel.threshold, w.mask)
	for word, m := range w.mask[:(len(s)+63)/64] {
		for ; m != 0; m &= m - 1 {
			i := word*64 + bits.TrailingZeros64(m)
			if s[i] <= sel.threshold { // the threshold rose since the mask was made
				continue
			}
			sel.keys = append(sel.keys, key(s[i], base+i))
			if len(sel.keys) == cap(sel.keys) {
				sel.keep(w.k)
			}
		}
	}
}

// selection gathers one query's best candidates as keys, above a threshold that rises each time the
// buffer fills and is cut back to the best k: cheaper than a heap, which reorders on every entry.
type selection struct {
	keys      []uint64
	threshold float32 // the k-th best score held once the buffer was first cut, -Inf before
}

func (s *selection) reset(k int) {
	s.keys = s.keys[:0]
	if cap(s.keys) < 2*k+64 {
		s.keys = make([]uint64, 0, 2*k+64)
	}
	s.threshold = float32(math.Inf(-1))
}

// keep cuts the buffer to its best k keys.
func (s *selection) keep(k int) {
	if len(s.keys) <= k {
		return
	}
	selectLargest(s.keys, k)
	s.keys = s.keys[:k]
	s.threshold = hit(slices.Min(s.keys)).Score
}

// hits returns the best k hits, best first.
func (s *selection) hits(k int, dst []Hit) []Hit {
	s.keep(k)
	slices.Sort(s.keys)
	for i := len(s.keys) - 1; i >= 0; i-- {
		dst = append(dst, hit(s.keys[i]))
	}
	return dst
}

// key orders hits as the ranking does, in one integer: the score's bits made monotone in the high half,
// the complement of the index in the low half, so a larger key ranks first.
func key(score float32, index int) uint64 {
	b := math.Float32bits(score + 0) // + 0 turns -0 into +0, which compares equal to it
	if b>>31 == 1 {
		b = ^b
	} else {
		b |= 1 << 31
	}
	return uint64(b)<<32 | uint64(^uint32(index))
}

func hit(k uint64) Hit {
	b := uint32(k >> 32)
	if b>>31 == 1 {
		b &^= 1 << 31
	} else {
		b = ^b
	}
	return Hit{Index: int(^uint32(k)), Score: math.Float32frombits(b)}
}

// selectLargest moves the k largest keys (all distinct) to the front of v, in no particular order. It
// is quickselect with a branch-free partition: the keys a query collects come in no order a branch
// predictor could learn, and a mispredicted branch per key cost more than the rest of the work.
func selectLargest(v []uint64, k int) {
	lo, hi := 0, len(v)
	for hi-lo >= 3 {
		// The median of three has a larger and a smaller key beside it, so both sides of the partition
		// are non-empty and the range shrinks every time.
		a, b, c := v[lo], v[lo+(hi-lo)/2], v[hi-1]
		pivot := max(min(a, b), min(max(a, b), c))
		j := lo
		for i := lo; i < hi; i++ {
			x := v[i]
			_, above := bits.Sub64(pivot, x, 0) // 1 when x > pivot
			v[i] = v[j]
			v[j] = x
			j += int(above)
		}
		// Now v[lo:j] > pivot >= v[j:hi].
		switch {
		case j == k:
			return
		case j > k:
			hi = j
		default:
			lo = j
		}
	}
	if hi-lo == 2 && v[lo] < v[lo+1] {
		v[lo], v[lo+1] = v[lo+1], v[lo]
	}
}

// count adds to before[j] the block's candidates that rank before target j: those scoring above it, and
// those scoring equal with a lower index (a candidate below the target's index counts at >=, which for
// finite floats is > the next float down, and one at or above it at >, so the target itself never counts).
func (w *worker) count(s []float32, base int, ts []Target, before []int) {
	for j, t := range ts {
		split := min(max(t.Index-base, 0), len(s))
		n := 0
		if split > 0 {
			n += w.kern.count(s[:split], math.Nextafter32(t.Score, float32(math.Inf(-1))))
		}
		if split < len(s) {
			n += w.kern.count(s[split:], t.Score)
		}
		before[j] += n
	}
}

// better reports whether a ranks before b.
func better(a, b Hit) bool {
	return a.Score > b.Score || (a.Score == b.Score && a.Index < b.Index)
}

func compareHits(a, b Hit) int {
	if better(a, b) {
		return -1
	}
	if better(b, a) {
		return 1
	}
	return 0
}

// Vector returns a copy of candidate i's vector, as laid out (bit for bit what NewCandidates was given).
func (c *Candidates) Vector(i int) []float32 {
	v := make([]float32, c.dim)
	src := c.packed[(i/nr)*nr*c.dim+i%nr:]
	for d := range v {
		v[d] = src[d*nr]
	}
	return v
}

// Parts is a pool held as consecutive parts, each laid out on its own (a multilingual pool as its
// languages' candidates, laid out once per language): candidate i of the pool is candidate i - o of the
// part that starts at o. Searching the parts gives what searching one layout of the whole pool would,
// without a second copy of it.
type Parts []*Candidates

// Len returns the number of candidates in all the parts.
func (ps Parts) Len() int {
	n := 0
	for _, c := range ps {
		n += c.n
	}
	return n
}

// Vector returns a copy of the pool's candidate i.
func (ps Parts) Vector(i int) []float32 {
	for _, c := range ps {
		if i < c.n {
			return c.Vector(i)
		}
		i -= c.n
	}
	panic(fmt.Sprintf("retrieval: candidate %d of parts of %d", i, ps.Len()))
}

// Search is the package's Search over the pool: the same results for the same vectors. Each relevant
// candidate is scored once per query by Score, the score the pass over its part meets.
func (ps Parts) Search(ctx context.Context, queries []float32, k int, relevant func(q int) []int, workers int) ([]Result, error) {
	if len(ps) == 1 {
		return ps[0].Search(ctx, queries, k, relevant, workers)
	}
	n := ps.Len()
	var targets func(q int) []Target
	if relevant != nil && len(ps) > 0 {
		dim := ps[0].dim
		if len(queries)%dim != 0 {
			return nil, fmt.Errorf("search: %d query floats are not a multiple of dimension %d", len(queries), dim)
		}
		// Asked once per query, in order, from this goroutine (SearchShard's contract).
		ts := make([][]Target, len(queries)/dim)
		for q := range ts {
			for _, i := range relevant(q) {
				if i < 0 || i >= n {
					return nil, fmt.Errorf("search: query %d: relevant candidate %d out of range [0, %d)", q, i, n)
				}
				ts[q] = append(ts[q], Target{Index: i, Score: Score(queries[q*dim:(q+1)*dim], ps.Vector(i))})
			}
		}
		targets = func(q int) []Target { return ts[q] }
	}
	part, err := ps.SearchShard(ctx, queries, k, targets, workers)
	if err != nil {
		return nil, err
	}
	return Merge(k, part)
}

// SearchShard is Candidates.SearchShard over the pool: a target's Index is where it stands in the
// whole pool, and each part counts its candidates before it (none of a part after it ties before it).
func (ps Parts) SearchShard(ctx context.Context, queries []float32, k int, targets func(q int) []Target, workers int) ([]Partial, error) {
	if len(ps) == 1 {
		return ps[0].SearchShard(ctx, queries, k, targets, workers)
	}
	if len(ps) == 0 {
		return nil, fmt.Errorf("search shard: no parts")
	}
	dim := ps[0].dim
	for i, c := range ps {
		if c.dim != dim {
			return nil, fmt.Errorf("search shard: part %d has dimension %d, part 0 %d", i, c.dim, dim)
		}
	}
	if len(queries)%dim != 0 {
		return nil, fmt.Errorf("search shard: %d query floats are not a multiple of dimension %d", len(queries), dim)
	}
	ts, err := shardTargets(len(queries)/dim, targets)
	if err != nil {
		return nil, fmt.Errorf("search shard: %w", err)
	}
	var parts [][]Partial
	offset := 0
	for _, c := range ps {
		part, err := c.SearchShard(ctx, queries, k, func(q int) []Target {
			local := make([]Target, len(ts[q]))
			for i, t := range ts[q] {
				local[i] = Target{Index: min(max(t.Index-offset, 0), c.n), Score: t.Score}
			}
			return local
		}, workers)
		if err != nil {
			return nil, err
		}
		for q := range part {
			for i := range part[q].Top {
				part[q].Top[i].Index += offset
			}
		}
		parts = append(parts, part)
		offset += c.n
	}
	// The parts' answers combined: Merge's top k and counts, kept as one shard's answer.
	merged, err := Merge(k, parts...)
	if err != nil {
		return nil, fmt.Errorf("search shard: %w", err)
	}
	out := make([]Partial, len(merged))
	for q, r := range merged {
		out[q].Top = r.Top
		if len(r.RelevantRanks) > 0 {
			out[q].Before = make([]int, len(r.RelevantRanks))
			for i, rank := range r.RelevantRanks {
				out[q].Before[i] = rank - 1
			}
		}
	}
	return out, nil
}
