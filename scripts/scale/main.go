// Command scale is the scale harness of sharded scoring (make scale-test): for each worker count it starts
// the embedded broker, produces a synthetic LAReQA-shaped pool (dataset/synthpool/pool) to the embeddings
// topic, and scores it exactly (top k plus every relevant rank) with one score worker, or with N score
// shards and the merge stage, each worker its own process. It prints, for each count, whether the
// rankings and metrics are identical to one worker's, the wall time of the workers, and the peak RSS of
// each worker process (its VmHWM, which the worker reads just before it exits).
//
//	go run ./scripts/scale -candidates 1000000 -queries 10000 -dim 256 -top-k 100 -workers 1,2,4
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"hash/fnv"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sync/errgroup"

	"xling/dataset/synthpool/pool"
	"xling/domain"
	"xling/evaluate"
	"xling/pipeline"
	"xling/schemas"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	var err error
	if len(os.Args) > 1 && os.Args[1] == "worker" {
		err = worker(ctx, os.Args[2:], log)
	} else {
		err = harness(ctx, os.Args[1:], log)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "scale:", err)
		os.Exit(1)
	}
}

// settings of one scoring run, shared by the harness and its workers.
type settings struct {
	brokers, runID string
	shards, topK   int
}

func (s settings) config() evaluate.Config {
	return evaluate.Config{Brokers: []string{s.brokers}, RunID: s.runID, Topics: pipeline.DefaultTopics(), TopK: s.topK,
		ScoreShards: s.shards, Model: "synthetic"} // no model file is opened: the score stages read embeddings
}

func (s settings) args(stage string) []string {
	return []string{"worker", "-stage", stage, "-brokers", s.brokers, "-run-id", s.runID, "-shards", strconv.Itoa(s.shards), "-top-k", strconv.Itoa(s.topK)}
}

// worker runs one score stage (score, score-shard-<i> or score-merge) of a run to its end.
func worker(ctx context.Context, args []string, log *slog.Logger) error {
	fs := flag.NewFlagSet("worker", flag.ContinueOnError)
	stage := fs.String("stage", "", "stage to run")
	var s settings
	fs.StringVar(&s.brokers, "brokers", "", "broker address")
	fs.StringVar(&s.runID, "run-id", "", "run id")
	fs.IntVar(&s.shards, "shards", 1, "score shards of the run")
	fs.IntVar(&s.topK, "top-k", 100, "ranking entries per query")
	if err := fs.Parse(args); err != nil {
		return err
	}
	job, err := evaluate.Open(ctx, s.config(), log, *stage)
	if err != nil {
		return fmt.Errorf("worker %s: %w", *stage, err)
	}
	defer job.Close()
	if err := job.Run(ctx); err != nil {
		return fmt.Errorf("worker %s: %w", *stage, err)
	}
	// The process's own high-water mark: a child's getrusage maxrss would count the harness's memory
	// (Linux carries the parent's mm high-water mark across exec).
	status, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return fmt.Errorf("worker %s: %w", *stage, err)
	}
	for _, line := range strings.Split(string(status), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmHWM:" {
			fmt.Println("vmhwm-kib", f[1])
		}
	}
	return nil
}

