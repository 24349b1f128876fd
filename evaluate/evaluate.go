// Package evaluate runs an evaluation: every stage of it in one process (Run, what `xling run` does), or
// any of them as workers of a run whose other stages run elsewhere (Open with stage names, what
// `xling stage` does). It connects to the broker (starting the embedded one unless brokers are given),
// creates the topics, opens every resource the stages need — the model, the output tables — and only then
// starts the stages, each as its own consumer-group member, under one errgroup.
package evaluate

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sync/errgroup"

	"xling/dataset"
	"xling/encoder"
	"xling/encoder/hashbag"
	"xling/encoder/ort"
	xprogress "xling/internal/progress"
	"xling/pipeline"
	"xling/schemas"
	"xling/sinks"
	"xling/sinks/pgstore"
	"xling/stages/encode"
	"xling/stages/ingest"
	"xling/stages/score"
	"xling/stages/sink"
	"xling/stages/store"
	"xling/stages/tokenize"
	"xling/tokenizer"
	"xling/tokenizer/lexical"
)

// Config is everything a run depends on; it is recorded in the run manifest.
//
// Zero fields with a default (TopK, MaxText, Threads, Provider, Topics, KafkaRetry, Progress) take it in
// the job Open builds, and Open first checks the config as Validate does (for a whole run; for some
// stages, on the fields those stages use); Validate changes nothing.
type Config struct {
	DataDir    string              `json:"data_dir"`
	OutDir     string              `json:"out_dir"`
	Datasets   []string            `json:"datasets"`
	Langs      map[string][]string `json:"langs,omitempty"`
	Model      string              `json:"model"` // path of the ONNX model, or BM25
	ModelName  string              `json:"model_name"`
	Brokers    []string            `json:"brokers,omitempty"` // empty: the embedded broker
	Kafka      pipeline.Security   `json:"kafka,omitzero"`    // SASL and TLS (the password recorded as "[redacted]")
	KafkaRetry pipeline.Retry      `json:"kafka_retry"`       // how broker errors are retried, and for how long
	Topics     pipeline.Topics     `json:"topics"`
	RunID      string              `json:"run_id"`
	TopK       int                 `json:"top_k"`
	// ScoreShards, when > 1, deals each dataset's candidates among that many score shards (stages
	// ScoreShard(0..n-1)), each scoring every query against its part, and a merge stage (ScoreMerge)
	// combines their answers into the rankings and metrics one scorer gives. 0 or 1: one score stage.
	ScoreShards int             `json:"score_shards,omitempty"`
	WithContext bool            `json:"with_context"` // candidates as sentence + paragraph
	Partial     bool            `json:"partial"`      // skip bad dataset records (dead-lettered) instead of failing
	MaxText     int             `json:"max_text_bytes"`
	ORTLibrary  string          `json:"ort_library"`
	Threads     int             `json:"threads"` // ONNX Runtime intra-op threads; 0: its default
	Provider    string          `json:"provider"`
	Progress    time.Duration   `json:"-"`
	Terminal    io.Writer       `json:"-"` // a terminal to draw progress on; nil: log lines instead
	StoreDSN    pipeline.Secret `json:"-"` // PostgreSQL the store stage upserts embeddings into (it may hold a password: redacted when logged, not in the manifest)

	// DatasetVersions names each dataset's version (xling serve: a digest of its files) for the rows'
	// dataset_version column.
	DatasetVersions map[string]string `json:"dataset_versions,omitempty"`
	// Digests are SHA-256s (hex) of model files the caller has already hashed, by path: the manifest
	// records them without reading the files again.
	Digests map[string]string `json:"-"`
	// Opened, if set, is the model already open (OpenModel of Model): the job uses it and leaves it open.
	Opened *Model `json:"-"`
	// Scorer, if set, is the score stage's state, made with NewScorer: a caller that evaluates in updates
	// (xling serve) passes the scorer of the earlier updates, so only the new languages' settings are scored.
	Scorer *score.Scorer `json:"-"`

	// QueryRows keeps every query's own metric rows in Result.Metrics (the experiment's paired tests read
	// them). Without it Result holds the summary rows only: per-query rows grow with queries x settings,
	// and metrics.parquet has them all.
	QueryRows bool `json:"-"`

	// Observe, if set, is told how long each message took to handle, by stage (pipeline.Worker.Observe).
	Observe func(stage string, d time.Duration) `json:"-"`
}

