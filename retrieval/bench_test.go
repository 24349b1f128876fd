package retrieval

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os/exec"
	"runtime"
	"strconv"
	"testing"
	"time"

	"xling/internal/testenv"
)

// The XQuAD-R shape: 1,190 queries, 13,014 candidates, dimension 128, top 100, 11 relevant per query,
// on 2 threads.
const (
	benchQueries  = 1190
	benchCands    = 13014
	benchDim      = 128
	benchK        = 100
	benchRelevant = 11
	benchWorkers  = 2
)

// benchProblem is an XQuAD-R shaped search of nq queries over nc candidates, normalised Gaussian vectors
// drawn with a fixed seed.
func benchProblem(nq, nc int) problem {
	p, _ := normalVectors(7, nq, nc, benchDim)
	r := rand.New(rand.NewPCG(8, 0))
	p.relevant = make([][]int, nq)
	for q := range p.relevant {
		rel := make([]int, benchRelevant)
		for i := range rel {
			rel[i] = r.IntN(nc)
		}
		p.relevant[q] = rel
	}
	return p
}

// faissPeer starts testdata/faiss_peer.py on p's vectors; each call of the returned function runs one
// IndexFlatIP top-k search of all queries and returns its seconds, as timed inside python.
func faissPeer(b *testing.B, p problem) func(k int) float64 {
	py := testenv.RequirePython(b, "numpy", "faiss")
	dir := writeProblem(b, p)
	ask := testenv.StartPeer(b, exec.Command(py, "testdata/faiss_peer.py", dir, strconv.Itoa(p.dim), strconv.Itoa(benchWorkers)))
	return func(k int) float64 {
		reply := ask(strconv.Itoa(k))
		sec, err := strconv.ParseFloat(reply, 64)
		if err != nil {
			b.Fatalf("testdata/faiss_peer.py: reply %q: %v", reply, err)
		}
		return sec
	}
}

// interleave takes turns with the peers (testenv.Interleave, one warm-up turn each) and reports the
// rate of xling's score arithmetic over its turns.
func interleave(b *testing.B, xling func(), flops float64, peers ...testenv.Peer) {
	xs, _ := testenv.Interleave(b, 1, xling, peers...)
	b.ReportMetric(flops*float64(len(xs))/testenv.Sum(xs)/1e9, "GFLOP/s")
}

// searchOnce returns a function that runs p's search (top k, plus the relevant ranks when ranks), and
// the floating-point operations of its scores.
func searchOnce(b *testing.B, p problem, k int, ranks bool) (func(), float64) {
	var rel func(int) []int
	if ranks {
		rel = func(q int) []int { return p.relevant[q] }
	}
	nq, nc := len(p.queries)/p.dim, len(p.cands)/p.dim
	return func() {
		if _, err := Search(context.Background(), p.queries, p.cands, p.dim, k, rel, benchWorkers); err != nil {
			b.Fatal(err)
		}
	}, 2 * float64(nq) * float64(nc) * float64(p.dim)
}

// BenchmarkSearch is the scorer's search on the XQuAD-R shape: top 100 plus the rank of every relevant
// candidate in the whole ranking. Its peers are faiss IndexFlatIP's top-100 search, which does not rank
// the relevant candidates (faiss-ms/op, x-faiss), and faiss's full ranking (k = every candidate), which is
// what faiss needs for the same metrics (faiss-full-ms/op, x-faiss-full).
func BenchmarkSearch(b *testing.B) {
	p := benchProblem(benchQueries, benchCands)
	run, flops := searchOnce(b, p, benchK, true)
	faiss := faissPeer(b, p)
	interleave(b, run, flops,
		testenv.Peer{Name: "faiss", Run: func() float64 { return faiss(benchK) }},
		testenv.Peer{Name: "faiss-full", Run: func() float64 { return faiss(benchCands) }})
}

// BenchmarkSearchTop is the top-100 search alone against faiss IndexFlatIP's.
func BenchmarkSearchTop(b *testing.B) {
	p := benchProblem(benchQueries, benchCands)
	run, flops := searchOnce(b, p, benchK, false)
	faiss := faissPeer(b, p)
	interleave(b, run, flops, testenv.Peer{Name: "faiss", Run: func() float64 { return faiss(benchK) }})
}

// BenchmarkSearchScaling grows the pool to 1x, 4x and 16x the XQuAD-R pool, and the queries to 4x, on
// synthetic vectors. Besides time and GFLOP/s it reports the peak of the heap in use during one more
// search, above the heap before it (peak-MiB, sampled every millisecond), and the size of the results
// themselves (results-MiB: 100 hits and 11 ranks per query), which grows with the queries by necessity.
func BenchmarkSearchScaling(b *testing.B) {
	for _, sc := range []struct{ queries, pool int }{{1, 1}, {1, 4}, {1, 16}, {4, 1}, {4, 4}} {
		b.Run(fmt.Sprintf("queries=%dx/pool=%dx", sc.queries, sc.pool), func(b *testing.B) {
			p := benchProblem(sc.queries*benchQueries, sc.pool*benchCands)
			run, flops := searchOnce(b, p, benchK, true)
			b.ResetTimer()
			for range b.N {
				run()
			}
			b.StopTimer()
			b.ReportMetric(flops*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
			b.ReportMetric(float64(peakHeap(run))/(1<<20), "peak-MiB")
			nq := len(p.queries) / p.dim
			const hit, rank, headers = 16, 8, 48
			b.ReportMetric(float64(nq*(benchK*hit+benchRelevant*rank+headers))/(1<<20), "results-MiB")
		})
	}
}

// peakHeap runs f and returns the most heap in use while it ran, above what was in use before.
func peakHeap(f func()) uint64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	base := ms.HeapAlloc
	peak := base
	done := make(chan struct{})
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		var ms runtime.MemStats
		t := time.NewTicker(time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				runtime.ReadMemStats(&ms)
				peak = max(peak, ms.HeapAlloc)
			}
		}
	}()
	f()
	close(done)
	<-sampled
	return peak - base
}

// BenchmarkMicroKernel runs each kernel's inner loop alone on one core, over a cache-resident block
// (a query block against candBlock candidates at dimension 128), and reports its GFLOP/s: the figure to
// set beside the core's peak.
func BenchmarkMicroKernel(b *testing.B) {
	r := rand.New(rand.NewPCG(9, 0))
	for _, kern := range append(assembly(), portable()) {
		b.Run(kern.name, func(b *testing.B) {
			qp := make([]float32, queryBlock*benchDim)
			packed := make([]float32, candBlock*benchDim)
			for i := range qp {
				qp[i] = float32(r.NormFloat64())
			}
			for i := range packed {
				packed[i] = float32(r.NormFloat64())
			}
			scores := make([]float32, queryBlock*candBlock)
			for b.Loop() {
				for q := 0; q < queryBlock; q += kern.mr {
					for c := 0; c < candBlock; c += nr {
						kern.micro(qp[q*benchDim:(q+kern.mr)*benchDim], packed[c*benchDim:(c+nr)*benchDim], benchDim, scores[q*candBlock+c:], candBlock)
					}
				}
			}
			b.ReportMetric(2*queryBlock*candBlock*benchDim*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
		})
	}
}