func harness(ctx context.Context, args []string, log *slog.Logger) error {
	fs := flag.NewFlagSet("scale", flag.ContinueOnError)
	candidates := fs.Int("candidates", 1_000_000, "candidates in the pool, over all languages")
	queries := fs.Int("queries", 10_000, "queries, over all languages")
	dim := fs.Int("dim", 256, "embedding dimension")
	topK := fs.Int("top-k", 100, "ranking entries per query and setting")
	langs := fs.String("langs", "de,en,es,zh", "languages (the pool's queries and candidates are split evenly among them)")
	workers := fs.String("workers", "1,2,4", "score worker counts to run; 1 is the single scorer and the reference")
	seed := fs.Uint64("seed", 1, "seed of the synthetic pool")
	noise := fs.Float64("noise", 1, "noise of the synthetic vectors (pool.Config.Noise)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	ls := strings.Split(*langs, ",")
	cfg := pool.Config{Dataset: "synth", Model: "synthetic", Langs: ls, Questions: *queries / len(ls), Candidates: *candidates / len(ls),
		Dim: *dim, Seed: *seed, Noise: *noise}
	if err := cfg.Check(); err != nil {
		return err
	}
	var counts []int
	for _, w := range strings.Split(*workers, ",") {
		n, err := strconv.Atoi(w)
		if err != nil || n < 1 {
			return fmt.Errorf("-workers: %q is not a worker count", w)
		}
		counts = append(counts, n)
	}
	self, err := os.Executable()
	if err != nil {
		return err
	}
	fmt.Printf("pool: %d candidates (%d per language), %d queries, %d languages, d=%d, top-%d, seed %d\n",
		cfg.Candidates*len(ls), cfg.Candidates, cfg.Questions*len(ls), len(ls), cfg.Dim, *topK, cfg.Seed)
	var reference *digest
	var single int64 // the 1-worker run's peak RSS
	for _, n := range counts {
		res, err := measure(ctx, self, cfg, n, *topK, log)
		if err != nil {
			return fmt.Errorf("%d workers: %w", n, err)
		}
		var identical string
		switch {
		case reference == nil && n == 1:
			reference, identical = &res.out, "yes (the reference)"
		case reference == nil:
			identical = "unknown (no 1-worker run before it)"
		case res.out == *reference:
			identical = "yes"
		default:
			identical = "no"
		}
		fmt.Printf("%d worker(s): identical to 1 worker: %s; rows %d rankings + %d metrics; multi_mean map %.4f; produce %s; workers' wall %s\n",
			n, identical, res.out.rankings, res.out.metrics, res.multiMAP, res.produce.Round(time.Millisecond), res.wall.Round(time.Millisecond))
		var shardPeak int64
		for _, w := range res.workers {
			fmt.Printf("    %-14s peak RSS %7.1f MiB  wall %s\n", w.stage, float64(w.maxRSS)/(1<<20), w.wall.Round(time.Millisecond))
			if strings.HasPrefix(w.stage, "score-shard-") {
				shardPeak = max(shardPeak, w.maxRSS)
			}
		}
		// The targets: one worker under 4 GiB; each of 4 shards at most a third of it.
		switch {
		case n == 1:
			single = res.workers[0].maxRSS
			fmt.Printf("    target: 1 worker under 4 GiB: %s\n", yes(single < 4<<30))
		case n == 4 && single > 0:
			fmt.Printf("    target: each shard at most 1/3 of 1 worker's peak: %s (largest %.2f of it)\n", yes(3*shardPeak <= single), float64(shardPeak)/float64(single))
		}
	}
	return nil
}

func yes(ok bool) string {
	if ok {
		return "yes"
	}
	return "no"
}

type workerRun struct {
	stage  string
	maxRSS int64 // bytes
	wall   time.Duration
}

type result struct {
	out           digest
	multiMAP      float64
	produce, wall time.Duration
	workers       []workerRun
}

// measure scores the pool with n workers on a broker of its own (so no run's topics weigh on another's).
func measure(ctx context.Context, self string, cfg pool.Config, n, topK int, log *slog.Logger) (result, error) {
	var res result
	broker, err := pipeline.Connect(ctx, pipeline.BrokerConfig{Log: log})
	if err != nil {
		return res, err
	}
	defer broker.Close()
	s := settings{brokers: broker.Addrs[0], runID: fmt.Sprintf("scale-%d", n), shards: n, topK: topK}
	topics := pipeline.DefaultTopics()
	if err := broker.CreateTopics(ctx, topics.Partitions, topics.Sharded()...); err != nil {
		return res, err
	}
	start := time.Now()
	if err := pool.Produce(ctx, pipeline.Worker{Transport: broker, Topics: topics, RunID: s.runID}, cfg, 512); err != nil {
		return res, err
	}
	res.produce = time.Since(start)

	stages := []string{evaluate.Score}
	if n > 1 {
		stages = nil
		for i := range n {
			stages = append(stages, evaluate.ScoreShard(i))
		}
		stages = append(stages, evaluate.ScoreMerge)
	}
	res.workers = make([]workerRun, len(stages))
	g, gctx := errgroup.WithContext(ctx)
	start = time.Now()
	for i, st := range stages {
		g.Go(func() error {
			cmd := exec.CommandContext(gctx, self, s.args(st)...)
			cmd.Stderr = os.Stderr
			t0 := time.Now()
			out, err := cmd.Output()
			if err != nil {
				return fmt.Errorf("%s: %w", st, err)
			}
			res.workers[i] = workerRun{stage: st, wall: time.Since(t0)}
			f := strings.Fields(string(out))
			if len(f) != 2 || f[0] != "vmhwm-kib" {
				return fmt.Errorf("%s: printed %q, want its peak RSS", st, out)
			}
			kib, err := strconv.ParseInt(f[1], 10, 64)
			if err != nil {
				return fmt.Errorf("%s: peak RSS %q: %w", st, f[1], err)
			}
			res.workers[i].maxRSS = kib << 10
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return res, err
	}
	res.wall = time.Since(start)
	res.out, res.multiMAP, err = read(ctx, broker, topics, s.runID)
	return res, err
}

// digest sums a hash of every row, so two runs' tables compare whatever order their rows came in.
type digest struct {
	rankings, metrics int64
	sum, squares      uint64
}

func (d *digest) add(row any) {
	h := fnv.New64a()
	fmt.Fprintf(h, "%+v", row) // floats print shortest-exact: equal text is equal bits
	x := h.Sum64()
	d.sum += x
	d.squares += x * x
}

// read digests the run's rankings and metrics topics, each partition up to the run ends of every
// partition upstream.
func read(ctx context.Context, t pipeline.Transport, topics pipeline.Topics, run string) (digest, float64, error) {
	var d digest
	var multiMAP float64
	for _, topic := range []string{topics.Rankings().Name, topics.Metrics().Name} {
		parts, err := t.Partitions(ctx, topic)
		if err != nil {
			return d, 0, err
		}
		for p := range parts {
			err := readPartition(ctx, t, topic, p, run, func(schema string, value []byte) error {
				switch schema {
				case schemas.Rankings.ID:
					rows, err := schemas.Rankings.Decode(value)
					for _, r := range rows {
						d.rankings++
						d.add(r)
					}
					return err
				case schemas.Metrics.ID:
					rows, err := schemas.Metrics.Decode(value)
					for _, m := range rows {
						d.metrics++
						d.add(m)
						if m.Setting == domain.MultiMean && m.Name == "map" {
							multiMAP = m.Value
						}
					}
					return err
				}
				return fmt.Errorf("%s: schema %q", topic, schema)
			})
			if err != nil {
				return d, 0, err
			}
		}
	}
	return d, multiMAP, nil
}

func readPartition(ctx context.Context, t pipeline.Transport, topic string, p int, run string, data func(schema string, value []byte) error) error {
	r, err := t.Read(ctx, topic, p)
	if err != nil {
		return err
	}
	defer r.Close()
	ended := map[int64]bool{}
	for {
		rctx, cancel := context.WithTimeout(ctx, time.Minute)
		m, err := r.Next(rctx)
		cancel()
		if errors.Is(err, io.EOF) || errors.Is(err, context.DeadlineExceeded) {
			return fmt.Errorf("%s/%d: ended before the run's end markers (%d seen): %w", topic, p, len(ended), err)
		}
		if err != nil {
			return err
		}
		if id, _ := m.Header(pipeline.HeaderRun); id != run {
			continue
		}
		schema, _ := m.Header(schemas.HeaderSchema)
		if schema != schemas.Markers.ID {
			if err := data(schema, m.Value); err != nil {
				return fmt.Errorf("%s: %w", m.Source(), err)
			}
			continue
		}
		ms, err := schemas.Markers.Decode(m.Value)
		if err != nil {
			return fmt.Errorf("%s: %w", m.Source(), err)
		}
		for _, mk := range ms {
			if mk.Kind == schemas.RunEnd {
				ended[mk.Part] = true
				if int64(len(ended)) >= mk.Parts {
					return nil
				}
			}
		}
	}
}