// StageCounts are one stage's books.
type StageCounts struct {
	Stage    string
	Finished bool // the stage has finished its part of the run
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
	// TrainedOn are the datasets the model's metadata says trained it: its tables on those are in-sample.
	TrainedOn []string
}

// Stage names, in the order data flows.
const (
	Ingest         = "ingest"
	Tokenize       = "tokenize"
	Encode         = "encode"
	Score          = "score"
	SinkEmbeddings = "sink-embeddings"
	SinkRankings   = "sink-rankings"
	SinkMetrics    = "sink-metrics"
	Store          = "store"       // only with Config.StoreDSN
	ScoreMerge     = "score-merge" // only with Config.ScoreShards > 1
)

// ScoreShard names score shard i of a sharded run (Config.ScoreShards).
func ScoreShard(i int) string { return fmt.Sprintf("score-shard-%d", i) }

// stagesOf lists the stages of cfg's run: StageNamesFor its model, with the score stage replaced by
// the shards and the merge when scoring is sharded.
func stagesOf(cfg Config) []string {
	names := StageNamesFor(cfg.Model)
	if cfg.ScoreShards < 2 {
		return names
	}
	var out []string
	for _, n := range names {
		if n != Score {
			out = append(out, n)
			continue
		}
		for i := range cfg.ScoreShards {
			out = append(out, ScoreShard(i))
		}
		out = append(out, ScoreMerge)
	}
	return out
}

// BM25 is the model name of the lexical baseline: Okapi BM25 over tokenizer/lexical's terms, scored straight
// from the tokens topic, with no encoder and no embeddings.
const BM25 = "bm25"

// StageNames lists the stages of an evaluation; Store joins them when a store is configured.
func StageNames() []string {
	return []string{Ingest, Tokenize, Encode, Score, SinkEmbeddings, SinkRankings, SinkMetrics}
}

// StageNamesFor lists the stages of an evaluation of model: every stage, or for BM25 those without
// embeddings (no encode, no embeddings sink).
func StageNamesFor(model string) []string {
	if model == BM25 {
		return []string{Ingest, Tokenize, Score, SinkRankings, SinkMetrics}
	}
	return StageNames()
}

// Job is a set of an evaluation's stages with every resource they need open. Run them with Run, then Close.
type Job struct {
	cfg     Config
	log     *slog.Logger
	broker  *pipeline.Broker
	worker  pipeline.Worker
	stages  []stage
	closers []func()
	res     *Result
	mu      sync.Mutex
	spec    encoder.Spec
	start   time.Time
	store   *pgstore.Writer // nil without a store stage
}

type stage struct {
	name     string
	counts   func() pipeline.Snapshot
	run      func(context.Context) error
	finished *atomic.Bool
}

// Validate reports, naming it, the first field of c that a whole run (Run, or Open with no stage names)
// cannot use.
func (c Config) Validate() error { return c.validateFor(c.wholeRun()) }

// wholeRun is the stages of a whole run of c: those of its model, and the store with a DSN.
func (c Config) wholeRun() []string {
	names := stagesOf(c)
	if c.StoreDSN != "" && c.Model != BM25 {
		names = append(names, Store)
	}
	return names
}

