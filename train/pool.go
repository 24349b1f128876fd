package train

import "sync"

// pool runs data-parallel loops on a fixed set of goroutines. Loop bodies are method values bound once,
// so a step allocates nothing.
type pool struct {
	workers int
	jobs    chan job
	wg      sync.WaitGroup
}

type job struct {
	fn     func(lo, hi int)
	lo, hi int
}

// chunksPerWorker splits loops finer than the worker count, so uneven texts still balance.
const chunksPerWorker = 4

func newPool(workers int) *pool {
	p := &pool{workers: max(workers, 1), jobs: make(chan job, max(workers, 1)*chunksPerWorker)}
	for range p.workers - 1 {
		go func() {
			for j := range p.jobs {
				j.fn(j.lo, j.hi)
				p.wg.Done()
			}
		}()
	}
	return p
}

// run calls fn over [0, n) split into ranges, the caller's goroutine taking its share, and returns when all
// ranges are done.
func (p *pool) run(n int, fn func(lo, hi int)) {
	if p.workers == 1 || n < 2 {
		fn(0, n)
		return
	}
	chunks := min(n, p.workers*chunksPerWorker)
	size := (n + chunks - 1) / chunks
	for lo := 0; lo < n; lo += size {
		p.wg.Add(1)
		p.jobs <- job{fn, lo, min(lo+size, n)}
	}
	for drained := false; !drained; {
		select {
		case j := <-p.jobs:
			j.fn(j.lo, j.hi)
			p.wg.Done()
		default:
			drained = true
		}
	}
	p.wg.Wait()
}

func (p *pool) close() { close(p.jobs) }
