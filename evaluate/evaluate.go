// Package evaluate runs one evaluation end to end: it connects to the broker (starting the embedded one
// unless brokers are given), creates the topics, starts every stage — ingest, tokenize, encode, score and
// the Parquet sinks — as its own consumer-group member, waits for the run to drain, and returns the metrics,
// the stages' books and the files written.
package evaluate

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"

	"xling/dataset"
	"xling/encoder"
	"xling/encoder/ort"
	"xling/pipeline"
	"xling/schemas"
	"xling/sinks"
	"xling/stages/encode"
	"xling/stages/ingest"
	"xling/stages/score"
	"xling/stages/sink"
	"xling/stages/tokenize"
)

// Config is everything a run depends on; it is recorded in the run manifest.
type Config struct {
	DataDir     string              `json:"data_dir"`
	OutDir      string              `json:"out_dir"`
	Datasets    []string            `json:"datasets"`
	Langs       map[string][]string `json:"langs,omitempty"`
	Model       string              `json:"model"` // path of the ONNX model
	ModelName   string              `json:"model_name"`
	Brokers     []string            `json:"brokers,omitempty"` // empty: the embedded broker
	Topics      pipeline.Topics     `json:"topics"`
	RunID       string              `json:"run_id"`
	TopK        int                 `json:"top_k"`
	WithContext bool                `json:"with_context"` // candidates as sentence + paragraph
	Partial     bool                `json:"partial"`      // skip bad dataset records (dead-lettered) instead of failing
	MaxText     int                 `json:"max_text_bytes"`
	ORTLibrary  string              `json:"ort_library"`
	Threads     int                 `json:"threads"` // ONNX Runtime intra-op threads; 0: its default
	Provider    string              `json:"provider"`
	Progress    time.Duration       `json:"-"`
}

// StageCounts are one stage's books.
type StageCounts struct {
	Stage string
	pipeline.Snapshot
}

// Result is what a run produced.
type Result struct {
	RunID    string
	Dir      string
	Metrics  []schemas.Metric
	Counts   []StageCounts
	Outputs  []sinks.OutputFile
	Inputs   []ingest.FileSum
	Manifest string
	Elapsed  time.Duration
	ORT      string
	Provider string
}