// validateFor checks c for the named stages: the fields every stage uses, and those of the stages named.
func (c Config) validateFor(names []string) error {
	needs := func(ns ...string) bool {
		for _, n := range ns {
			if slices.Contains(names, n) {
				return true
			}
		}
		return false
	}
	bad := func(format string, args ...any) error {
		return fmt.Errorf("evaluate config: "+format, args...)
	}
	for _, n := range names {
		if !slices.Contains(stagesOf(c), n) && (n != Store || c.Model == BM25) {
			return bad("unknown stage %q for model %s (want one of %v)", n, c.Model, stagesOf(c))
		}
	}
	switch {
	case c.ScoreShards < 0:
		return bad("ScoreShards is %d, want >= 0 (0 or 1: one score stage)", c.ScoreShards)
	case c.ScoreShards > 1 && c.Model == BM25:
		return bad("ScoreShards is %d: score shards deal embeddings, and BM25 scores tokens in one scorer", c.ScoreShards)
	case c.RunID == "":
		return bad("RunID is empty: every message carries it, and the stages of one run must share it")
	case c.Model == "" && needs(Tokenize, Encode):
		return bad("Model is empty: want the path of an ONNX model, a model directory or %q", BM25)
	case c.DataDir == "" && needs(Ingest):
		return bad("DataDir is empty: ingest reads the datasets under it")
	case len(c.Datasets) == 0 && needs(Ingest):
		return bad("Datasets is empty: ingest needs at least one")
	case c.OutDir == "" && needs(SinkEmbeddings, SinkRankings, SinkMetrics):
		return bad("OutDir is empty: the sinks write the run's tables under it")
	case c.StoreDSN == "" && needs(Store):
		return bad("StoreDSN is empty: the store stage needs a PostgreSQL DSN")
	case c.TopK < 0:
		return bad("TopK is %d, want >= 0 (0 means 10)", c.TopK)
	case c.MaxText < 0:
		return bad("MaxText is %d, want >= 0 (0 means 64 KiB)", c.MaxText)
	case c.Threads < 0:
		return bad("Threads is %d, want >= 0 (0 means ONNX Runtime's default)", c.Threads)
	case c.Provider != "" && c.Provider != ort.ProviderCPU && c.Provider != ort.ProviderCUDA && c.Provider != ort.ProviderTensorRT:
		return bad("Provider is %q, want %q, %q or %q", c.Provider, ort.ProviderCPU, ort.ProviderCUDA, ort.ProviderTensorRT)
	case c.Topics.Partitions < 0:
		return bad("Topics.Partitions is %d, want >= 0", c.Topics.Partitions)
	case c.Progress < 0:
		return bad("Progress is %v, want >= 0 (0 means every 2s)", c.Progress)
	}
	for name, d := range map[string]time.Duration{"Backoff": c.KafkaRetry.Backoff, "MaxBackoff": c.KafkaRetry.MaxBackoff, "GiveUp": c.KafkaRetry.GiveUp} {
		if d < 0 {
			return bad("KafkaRetry.%s is %v, want >= 0 (0 means its default)", name, d)
		}
	}
	for i, b := range c.Brokers {
		if b == "" {
			return bad("Brokers[%d] is empty: want host:port", i)
		}
	}
	for i, d := range c.Datasets {
		if d == "" {
			return bad("Datasets[%d] is empty", i)
		}
		if slices.Contains(c.Datasets[:i], d) {
			return bad("Datasets lists %q twice", d)
		}
	}
	for _, d := range slices.Sorted(maps.Keys(c.Langs)) {
		if !slices.Contains(c.Datasets, d) {
			return bad("Langs names dataset %q, which is not in Datasets %v", d, c.Datasets)
		}
	}
	return nil
}

