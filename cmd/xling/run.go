package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"time"

	"xling/domain"
	"xling/evaluate"
	"xling/experiment"
	"xling/pipeline"
	htmlreport "xling/report"
)

// evalFlags declares the flags of an evaluation on fs; the returned function builds the config once fs
// is parsed (training the default model on first use when no model is named) and listens for the
// operations endpoint if --http asks for one (the caller closes it).
func evalFlags(fs *flag.FlagSet) func(ctx context.Context, log *slog.Logger) (evaluate.Config, *opsEndpoint, error) {
	data := fs.String("data", envOr("XLING_DATA", "../shared/data"), "dataset directory (env XLING_DATA)")
	out := fs.String("out", "out", "output directory; each run writes <out>/<run-id>/")
	datasets := fs.String("datasets", "xquad-r", "comma-separated datasets: xquad-r, mlqa-r, xquad, beir:DIR:LANG[:SPLIT] (default XQuAD-R: the default model trains on MLQA-R questions, so MLQA-R would be in-sample for it)")
	langs := fs.String("langs", "", "comma-separated languages (default: every language of each dataset)")
	model := fs.String("model", "", "ONNX model file written by xling, a model directory (docs/models.md), or bm25 (the lexical baseline, no ONNX Runtime); default: xling's own encoder, trained with hybrid batches on first use")
	cache := fs.String("cache", ".cache", "cache directory for generated models")
	broker := brokerFlags(fs, os.Getenv)
	prefix := fs.String("topic-prefix", "xling.", "prefix of every topic name")
	partitions := fs.Int("partitions", 4, "partitions per topic when creating topics")
	topK := fs.Int("top-k", 10, "ranking entries kept per query and setting")
	scoreShards := fs.Int("score-shards", 0, "deal each dataset's candidates among this many score shards (stages score-shard-0.., then score-merge) so that no scorer holds a whole pool; 0 or 1: one score stage")
	withContext := fs.Bool("with-context", false, "encode candidates as sentence + paragraph (LAReQA) instead of the sentence alone")
	partial := fs.Bool("partial", false, "skip bad dataset records (dead-lettered, counted) instead of failing")
	maxText := fs.Int("max-text-bytes", 64<<10, "reject texts longer than this (dead-lettered)")
	lib := fs.String("ort", envOr("ONNXRUNTIME_LIB", ".cache/onnxruntime-1.30.0/libonnxruntime.so.1"), "ONNX Runtime shared library (env ONNXRUNTIME_LIB)")
	threads := fs.Int("threads", 0, "ONNX Runtime intra-op threads (0: its default)")
	provider := fs.String("provider", "cpu", "execution provider: cpu, cuda or tensorrt (tensorrt falls back to cuda, cuda to cpu, with a log line)")
	runID := fs.String("run-id", "", "run id: every stage of a run must share it (default: time-based)")
	httpAddr := fs.String("http", "", "serve the job's operations endpoint (/healthz, /status, /metrics) on this address while it runs, e.g. 127.0.0.1:9464 (default: none)")
	store := storeFlags(fs, os.Getenv)
	build := func(ctx context.Context, log *slog.Logger) (evaluate.Config, error) {
		bc, err := broker()
		if err != nil {
			return evaluate.Config{}, err
		}
		dsn, err := store()
		if err != nil {
			return evaluate.Config{}, err
		}
		cfg := evaluate.Config{
			DataDir: *data, OutDir: *out, Datasets: split(*datasets), Model: *model, Brokers: bc.Addrs, Kafka: bc.Security, KafkaRetry: bc.Retry,
			Topics: pipeline.Topics{Prefix: *prefix, Partitions: *partitions},
			RunID:  *runID, TopK: *topK, ScoreShards: *scoreShards, WithContext: *withContext, Partial: *partial, MaxText: *maxText,
			ORTLibrary: *lib, Threads: *threads, Provider: *provider, StoreDSN: dsn,
		}
		if l := split(*langs); l != nil {
			cfg.Langs = map[string][]string{}
			for _, d := range cfg.Datasets {
				cfg.Langs[d] = l
			}
		}
		if cfg.RunID == "" {
			cfg.RunID = newRunID()
		}
		if cfg.Model == "" {
			path, err := experiment.DefaultModel(ctx, *cache, *data, log)
			if err != nil {
				return cfg, err
			}
			cfg.Model = path
		}
		if cfg.Model == evaluate.BM25 {
			return cfg, nil // BM25 runs no model file
		}
		if _, err := os.Stat(cfg.ORTLibrary); err != nil {
			return cfg, fmt.Errorf("ONNX Runtime library %s: %w (run `make ort`, or set ONNXRUNTIME_LIB)", cfg.ORTLibrary, err)
		}
		return cfg, nil
	}
	return func(ctx context.Context, log *slog.Logger) (evaluate.Config, *opsEndpoint, error) {
		cfg, err := build(ctx, log)
		if err != nil {
			return cfg, nil, err
		}
		ep, err := listenOps(*httpAddr, &cfg)
		return cfg, ep, err
	}
}