// Run evaluates cfg.Model on cfg.Datasets.
func Run(ctx context.Context, cfg Config, log *slog.Logger) (*Result, error) {
	start := time.Now()
	if cfg.Topics.Prefix == "" {
		cfg.Topics = pipeline.DefaultTopics()
	}
	dir := filepath.Join(cfg.OutDir, cfg.RunID)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("evaluate: %w", err)
	}

	spec, err := encoder.Load(cfg.Model)
	if err != nil {
		return nil, fmt.Errorf("evaluate: %w", err)
	}
	if cfg.ModelName == "" {
		cfg.ModelName = spec.Name
	}
	rt, err := ort.NewRuntime(cfg.ORTLibrary, ort.WithLogger(log))
	if err != nil {
		return nil, fmt.Errorf("evaluate: %w", err)
	}
	defer rt.Close()
	sess, err := rt.Open(spec.Path, spec.SessionConfig(cfg.Threads, cfg.Provider))
	if err != nil {
		return nil, fmt.Errorf("evaluate: %w", err)
	}
	defer sess.Close()
	tok, err := spec.NewTokenizer(sess.Metadata())
	if err != nil {
		return nil, fmt.Errorf("evaluate: model %s: %w", cfg.Model, err)
	}
	// A model written by xling carries its prefixes in its metadata; a model directory in xling.json.
	queryPrefix, passagePrefix := spec.QueryPrefix, spec.PassagePrefix
	if md := sess.Metadata(); md["xling.query_prefix"] != "" || md["xling.passage_prefix"] != "" {
		queryPrefix, passagePrefix = md["xling.query_prefix"], md["xling.passage_prefix"]
	}

	broker, err := pipeline.Connect(cfg.Brokers, log)
	if err != nil {
		return nil, err
	}
	defer broker.Close()
	if err := broker.CreateTopics(ctx, cfg.Topics); err != nil {
		return nil, err
	}

	names := []string{"ingest", "tokenize", "encode", "score", "sink-embeddings", "sink-rankings", "sink-metrics"}
	st := map[string]*pipeline.Stage{}
	for _, n := range names {
		st[n] = pipeline.NewStage(n, broker, cfg.Topics, cfg.RunID)
		defer st[n].Close()
	}

	res := &Result{RunID: cfg.RunID, Dir: dir, ORT: rt.Version(), Provider: sess.Provider()}
	var mu sync.Mutex
	var outputs []sinks.OutputFile
	keep := func(o sinks.OutputFile, err error) error {
		if err == nil {
			mu.Lock()
			outputs = append(outputs, o)
			mu.Unlock()
		}
		return err
	}

	// Every language present in the run's datasets.
	langs, err := dataset.Langs(cfg.DataDir, cfg.Datasets, log)
	if err != nil {
		return nil, err
	}
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error {
		return tokenize.Run(gctx, st["tokenize"], tok, tokenize.Config{MaxTextBytes: cfg.MaxText, WithContext: cfg.WithContext,
			QueryPrefix: queryPrefix, PassagePrefix: passagePrefix,
			Langs: langs}, true)
	})
	g.Go(func() error {
		return encode.Run(gctx, st["encode"], sess, encode.Config{Model: cfg.ModelName}, true)
	})
	g.Go(func() error {
		return score.Run(gctx, st["score"], score.New(score.Config{Model: cfg.ModelName, TopK: cfg.TopK}, log), true)
	})
	embW, err := sinks.Create[sinks.EmbeddingRow](filepath.Join(dir, "embeddings.parquet"), sinks.Options{})
	if err != nil {
		return nil, err
	}
	rankW, err := sinks.Create[sinks.RankingRow](filepath.Join(dir, "rankings.parquet"), sinks.Options{})
	if err != nil {
		return nil, err
	}
	metW, err := sinks.Create[sinks.MetricRow](filepath.Join(dir, "metrics.parquet"), sinks.Options{})
	if err != nil {
		return nil, err
	}
	g.Go(func() error {
		return keep(sink.Run(gctx, st["sink-embeddings"], cfg.Topics.Embeddings(), schemas.Embedding, embW, rowsOf(cfg.RunID).embedding, nil))
	})
	g.Go(func() error {
		return keep(sink.Run(gctx, st["sink-rankings"], cfg.Topics.Rankings(), schemas.Rankings, rankW, rowsOf(cfg.RunID).ranking, nil))
	})
	g.Go(func() error {
		return keep(sink.Run(gctx, st["sink-metrics"], cfg.Topics.Metrics(), schemas.Metrics, metW, rowsOf(cfg.RunID).metric, func(m schemas.Metric) {
			mu.Lock()
			res.Metrics = append(res.Metrics, m)
			mu.Unlock()
		}))
	})
	g.Go(func() error {
		sums, err := ingest.Run(gctx, st["ingest"], ingest.Config{DataDir: cfg.DataDir, Datasets: cfg.Datasets, Langs: cfg.Langs,
			Read: dataset.Options{Partial: cfg.Partial}}, log)
		res.Inputs = sums
		return err
	})
	stop := progress(ctx, log, names, st, cfg.Progress)
	err = g.Wait()
	stop()
	if err != nil {
		return nil, err
	}
	for _, n := range names {
		res.Counts = append(res.Counts, StageCounts{Stage: n, Snapshot: st[n].Counts.Snapshot()})
	}
	res.Outputs = outputs
	res.Elapsed = time.Since(start)

	man := sinks.NewManifest(cfg.RunID, os.Args, cfg, start)
	man.ONNXRuntimeVersion = rt.Version()
	for _, in := range res.Inputs {
		if err := man.AddData(ctx, in.Path); err != nil {
			return nil, err
		}
	}
	for _, f := range spec.Files {
		if err := man.AddData(ctx, f); err != nil {
			return nil, err
		}
	}
	for _, o := range outputs {
		man.AddOutput(o)
	}
	man.End = time.Now()
	res.Manifest = filepath.Join(dir, "manifest.json")
	if err := sinks.WriteManifest(res.Manifest, man); err != nil {
		return nil, err
	}
	return res, nil
}

// progress logs every stage's counts every interval until stopped.
func progress(ctx context.Context, log *slog.Logger, names []string, st map[string]*pipeline.Stage, every time.Duration) func() {
	if every <= 0 {
		every = 2 * time.Second
	}
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				var attrs []any
				for _, n := range names {
					c := st[n].Counts.Snapshot()
					attrs = append(attrs, n, fmt.Sprintf("%d/%d", c.In, c.Out))
				}
				log.Info("progress (in/out)", attrs...)
			}
		}
	}()
	return func() { cancel(); <-done }
}

// rowsOf converts topic records to the rows of the Parquet tables of a run.
type rowsOf string

func (run rowsOf) embedding(r schemas.Record) sinks.EmbeddingRow {
	return sinks.EmbeddingRow{RunID: string(run), Model: r.Model, Dataset: r.Dataset, ItemID: r.ID, Lang: r.Lang, Kind: r.Kind, Vector: r.Vector}
}

func (run rowsOf) ranking(r schemas.Ranking) sinks.RankingRow {
	return sinks.RankingRow{RunID: string(run), Model: r.Model, Dataset: r.Dataset, Setting: r.Setting, QueryID: r.QueryID,
		QueryLang: r.QueryLang, CandLang: r.CandLang, Rank: int32(r.Rank), CandidateID: r.CandidateID, Score: float32(r.Score), Relevant: r.Relevant}
}

func (run rowsOf) metric(m schemas.Metric) sinks.MetricRow {
	return sinks.MetricRow{RunID: string(run), Model: m.Model, Dataset: m.Dataset, Setting: m.Setting, QueryLang: m.QueryLang,
		CandLang: m.CandLang, QueryID: m.QueryID, Metric: m.Name, Value: m.Value, Queries: m.Queries}
}