// Open checks cfg (Validate, for the named stages), connects to the broker, creates the topics and opens
// what the named stages need (every stage when names is empty). Nothing runs yet.
func Open(ctx context.Context, cfg Config, log *slog.Logger, names ...string) (_ *Job, err error) {
	bm25 := cfg.Model == BM25
	if len(names) == 0 {
		names = cfg.wholeRun()
	}
	if err := cfg.validateFor(names); err != nil {
		return nil, err
	}
	if cfg.Topics.Prefix == "" {
		cfg.Topics = pipeline.DefaultTopics()
	}
	j := &Job{cfg: cfg, log: log, start: time.Now(), res: &Result{RunID: cfg.RunID, Dir: filepath.Join(cfg.OutDir, cfg.RunID)}}
	defer func() {
		if err != nil {
			j.Close()
		}
	}()
	needs := func(ns ...string) bool {
		for _, n := range ns {
			if slices.Contains(names, n) {
				return true
			}
		}
		return false
	}
	var sess *ort.Session
	var tok tokenizer.Tokenizer
	var queryPrefix, passagePrefix string
	var vocab int // token ids the model knows, for the encode stage's check; 0 unchecked
	switch {
	case bm25:
		// No model file and no ONNX Runtime: the lexical tokenizer is all BM25 needs.
		tok = lexical.New()
		if j.cfg.ModelName == "" {
			j.cfg.ModelName = BM25
		}
	case needs(Tokenize, Encode):
		m := cfg.Opened
		if m == nil {
			if m, err = OpenModel(cfg.Model, cfg, log); err != nil {
				return nil, err
			}
			j.closers = append(j.closers, m.Close)
		}
		if j.cfg.ModelName == "" {
			j.cfg.ModelName = m.Spec.Name
		}
		j.spec, sess = m.Spec, m.sess
		j.res.ORT, j.res.Provider = m.rt.Version(), sess.Provider()
		j.res.TrainedOn = hashbag.TrainedOn(sess.Metadata())
		if tok, err = m.Spec.NewTokenizer(sess.Metadata()); err != nil {
			return nil, fmt.Errorf("evaluate: model %s: %w", cfg.Model, err)
		}
		queryPrefix, passagePrefix = m.prefixes()
		vocab = tokenizer.VocabSize(tok)
	}
	cfg = j.cfg

	if j.broker, err = pipeline.Connect(ctx, pipeline.BrokerConfig{Addrs: cfg.Brokers, Security: cfg.Kafka, Retry: cfg.KafkaRetry, Log: log}); err != nil {
		return nil, fmt.Errorf("evaluate: %w", err)
	}
	j.closers = append(j.closers, func() { j.broker.Close() })
	topics := cfg.Topics.Evaluation()
	if cfg.ScoreShards > 1 {
		topics = cfg.Topics.Sharded()
	}
	if err := j.broker.CreateTopics(ctx, cfg.Topics.Partitions, topics...); err != nil {
		return nil, fmt.Errorf("evaluate: %w", err)
	}
	j.worker = pipeline.Worker{Transport: j.broker, Topics: cfg.Topics, RunID: cfg.RunID, Log: log, Observe: cfg.Observe}
	if needs(SinkEmbeddings, SinkRankings, SinkMetrics) {
		if err := os.MkdirAll(j.res.Dir, 0o755); err != nil {
			return nil, fmt.Errorf("evaluate: %w", err)
		}
		// A sink killed mid-table leaves its temporary file; a live one's (another worker's) is kept.
		removed, err := sinks.SweepTemps(j.res.Dir)
		for _, p := range removed {
			log.Info("removed a killed writer's temporary file", "path", p)
		}
		if err != nil {
			log.Warn("sweep temporary files", "dir", j.res.Dir, "err", err)
		}
	}

	for _, n := range names {
		if i, ok := shardIndex(n, cfg.ScoreShards); ok {
			sc := score.New(score.Config{Model: cfg.ModelName, TopK: cfg.TopK, Shard: score.Shard{Index: i, Of: cfg.ScoreShards}}, log)
			st := score.ShardStage(cfg.Topics, sc)
			j.add(n, &st.Counts, run(j.worker, st))
			continue
		}
		switch n {
		case Ingest:
			src := pipeline.NewSource(Ingest, j.worker)
			j.add(Ingest, &src.Counts, func(ctx context.Context) error {
				sums, err := ingest.Run(ctx, src, cfg.Topics, ingest.Config{DataDir: cfg.DataDir, Datasets: cfg.Datasets, Langs: cfg.Langs,
					Read: dataset.Options{Partial: cfg.Partial}}, log)
				j.res.Inputs = sums
				return err
			})
		case Tokenize:
			// Any ISO 639-1 language: what a run evaluates is the files present.
			// BM25's scorer reads the tokens, so they are keyed by dataset, as embeddings are.
			st := tokenize.Stage(cfg.Topics, tok, tokenize.Config{MaxTextBytes: cfg.MaxText, WithContext: cfg.WithContext,
				QueryPrefix: queryPrefix, PassagePrefix: passagePrefix, KeyByDataset: bm25})
			j.add(Tokenize, &st.Counts, run(j.worker, st))
		case Encode:
			st := encode.Stage(cfg.Topics, sess, encode.Config{Model: cfg.ModelName, Vocab: vocab, MaxTokens: j.spec.MaxLength})
			j.add(Encode, &st.Counts, run(j.worker, st))
		case Score:
			sc := cfg.Scorer
			if sc == nil {
				sc = NewScorer(cfg, log)
			}
			st := score.Stage(cfg.Topics, sc)
			j.add(Score, &st.Counts, run(j.worker, st))
		case ScoreMerge:
			st := score.MergeStage(cfg.Topics, score.NewMerger(score.Config{Model: cfg.ModelName, TopK: cfg.TopK}, log))
			j.add(ScoreMerge, &st.Counts, run(j.worker, st))
		case SinkEmbeddings:
			if err := addSink(j, n, "embeddings.parquet", cfg.Topics.Embeddings(), sink.One(j.rows().embedding), nil); err != nil {
				return nil, err
			}
		case SinkRankings:
			if err := addSink(j, n, "rankings.parquet", cfg.Topics.Rankings(), j.rows().rankings, nil); err != nil {
				return nil, err
			}
		case Store:
			pg, err := pgstore.Open(ctx, pgstore.Config{DSN: string(cfg.StoreDSN), Log: log})
			if err != nil {
				return nil, fmt.Errorf("evaluate: %w", err)
			}
			j.closers = append(j.closers, func() { pg.Close() })
			j.store = pg
			st := store.Stage(cfg.Topics, pg, j.rows().embedding)
			j.add(Store, &st.Counts, run(j.worker, st))
		case SinkMetrics:
			observe := func(m schemas.Metric) {
				if m.QueryID != "" && !cfg.QueryRows {
					return
				}
				j.mu.Lock()
				j.res.Metrics = append(j.res.Metrics, m)
				j.mu.Unlock()
			}
			if err := addSink(j, n, "metrics.parquet", cfg.Topics.Metrics(), sink.One(j.rows().metric), observe); err != nil {
				return nil, err
			}
		}
	}
	return j, nil
}

