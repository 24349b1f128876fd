// Package training runs one training phase of xling's own encoder through the pipeline: it publishes the
// training sources (QA pairs from MLQA-R or XQuAD-R, and bitext) as parallel groups, runs the hybrid batch
// assemble stage for a strategy, and trains on the batches topic, writing an ONNX checkpoint that the
// encode stage runs unchanged.
package training

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"time"

	"golang.org/x/sync/errgroup"

	"xling/batching"
	"xling/dataset"
	"xling/dataset/bitext"
	"xling/encoder/hashbag"
	"xling/internal/progress"
	"xling/pipeline"
	"xling/schemas"
	"xling/sinks"
	"xling/stages/assemble"
	"xling/stages/sink"
	trainstage "xling/stages/train"
	"xling/tokenizer/ngram"
	"xling/train"
)

// Config is one training phase.
//
// Zero fields take their defaults (Topics, Dim, Train.Steps: until the batches run out) inside Run, which
// first calls Validate; Validate changes nothing.
type Config struct {
	DataDir     string          `json:"data_dir"`
	QA          string          `json:"qa,omitempty"`     // "mlqa-r" (the default protocol) or "xquad-r" (the reverse); "" for none
	Bitext      []string        `json:"bitext,omitempty"` // corpora: tatoeba, ntrex, flores200, stsb
	Holdout     []string        `json:"holdout,omitempty"`
	WithContext bool            `json:"with_context"` // QA passages as sentence + paragraph
	Sampling    batching.Config `json:"-"`
	Strategy    string          `json:"strategy"` // recorded form of Sampling.Strategy
	Train       train.Config    `json:"train"`
	Init        string          `json:"init,omitempty"` // checkpoint to start from; empty: random weights
	InitSeed    uint64          `json:"init_seed"`
	Dim         int             `json:"dim"` // with random init: embedding-bag width and output size
	Out         string          `json:"out"` // checkpoint written
	Brokers     []string        `json:"brokers,omitempty"`
	Topics      pipeline.Topics `json:"topics"`
	RunID       string          `json:"run_id"`
	// Kafka is SASL and TLS for Brokers (the password recorded as "[redacted]").
	Kafka pipeline.Security `json:"kafka,omitzero"`
	// KafkaRetry is how broker errors are retried, and for how long.
	KafkaRetry pipeline.Retry `json:"kafka_retry"`
	// BatchesParquet, if set, also lands every batch in a Parquet table for external trainers.
	BatchesParquet string `json:"batches_parquet,omitempty"`
	// Terminal, if set, shows a progress line with the pairs trained, their rate and the time left.
	Terminal io.Writer `json:"-"`
}

// Result is what a phase did.
type Result struct {
	Train    train.Result
	Sampling batching.Stats
	Groups   map[string]int64 // published per source
	Counts   map[string]pipeline.Snapshot
	Elapsed  time.Duration
}

// Validate reports, naming it, the first field of c that Run cannot use; Sampling and Train are checked
// as Run uses them.
func (c Config) Validate() error {
	if c.Dim < 0 {
		return fmt.Errorf("training config: Dim is %d, want >= 0 (0 means %d)", c.Dim, hashbag.DefaultDim)
	}
	if err := c.Sampling.Validate(); err != nil {
		return fmt.Errorf("training config: Sampling: %w", err)
	}
	if err := c.trainConfig().Validate(); err != nil {
		return fmt.Errorf("training config: Train: %w", err)
	}
	return nil
}

// trainConfig is c.Train as the phase runs it: the discriminator's classes are the languages not held out
// (with a reversed gradient to apply), checkpoints go to Out, and no Steps means until the batches run out.
func (c Config) trainConfig() train.Config {
	tc := c.Train
	tc.Languages = nil
	if tc.Lambda > 0 {
		for _, l := range Languages() {
			if !slices.Contains(c.Holdout, l) {
				tc.Languages = append(tc.Languages, l)
			}
		}
	}
	tc.CheckpointPath = c.Out
	if tc.Steps <= 0 {
		tc.Steps = 1 << 30
	}
	return tc
}