// terminal returns stderr when it is a terminal (progress is drawn there), nil otherwise (log lines).
func terminal() io.Writer {
	if fi, err := os.Stderr.Stat(); err == nil && fi.Mode()&os.ModeCharDevice != 0 {
		return os.Stderr
	}
	return nil
}

// newRunID is a time-based run id: runs started in the same second on one cluster still differ.
func newRunID() string {
	return time.Now().UTC().Format("20060102T150405Z") + "-" + strconv.Itoa(os.Getpid())
}

func cmdRun(ctx context.Context, args []string, log *slog.Logger) error {
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	config := evalFlags(fs)
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile of the evaluation to this file (go tool pprof)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	// Checked before anything starts (the default model may first be trained for minutes): a run id
	// names one attempt. A time-based id is new.
	if id := fs.Lookup("run-id").Value.String(); id != "" {
		if err := evaluate.CheckNewRun(filepath.Join(fs.Lookup("out").Value.String(), id)); err != nil {
			return err
		}
	}
	cfg, ep, err := config(ctx, log)
	if err != nil {
		return err
	}
	defer ep.close()
	cfg.Terminal = terminal()
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return fmt.Errorf("cpu profile %s: %w", *cpuProfile, err)
		}
		defer pprof.StopCPUProfile()
	}
	res, err := evaluateJob(ctx, cfg, ep, log)
	if err != nil {
		return err
	}
	if err := evaluate.WriteReport(os.Stdout, res); err != nil {
		return err
	}
	return writeHTML(res.Dir, "xling run "+res.RunID, nil, res.TrainedOn)
}

// evaluateJob runs one evaluation job. The job (its scorer's vectors, its sinks' books) is unreachable once
// this returns, so the report that follows reads its tables without the job's memory beside it.
func evaluateJob(ctx context.Context, cfg evaluate.Config, ep *opsEndpoint, log *slog.Logger) (res *evaluate.Result, err error) {
	job, err := evaluate.Open(ctx, cfg, log)
	if err != nil {
		return nil, err
	}
	defer job.Close()
	err = ep.serve(ctx, job, cfg, log, func(ctx context.Context) (err error) { res, err = job.Evaluate(ctx); return err })
	return res, err
}

// writeHTML writes report.html beside a run's tables (or, with res, an experiment's results). A run's tables
// on a dataset in trainedOn are labelled in-sample.
func writeHTML(dir, title string, res *experiment.Results, trainedOn []string) error {
	opts := htmlreport.Options{Title: title, LowResource: domain.LowResource()}
	var in htmlreport.Input
	if res != nil {
		in, opts.HeldOut = htmlreport.FromResults(res), res.Config.Holdout
	} else {
		sets, err := htmlreport.ReadRun(dir, htmlreport.Limits{})
		if err != nil {
			return err
		}
		for i, s := range sets {
			if slices.Contains(trainedOn, s.Dataset) {
				sets[i].Model += " (in-sample: trained on " + s.Dataset + ")"
			}
		}
		in.Sets = sets
	}
	path := filepath.Join(dir, "report.html")
	if err := htmlreport.WriteFile(path, in, opts); err != nil {
		return err
	}
	fmt.Printf("  %s\n", path)
	return nil
}

func split(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

func envOr(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}