// shardIndex returns i when name is ScoreShard(i) of a run of shards score shards.
func shardIndex(name string, shards int) (int, bool) {
	for i := range shards {
		if name == ScoreShard(i) {
			return i, shards > 1
		}
	}
	return 0, false
}

// Model is a model resolved and opened in ONNX Runtime. Open opens one for each job unless Config.Opened
// holds one: a long-running caller (xling serve) opens each model once, since creating the session costs
// seconds for a large embedding table.
type Model struct {
	Spec encoder.Spec
	rt   *ort.Runtime
	sess *ort.Session
}

// OpenModel resolves path (an ONNX file written by xling, or a model directory) and opens it with cfg's
// ONNX Runtime library, threads and provider.
func OpenModel(path string, cfg Config, log *slog.Logger) (_ *Model, err error) {
	m := &Model{}
	if m.Spec, err = encoder.Load(path); err != nil {
		return nil, fmt.Errorf("evaluate: %w", err)
	}
	if m.rt, err = ort.NewRuntime(cfg.ORTLibrary, ort.WithLogger(log)); err != nil {
		return nil, fmt.Errorf("evaluate: %w", err)
	}
	if m.sess, err = m.rt.Open(m.Spec.Path, m.Spec.SessionConfig(cfg.Threads, cfg.Provider)); err != nil {
		m.rt.Close()
		return nil, fmt.Errorf("evaluate: %w", err)
	}
	return m, nil
}