// Languages is every language xling trains and evaluates.
func Languages() []string {
	return []string{"ar", "de", "el", "en", "es", "hi", "ru", "th", "tr", "vi", "zh"} // the experiment's eleven (XQuAD-R's)
}

// Run trains one phase: every resource (model, sources, broker, topics, the batches table) is opened first;
// then the sources are published, and the assemble, train and sink stages run under one errgroup.
func Run(ctx context.Context, cfg Config, log *slog.Logger) (*Result, error) {
	start := time.Now()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.Topics.Prefix == "" {
		cfg.Topics = pipeline.DefaultTopics()
	}
	model, err := initModel(cfg)
	if err != nil {
		return nil, err
	}
	sources, err := openSources(ctx, cfg, log)
	if err != nil {
		return nil, err
	}
	broker, err := pipeline.Connect(ctx, pipeline.BrokerConfig{Addrs: cfg.Brokers, Security: cfg.Kafka, Retry: cfg.KafkaRetry, Log: log})
	if err != nil {
		return nil, fmt.Errorf("training: %w", err)
	}
	defer broker.Close()
	// A source is read in order, once per epoch, and training consumes batches in order: one partition each.
	topics := []string{cfg.Topics.Batches().Name, cfg.Topics.DeadLetter()}
	for _, src := range sources {
		topics = append(topics, cfg.Topics.TrainSource(src.Name).Name)
	}
	if err := broker.CreateTopics(ctx, 1, topics...); err != nil {
		return nil, fmt.Errorf("training: %w", err)
	}
	var table *sink.Table[schemas.PairRow, sinks.TrainingRow]
	if cfg.BatchesParquet != "" {
		w, err := sinks.Create[sinks.TrainingRow](cfg.BatchesParquet, sinks.Options{})
		if err != nil {
			return nil, fmt.Errorf("training: %w", err)
		}
		defer w.Abort() // a no-op once committed
		strategy := cfg.Sampling.Strategy.String()
		table = sink.New("sink-batches", cfg.Topics.Batches(), w, sink.One(func(p schemas.PairRow) sinks.TrainingRow {
			return sinks.TrainingRow{RunID: cfg.RunID, BatchID: p.BatchID, Strategy: strategy, Kind: p.Kind, Position: int32(p.Position),
				Source: p.Source, Group: p.Group, QueryLang: p.QLang, PassageLang: p.PLang, Query: p.Query, Passage: p.Passage}
		}), nil)
	}

	w := pipeline.Worker{Transport: broker, Topics: cfg.Topics, RunID: cfg.RunID, Log: log}
	tcfg := cfg.trainConfig()
	publish := pipeline.NewSource("publish", w)
	assembler := pipeline.NewSource("assemble", w)
	trainer := trainstage.New(cfg.Topics, tcfg, model, log)

	res := &Result{Groups: map[string]int64{}, Counts: map[string]pipeline.Snapshot{}}
	var names []string
	for _, src := range sources {
		n, err := assemble.Publish(ctx, publish, cfg.Topics, src)
		if err != nil {
			return nil, err
		}
		res.Groups[src.Name] = n
		names = append(names, src.Name)
		log.Info("published training source", "source", src.Name, "groups", n)
	}
	if cfg.Terminal != nil {
		// The pairs to train on, when a step or batch limit says: every step takes one batch.
		batches := int64(cfg.Sampling.MaxBatches)
		if tcfg.Steps < 1<<30 && (batches == 0 || int64(tcfg.Steps) < batches) {
			batches = int64(tcfg.Steps)
		}
		total := batches * int64(cfg.Sampling.BatchSize)
		stop := progress.Draw(ctx, cfg.Terminal, 500*time.Millisecond, func(elapsed time.Duration) string {
			return progress.Bar("train (pairs)", trainer.Stage.Counts.Emitted.Load(), total, elapsed)
		})
		defer stop()
	}
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error {
		st, err := assemble.Run(gctx, assembler, w, cfg.Sampling, names)
		res.Sampling = st
		return err
	})
	if table != nil {
		g.Go(func() error { return pipeline.Run(gctx, w, table.Stage) })
	}
	g.Go(func() error { return pipeline.Run(gctx, w, trainer.Stage) })
	if err := g.Wait(); err != nil {
		return nil, err
	}
	res.Train = trainer.Result
	res.Counts["publish"] = publish.Counts.Snapshot()
	res.Counts["assemble"] = assembler.Counts.Snapshot()
	res.Counts["train"] = trainer.Stage.Counts.Snapshot()
	if table != nil {
		res.Counts["sink-batches"] = table.Stage.Counts.Snapshot()
	}
	res.Elapsed = time.Since(start)
	return res, nil
}