// prefixes are the texts put before queries and passages: a model written by xling carries them in its
// metadata, a model directory in xling.json.
func (m *Model) prefixes() (query, passage string) {
	if md := m.sess.Metadata(); md["xling.query_prefix"] != "" || md["xling.passage_prefix"] != "" {
		return md["xling.query_prefix"], md["xling.passage_prefix"]
	}
	return m.Spec.QueryPrefix, m.Spec.PassagePrefix
}

// Close releases the session and the runtime.
func (m *Model) Close() {
	m.sess.Close()
	m.rt.Close()
}

// NewScorer returns the empty scorer a run of cfg starts from.
func NewScorer(cfg Config, log *slog.Logger) *score.Scorer {
	return score.New(score.Config{Model: cfg.ModelName, TopK: cfg.TopK, Lexical: cfg.Model == BM25}, log)
}

func run[In any](w pipeline.Worker, st *pipeline.Stage[In]) func(context.Context) error {
	return func(ctx context.Context) error { return pipeline.Run(ctx, w, st) }
}

func (j *Job) add(name string, c *pipeline.Counts, fn func(context.Context) error) {
	finished := new(atomic.Bool)
	j.stages = append(j.stages, stage{name: name, counts: c.Snapshot, finished: finished, run: func(ctx context.Context) error {
		err := fn(ctx)
		finished.Store(err == nil)
		return err
	}})
}

// addSink creates a table's file (so a bad output directory fails before anything runs) and its stage.
func addSink[In any, Out sinks.Row](j *Job, name, file string, input pipeline.Topic[In], rows sink.Rows[In, Out], observe func(In)) error {
	path := filepath.Join(j.res.Dir, file)
	w, err := sinks.Create[Out](path, sinks.Options{})
	if err != nil {
		return fmt.Errorf("evaluate: %w", err)
	}
	j.closers = append(j.closers, func() { w.Abort() }) // a no-op once committed
	t := sink.New(name, input, w, rows, observe)
	j.add(name, &t.Stage.Counts, func(ctx context.Context) error {
		if err := pipeline.Run(ctx, j.worker, t.Stage); err != nil {
			return err
		}
		j.mu.Lock()
		j.res.Outputs = append(j.res.Outputs, t.File)
		j.mu.Unlock()
		return nil
	})
	return nil
}

// Run runs the job's stages until each has finished its part of the run; the first error stops them all.
func (j *Job) Run(ctx context.Context) error {
	g, gctx := errgroup.WithContext(ctx)
	for _, s := range j.stages {
		g.Go(func() error { return s.run(gctx) })
	}
	stop := progress(ctx, j.log, j.stages, j.cfg.Progress, j.cfg.Terminal)
	defer stop()
	return g.Wait()
}

// Close releases everything Open acquired, in reverse order.
func (j *Job) Close() {
	for i := len(j.closers) - 1; i >= 0; i-- {
		j.closers[i]()
	}
	j.closers = nil
}

// Counts returns every stage's books, in flow order.
func (j *Job) Counts() []StageCounts {
	out := make([]StageCounts, len(j.stages))
	for i, s := range j.stages {
		out[i] = StageCounts{Stage: s.name, Finished: s.finished.Load(), Snapshot: s.counts()}
	}
	return out
}

// Ping asks the job's broker for its brokers, and reports the store's last failure to reach PostgreSQL:
// an error says what does not answer.
func (j *Job) Ping(ctx context.Context) error {
	if err := j.broker.Ping(ctx); err != nil {
		return err
	}
	if j.store != nil {
		if ok, err := j.store.Healthy(); !ok && err != nil {
			return fmt.Errorf("embedding store: %w", err)
		}
	}
	return nil
}