func initModel(cfg Config) (*hashbag.Model, error) {
	var m *hashbag.Model
	if cfg.Init != "" {
		f, err := os.Open(cfg.Init)
		if err != nil {
			return nil, fmt.Errorf("training: %w", err)
		}
		defer f.Close()
		if m, err = hashbag.ReadONNX(f); err != nil {
			return nil, fmt.Errorf("training: init %s: %w", cfg.Init, err)
		}
	} else {
		dim := cfg.Dim
		if dim <= 0 {
			dim = hashbag.DefaultDim
		}
		m = hashbag.NewRandom(ngram.DefaultConfig(), dim, dim, cfg.InitSeed)
		if cfg.Train.FreezeProjection {
			// A frozen projection is the identity: the embedding bag's own geometry (docs/tuning.md).
			if err := m.IdentityProjection(); err != nil {
				return nil, fmt.Errorf("training: %w", err)
			}
		}
	}
	m.Name = filepath.Base(cfg.Out)
	m.QueryPrefix, m.PassagePrefix = cfg.Train.QueryPrefix, cfg.Train.PassagePrefix
	return m, nil
}

// openSources builds the training sources: QA groups (built from one dataset's items, which fit in memory:
// MLQA-R is 20k sentences) and streamed bitext corpora.
func openSources(ctx context.Context, cfg Config, log *slog.Logger) ([]batching.Source, error) {
	var out []batching.Source
	if cfg.QA != "" {
		files, err := dataset.Files(cfg.DataDir, cfg.QA, nil, log)
		if err != nil {
			return nil, fmt.Errorf("training: %w", err)
		}
		var items []dataset.Item
		for _, f := range files {
			if slices.Contains(cfg.Holdout, f.Lang) {
				continue
			}
			res, err := f.Read(dataset.Options{})
			if err != nil {
				return nil, fmt.Errorf("training: %w", err)
			}
			items = append(items, res.Items...)
		}
		groups, _, err := batching.QAGroups(items, batching.QAOptions{WithContext: cfg.WithContext, Holdout: cfg.Holdout})
		if err != nil {
			return nil, fmt.Errorf("training: QA groups of %s: %w", cfg.QA, err)
		}
		out = append(out, batching.SliceSource(cfg.QA, groups))
	}
	dir := filepath.Join(cfg.DataDir, "bitext")
	for _, name := range cfg.Bitext {
		var c bitext.Corpus
		switch name {
		case "tatoeba":
			c = bitext.Tatoeba(filepath.Join(dir, "tatoeba"))
		case "ntrex":
			c = bitext.NTREX(filepath.Join(dir, "ntrex"))
		case "flores200":
			c = bitext.FLORES(filepath.Join(dir, "flores200-devtest"))
		case "stsb":
			c = bitext.STSB(filepath.Join(dir, "stsb-multi-mt"))
		default:
			return nil, fmt.Errorf("training: unknown bitext corpus %q (want tatoeba, ntrex, flores200 or stsb)", name)
		}
		out = append(out, batching.BitextSource(ctx, c, bitext.Options{Holdout: cfg.Holdout, Log: log}))
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("training: no training source")
	}
	return out, nil
}