// ManifestName is the file a run writes last, once its tables are in place.
const ManifestName = "manifest.json"

// CheckNewRun returns an error unless dir, a run's directory, is missing or empty. A directory holding
// files but no complete manifest is a run that was killed or failed partway; one with a complete manifest
// is a finished run. Either way a new attempt would leave tables of two attempts side by side, which
// nothing could tell apart.
func CheckNewRun(dir string) error {
	ents, err := os.ReadDir(dir)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return nil
	case err != nil:
		return fmt.Errorf("check run directory: %w", err)
	case len(ents) == 0:
		return nil
	}
	m, err := sinks.ReadManifest(filepath.Join(dir, ManifestName))
	if err != nil || (m.State != sinks.Complete && m.State != "") { // "": written before State was
		var names []string
		for _, e := range ents {
			names = append(names, e.Name())
		}
		return fmt.Errorf("run directory %s holds a half-written run (%s, but no complete %s, which a run writes last): "+
			"delete the directory, or run with a new --run-id", dir, strings.Join(names, ", "), ManifestName)
	}
	return fmt.Errorf("run directory %s already holds the finished run %q (%s): run with a new --run-id, or delete the directory to run it again",
		dir, m.RunID, ManifestName)
}

// Run evaluates cfg.Model on cfg.Datasets with every stage in this process, and writes the manifest.
func Run(ctx context.Context, cfg Config, log *slog.Logger) (*Result, error) {
	j, err := Open(ctx, cfg, log)
	if err != nil {
		return nil, err
	}
	defer j.Close()
	return j.Evaluate(ctx)
}

// Evaluate runs a job of every stage (Open with no names) to its end and writes the run's manifest.
func (j *Job) Evaluate(ctx context.Context) (*Result, error) {
	// The model's files are hashed while the run goes on: hashing a table of hundreds of megabytes would
	// otherwise be added to the run's end.
	hctx, cancel := context.WithCancel(ctx)
	defer cancel()
	type hashed struct {
		files []sinks.DataFile
		err   error
	}
	models := make(chan hashed, 1)
	go func() {
		var h hashed
		for _, f := range j.spec.Files {
			var d sinks.DataFile
			var err error
			if sum, ok := j.cfg.Digests[f]; ok {
				d, err = sinks.KnownFile(f, sum)
			} else {
				d, err = sinks.HashFile(hctx, f)
			}
			if err != nil {
				h.err = err
				break
			}
			h.files = append(h.files, d)
		}
		models <- h
	}()
	if err := j.Run(ctx); err != nil {
		return nil, err
	}
	res := j.res
	res.Counts = j.Counts()
	slices.SortFunc(res.Outputs, func(a, b sinks.OutputFile) int { return strings.Compare(a.Path, b.Path) })
	res.Elapsed = time.Since(j.start)

	man := sinks.NewManifest(j.cfg.RunID, os.Args, j.cfg, j.start)
	man.State = sinks.Complete
	man.ONNXRuntimeVersion = res.ORT
	for _, in := range res.Inputs {
		// ingest hashed every byte of each file it read (and refused one that changed while it did).
		if err := man.AddKnown(in.Path, in.SHA256); err != nil {
			return nil, err
		}
	}
	h := <-models
	if h.err != nil {
		return nil, h.err
	}
	for _, d := range h.files {
		man.Add(d)
	}
	for _, o := range res.Outputs {
		man.AddOutput(o)
	}
	man.End = time.Now()
	res.Manifest = filepath.Join(res.Dir, ManifestName)
	if err := sinks.WriteManifest(res.Manifest, man); err != nil {
		return nil, err
	}
	return res, nil
}

// progress reports every stage's counts every interval until stopped: on a terminal as one line redrawn in
// place, with each stage's rate and, once ingest has finished, the ETA of the stages that wait on it;
// elsewhere as a log line.
func progress(ctx context.Context, log *slog.Logger, stages []stage, every time.Duration, term io.Writer) func() {
	if term != nil {
		return xprogress.Draw(ctx, term, 500*time.Millisecond, func(elapsed time.Duration) string { return progressLine(stages, elapsed) })
	}
	if every <= 0 {
		every = 2 * time.Second
	}
	return xprogress.Every(ctx, every, func(time.Duration) {
		var attrs []any
		for _, s := range stages {
			c := s.counts()
			attrs = append(attrs, s.name, fmt.Sprintf("%d/%d", c.In, c.Emitted))
		}
		log.Info("progress (in/emitted)", attrs...)
	}, nil)
}

// progressLine is the terminal's progress line: records in per stage with a rate, and for encode and score
// a bar with an ETA once ingest is done (then their totals are known).
func progressLine(stages []stage, elapsed time.Duration) string {
	var total int64 = -1
	var parts []string
	for _, s := range stages {
		c := s.counts()
		switch {
		case s.name == Ingest:
			parts = append(parts, fmt.Sprintf("ingest %d", c.Emitted))
			if s.finished.Load() {
				total = c.Emitted
			}
		case s.name == Encode || s.name == Score || strings.HasPrefix(s.name, "score-"):
			parts = append(parts, xprogress.Bar(s.name, c.In, total, elapsed))
		case !strings.HasPrefix(s.name, "sink-"):
			parts = append(parts, xprogress.Bar(s.name, c.In, 0, elapsed))
		}
	}
	return strings.Join(parts, " | ")
}

// rowsOf converts topic records to the rows of the Parquet tables of a run.
type rowsOf struct {
	run      string
	versions map[string]string // dataset -> version
	time     time.Time
}

func (j *Job) rows() rowsOf {
	return rowsOf{run: j.cfg.RunID, versions: j.cfg.DatasetVersions, time: j.start.UTC()}
}

func (run rowsOf) embedding(r schemas.Record) sinks.EmbeddingRow {
	return sinks.EmbeddingRow{RunID: run.run, Model: r.Model, Dataset: r.Dataset, ItemID: r.ID, Lang: r.Lang, Kind: string(r.Kind), Vector: r.Vector}
}

// rankings appends a query's list as a row per rank.
func (run rowsOf) rankings(r schemas.Ranking, out []sinks.RankingRow) ([]sinks.RankingRow, error) {
	if len(r.Scores) != len(r.CandidateIDs) {
		return out, fmt.Errorf("ranking of query %s: %d scores for %d candidates", r.QueryID, len(r.Scores), len(r.CandidateIDs))
	}
	row := sinks.RankingRow{RunID: run.run, Model: r.Model, Dataset: r.Dataset, Setting: string(r.Setting), QueryID: r.QueryID,
		QueryLang: r.QueryLang, CandLang: r.CandLang, DatasetVersion: run.versions[r.Dataset], Time: run.time}
	relevant := r.Relevant
	for i, id := range r.CandidateIDs {
		row.Rank, row.CandidateID, row.Score = int32(i+1), id, r.Scores[i]
		row.Relevant = len(relevant) > 0 && relevant[0] == int64(i+1)
		if row.Relevant {
			relevant = relevant[1:]
		}
		out = append(out, row)
	}
	if len(relevant) > 0 {
		return out, fmt.Errorf("ranking of query %s: relevant ranks %v are not ascending ranks of its %d candidates", r.QueryID, r.Relevant, len(r.CandidateIDs))
	}
	return out, nil
}

func (run rowsOf) metric(m schemas.Metric) sinks.MetricRow {
	return sinks.MetricRow{RunID: run.run, Model: m.Model, Dataset: m.Dataset, Setting: string(m.Setting), QueryLang: m.QueryLang,
		CandLang: m.CandLang, QueryID: m.QueryID, Metric: m.Name, Value: m.Value, Queries: m.Queries,
		DatasetVersion: run.versions[m.Dataset], Time: run.time}
}
