// Package serve is xling's long-running evaluator. It watches a data directory and a models directory and,
// as dataset files and models settle there, evaluates what is new: a new language of a dataset is
// tokenized, encoded and scored against the languages already in (its 2n+1 language-pair settings and the
// multilingual pool, which changed), and a new model (or a new version of one) is evaluated on every
// dataset. Each update appends its own tables under runs/ and rewrites the current view of what it
// changed under current/; nothing earlier is overwritten.
//
// Its state is its own files: a ledger of finished updates (ledger.jsonl) and, per model and dataset, the
// scorer's state after the last update (snapshots/). A restart reads them and goes on; an update cut off
// is not in the ledger, so its partial files are removed and it is done again.
package serve

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
	"time"

	"xling/dataset"
	"xling/domain"
	"xling/evaluate"
	"xling/pipeline"
	"xling/schemas"
	"xling/sinks"
	"xling/stages/score"
)

// Config is what a service watches and how it evaluates.
//
// Zero fields take the defaults noted on them inside New, which first calls Validate; Validate changes
// nothing.
type Config struct {
	DataDir   string
	ModelsDir string
	StateDir  string   // the ledger, snapshots, tables and current view
	Datasets  []string // datasets watched; empty: every known dataset with a folder in DataDir
	// Broker says which Kafka cluster to use (no addresses: the embedded broker) and how to reach it.
	Broker pipeline.BrokerConfig
	// Poll is how often the directories are scanned; 0 means 2s. A file is used once two scans in a row
	// saw the same size and modification time.
	Poll time.Duration
	// Grace is how long an update in flight may run on once the service is told to stop; 0 means 30s.
	// An update that does not finish in time is dropped and done again after a restart.
	Grace time.Duration
	// Eval holds the evaluation settings every update uses (TopK, MaxText, ORTLibrary, Threads, Provider,
	// WithContext, StoreDSN, Observe); serve sets the rest.
	Eval evaluate.Config
}

// Validate reports, naming it, the first field of c that New cannot use. Eval is checked as an update
// would use it, with the fields serve sets for each update (its data, model and run) filled in.
func (c Config) Validate() error {
	switch {
	case c.DataDir == "":
		return errors.New("serve config: DataDir is empty: the service watches it for datasets")
	case c.ModelsDir == "":
		return errors.New("serve config: ModelsDir is empty: the service watches it for models")
	case c.StateDir == "":
		return errors.New("serve config: StateDir is empty: the ledger, snapshots and tables are kept there")
	case c.Poll < 0:
		return fmt.Errorf("serve config: Poll is %v, want >= 0 (0 means 2s)", c.Poll)
	case c.Grace < 0:
		return fmt.Errorf("serve config: Grace is %v, want >= 0 (0 means 30s)", c.Grace)
	}
	for i, d := range c.Datasets {
		if d == "" {
			return fmt.Errorf("serve config: Datasets[%d] is empty", i)
		}
	}
	update := c.Eval
	update.DataDir, update.OutDir, update.Datasets, update.Langs = c.DataDir, filepath.Join(c.StateDir, "runs"), []string{"dataset"}, nil
	update.Model, update.RunID = "model", "run"
	if err := update.Validate(); err != nil {
		return fmt.Errorf("serve config: Eval: %w", err)
	}
	return nil
}

// withDefaults fills c's zero fields with their defaults: New's, after Validate. Datasets defaults to
// every known dataset with a folder in DataDir.
func (c Config) withDefaults() Config {
	if c.Poll == 0 {
		c.Poll = 2 * time.Second
	}
	if c.Grace == 0 {
		c.Grace = 30 * time.Second
	}
	if len(c.Datasets) == 0 {
		for _, d := range []string{dataset.XQuADR, dataset.MLQAR, dataset.XQuAD} {
			if fi, err := os.Stat(filepath.Join(c.DataDir, d)); err == nil && fi.IsDir() {
				c.Datasets = append(c.Datasets, d)
			}
		}
	}
	return c
}

// Service evaluates as data and models arrive. Make it with New, run it with Run, then Close it.
type Service struct {
	cfg    Config
	log    *slog.Logger
	broker *pipeline.Broker
	topics pipeline.Topics
	ledger *ledger
	watch  *watcher
	stats  *stats
	intake *pipeline.Stage[schemas.Record] // takes items another system produced
	models map[string]openModel            // by name: each model's version opened once, for every update of it
	// scorers are what the last update of each model and dataset left (only Run's goroutine uses them).
	scorers map[[2]string]keptScorer
	// saving is the snapshot being written after an update: the next update, and Run's return, wait for it.
	saving sync.WaitGroup

	mu     sync.Mutex
	status Status
	job    *evaluate.Job                // the update in flight, for its counts
	totals map[string]pipeline.Snapshot // each stage's books over the updates that ended
	// Failures: of the files the last scan found (bad files, models), and of updates, by the plan's
	// inputs (tried again once those change).
	fileFailures, updateFailures map[string]Failure
}

// Status is the service as /status reports it.
type Status struct {
	// State is idle (nothing to do), waiting (files are still changing) or working (an update runs).
	State      string          `json:"state"`
	Scans      int64           `json:"scans"`
	Datasets   []DatasetStatus `json:"datasets"`
	Models     []ModelStatus   `json:"models"`
	Done       []Update        `json:"done"`
	InProgress *Progress       `json:"in_progress,omitempty"`
	Failures   []Failure       `json:"failures,omitempty"`
	// Stages are each stage's books since the service started: the updates that ended and the one in
	// flight, so that /metrics' counters only grow.
	Stages []evaluate.StageCounts `json:"-"` // served as ops stages
}

// States of the service.
const (
	Idle    = "idle"
	Waiting = "waiting"
	Working = "working"
)

// DatasetStatus is a dataset's settled languages as the last scan saw them.
type DatasetStatus struct {
	Name    string   `json:"name"`
	Langs   []string `json:"langs"`
	Version string   `json:"version"`
	Waiting []string `json:"waiting,omitempty"` // files still changing
}

// ModelStatus is a model of the models directory.
type ModelStatus struct {
	Name    string `json:"name"`
	Version string `json:"version"`
	Path    string `json:"path"`
}

// Progress is the update in flight.
type Progress struct {
	RunID   string    `json:"run_id"`
	Model   string    `json:"model"`
	Dataset string    `json:"dataset"`
	Langs   []string  `json:"langs"`
	Full    bool      `json:"full"`
	Started time.Time `json:"started"`
}

// Failure is why something the service found cannot be evaluated: a file or model is tried again once it
// changes, an update also after a backoff.
type Failure struct {
	What     string    `json:"what"` // the file, model or update
	Error    string    `json:"error"`
	Time     time.Time `json:"time"`
	Attempts int       `json:"attempts,omitempty"` // of an update: how many times it failed
}

// New connects to the broker (starting the embedded one unless cfg.Brokers names a cluster), creates the
// topics and reads the state directory; nothing is scanned until Run.
func New(ctx context.Context, cfg Config, log *slog.Logger) (_ *Service, err error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	for _, d := range []string{"runs", "snapshots", "current"} {
		if err := os.MkdirAll(filepath.Join(cfg.StateDir, d), 0o755); err != nil {
			return nil, fmt.Errorf("serve: %w", err)
		}
	}
	s := &Service{cfg: cfg, log: log, watch: newWatcher(), fileFailures: map[string]Failure{}, updateFailures: map[string]Failure{}, stats: newStats(), totals: map[string]pipeline.Snapshot{},
		models: map[string]openModel{}, scorers: map[[2]string]keptScorer{}}
	if s.ledger, err = openLedger(filepath.Join(cfg.StateDir, "ledger.jsonl")); err != nil {
		return nil, fmt.Errorf("serve: %w", err)
	}
	if err := s.removeUnfinished(); err != nil {
		return nil, err
	}
	s.topics = cfg.Eval.Topics
	if s.topics.Prefix == "" {
		s.topics = pipeline.DefaultTopics()
		s.topics.Prefix = "xling.serve."
	}
	bc := cfg.Broker
	bc.Log = log
	if s.broker, err = pipeline.Connect(ctx, bc); err != nil {
		return nil, fmt.Errorf("serve: %w", err)
	}
	if err := s.broker.CreateTopics(ctx, s.topics.Partitions, append(s.topics.Evaluation(), s.topics.Intake().Name)...); err != nil {
		s.broker.Close()
		return nil, fmt.Errorf("serve: %w", err)
	}
	s.status = Status{State: Waiting, Done: slices.Clone(s.ledger.updates)}
	s.intake = s.intakeStage()
	return s, nil
}

// removeUnfinished deletes what an update cut off by a crash or a stop left: its tables and snapshot are
// not in the ledger.
func (s *Service) removeUnfinished() error {
	runs, snaps := map[string]bool{}, map[string]bool{}
	for _, u := range s.ledger.updates {
		runs[u.RunID] = true
		snaps[filepath.Base(u.Snapshot)] = true
	}
	for dir, keep := range map[string]map[string]bool{"runs": runs, "snapshots": snaps} {
		entries, err := os.ReadDir(filepath.Join(s.cfg.StateDir, dir))
		if err != nil {
			return fmt.Errorf("serve: %w", err)
		}
		for _, e := range entries {
			if !keep[e.Name()] {
				s.log.Info("removing what an unfinished update left", "path", filepath.Join(dir, e.Name()))
				if err := os.RemoveAll(filepath.Join(s.cfg.StateDir, dir, e.Name())); err != nil {
					return fmt.Errorf("serve: %w", err)
				}
			}
		}
	}
	return nil
}

func (s *Service) newScorer(model string) *score.Scorer {
	return evaluate.NewScorer(evaluate.Config{ModelName: model, TopK: s.cfg.Eval.TopK}, s.log)
}

// restore reads the scorer that update u left from its snapshot.
func (s *Service) restore(u Update) (*score.Scorer, error) {
	sc := s.newScorer(u.Model)
	f, err := os.Open(filepath.Join(s.cfg.StateDir, u.Snapshot))
	if err == nil {
		err = sc.Load(f)
		f.Close()
	}
	if err != nil {
		return nil, fmt.Errorf("serve: restore the scorer of %s: %w", u.RunID, err)
	}
	return sc, nil
}

// warm restores, after a restart, the scorer the last update of each model and dataset left, as the
// service would hold it had it not stopped: the next update of either starts from memory. A snapshot
// that does not read is left to that update, which tries it again and, failing, evaluates every language.
func (s *Service) warm() {
	for i := len(s.ledger.updates) - 1; i >= 0; i-- {
		u := s.ledger.updates[i]
		key := [2]string{u.Model, u.Dataset}
		if _, done := s.scorers[key]; done {
			continue
		}
		sc, err := s.restore(u)
		if err != nil {
			s.log.Warn("serve: scorer not restored at start", "err", err)
			sc = nil
		}
		s.scorers[key] = keptScorer{u.Snapshot, sc}
	}
}

// keptScorer is a scorer as an update left it, with the snapshot that holds the same state.
type keptScorer struct {
	snapshot string
	sc       *score.Scorer
}

type openModel struct {
	version string
	m       *evaluate.Model // nil: this version did not open
	err     error
}

// model returns mv opened in ONNX Runtime, opening it (and closing an earlier version of it) on first use.
// Only Run's goroutine calls it.
func (s *Service) model(mv modelView) (*evaluate.Model, error) {
	if o, ok := s.models[mv.name]; ok {
		if o.version == mv.version {
			return o.m, o.err // a version that did not open is not tried again
		}
		if o.m != nil {
			o.m.Close()
		}
		delete(s.models, mv.name)
	}
	m, err := evaluate.OpenModel(mv.path, s.cfg.Eval, s.log)
	s.models[mv.name] = openModel{mv.version, m, err}
	return m, err
}

// Close releases the models and the broker.
func (s *Service) Close() error {
	for _, o := range s.models {
		if o.m != nil {
			o.m.Close()
		}
	}
	return s.broker.Close()
}

// Ping asks the broker for its brokers and, while an update runs, whether its embedding store reaches
// PostgreSQL: an error says what does not answer.
func (s *Service) Ping(ctx context.Context) error {
	s.mu.Lock()
	job := s.job
	s.mu.Unlock()
	if job != nil {
		return job.Ping(ctx)
	}
	return s.broker.Ping(ctx)
}

// Status returns the service's state, with the counts of the update in flight.
func (s *Service) Status() Status {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.status
	st.Done = slices.Clone(st.Done)
	flight := map[string]evaluate.StageCounts{}
	if s.job != nil {
		for _, c := range s.job.Counts() {
			flight[c.Stage] = c
		}
	}
	st.Stages = append(st.Stages, evaluate.StageCounts{Stage: IntakeRun, Snapshot: s.intake.Counts.Snapshot()})
	names := evaluate.StageNames()
	if s.cfg.Eval.StoreDSN != "" {
		names = append(names, evaluate.Store)
	}
	for _, name := range names {
		c, ok := flight[name]
		c.Stage, c.Finished = name, !ok || c.Finished
		c.Snapshot = c.Snapshot.Add(s.totals[name])
		st.Stages = append(st.Stages, c)
	}
	st.Failures = slices.SortedFunc(maps.Values(s.fileFailures), func(a, b Failure) int { return strings.Compare(a.What, b.What) })
	st.Failures = append(st.Failures, slices.SortedFunc(maps.Values(s.updateFailures), func(a, b Failure) int { return a.Time.Compare(b.Time) })...)
	return st
}

// Run scans and evaluates, and takes items from the intake topic, until ctx ends; then it gives the update
// in flight cfg.Grace to finish. It returns nil on a stop; an error only when the state directory cannot
// be written.
func (s *Service) Run(ctx context.Context) error {
	ictx, stopIntake := context.WithCancel(ctx)
	intakeDone := make(chan struct{})
	go func() {
		defer close(intakeDone)
		s.runIntake(ictx, s.intake)
	}()
	defer func() {
		stopIntake()
		<-intakeDone
	}()
	s.warm()
	defer s.saving.Wait()
	tick := time.NewTicker(s.cfg.Poll)
	defer tick.Stop()
	for {
		u, ok := s.scan()
		if ok && ctx.Err() == nil { // once stopped, no new update starts
			if err := s.update(ctx, u); err != nil {
				return err
			}
			if ctx.Err() == nil {
				continue // scan again at once: there may be more to do
			}
		}
		select {
		case <-ctx.Done():
			s.log.Info("serve stopped", "updates", len(s.ledger.updates))
			return nil
		case <-tick.C:
		}
	}
}

// plan is one update to make.
type plan struct {
	model   modelView
	view    datasetView
	langs   []string // the languages to evaluate
	full    bool
	prev    *Update
	version string
	key     string // identifies the plan's inputs, for its failure
}

// scan looks at the directories and returns the first update to make, if any.
func (s *Service) scan() (plan, bool) {
	s.watch.next()
	var views []datasetView
	var waiting bool
	dstatus := []DatasetStatus{}
	bad := map[string]error{}
	for _, name := range s.cfg.Datasets {
		v, err := s.watch.scanDataset(s.cfg.DataDir, name, bad)
		if err != nil {
			bad[filepath.Join(s.cfg.DataDir, name)] = err
		}
		waiting = waiting || len(v.waiting) > 0
		views = append(views, v)
		dstatus = append(dstatus, DatasetStatus{Name: name, Langs: v.langs(), Version: version(v.files), Waiting: v.waiting})
	}
	models, mwait := s.watch.scanModels(s.cfg.ModelsDir, bad)
	// Each model is opened in ONNX Runtime when it is found, not when an update needs it: creating a
	// session costs seconds for a large embedding table, and a model that does not open is reported now.
	models = slices.DeleteFunc(models, func(m modelView) bool {
		_, err := s.model(m)
		if err != nil {
			bad[m.path] = err
		}
		return err != nil
	})
	s.fileFailed(bad)
	waiting = waiting || len(mwait) > 0
	mstatus := []ModelStatus{}
	for _, m := range models {
		mstatus = append(mstatus, ModelStatus{Name: m.name, Version: m.version, Path: m.path})
	}

	var next plan
	found := false
	for _, m := range models {
		for _, v := range views {
			if p, ok := s.planFor(m, v); ok && !found {
				next, found = p, true
			}
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.status.Scans++
	s.status.Datasets, s.status.Models = dstatus, mstatus
	switch {
	case found:
		s.status.State = Working
	case waiting:
		s.status.State = Waiting
	default:
		s.status.State = Idle
	}
	return next, found
}

// planFor decides what model m needs on dataset v: nothing, its new languages, or everything (first
// sight, a new model version, or a language file that changed or went away).
func (s *Service) planFor(m modelView, v datasetView) (plan, bool) {
	if len(v.files) == 0 || len(v.waiting) > 0 {
		return plan{}, false // files still arriving: wait, so that files copied in together make one update
	}
	p := plan{model: m, view: v, version: version(v.files)}
	prev, ok := s.ledger.latest(m.name, v.name)
	switch {
	case !ok || prev.ModelVersion != m.version:
		p.full, p.langs = true, v.langs()
	default:
		for l, sum := range prev.Files {
			if v.files[l] != sum {
				p.full = true
			}
		}
		if p.full {
			p.langs = v.langs()
			break
		}
		for _, l := range v.langs() {
			if _, had := prev.Files[l]; !had {
				p.langs = append(p.langs, l)
			}
		}
		if len(p.langs) == 0 {
			return plan{}, false
		}
		p.prev = &prev
	}
	p.key = fmt.Sprintf("%s@%s on %s@%s", m.name, m.version, v.name, p.version)
	s.mu.Lock()
	f, failed := s.updateFailures[p.key]
	s.mu.Unlock()
	// A failed update is tried again once its inputs change, or after a backoff that doubles with each
	// failure (1 min to 1 h): the cause may have been the broker or the store, not the data.
	return p, !failed || time.Since(f.Time) >= retryAfter(f.Attempts)
}

// fileFailed records the files and models a scan could not use, logging each the first time.
func (s *Service) fileFailed(bad map[string]error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := map[string]Failure{}
	for what, err := range bad {
		f, ok := s.fileFailures[what]
		if !ok || f.Error != err.Error() {
			s.log.Error("serve: cannot use", "what", what, "err", err)
			s.stats.failures.Inc()
			f = Failure{What: what, Error: err.Error(), Time: time.Now().UTC()}
		}
		now[what] = f
	}
	s.fileFailures = now
}

// updateFailed records that the update of plan key failed; it is not tried again until its inputs change.
func (s *Service) updateFailed(key string, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.log.Error("serve: update failed", "update", key, "err", err)
	s.stats.failures.Inc()
	s.updateFailures[key] = Failure{What: key, Error: err.Error(), Time: time.Now().UTC(), Attempts: s.updateFailures[key].Attempts + 1}
}

// retryAfter is how long an update that failed n times waits before it is tried again.
func retryAfter(n int) time.Duration {
	return min(time.Minute<<min(max(n-1, 0), 6), time.Hour) // 2^6 min is past the hour: no shift overflows
}

// update runs one planned update to its end and records it. Only a failure to write the state directory
// is returned; a bad input is recorded as the plan's failure and the service goes on.
func (s *Service) update(ctx context.Context, p plan) error {
	start := time.Now().UTC()
	seq := len(s.ledger.updates) + 1
	runID := fmt.Sprintf("u%05d-%s", seq, start.Format("20060102T150405"))
	// The scorer the last update of this model and dataset left in memory is its snapshot, unless that
	// update failed; it is taken out while the job changes it, and kept again once the update is recorded.
	key := [2]string{p.model.name, p.view.name}
	s.saving.Wait() // a snapshot still being written reads the scorer this update would change
	kept := s.scorers[key]
	delete(s.scorers, key)
	sc := s.newScorer(p.model.name)
	switch {
	case p.prev == nil:
	case kept.sc != nil && kept.snapshot == p.prev.Snapshot:
		sc = kept.sc
	default:
		restored, err := s.restore(*p.prev)
		if err != nil {
			// The snapshot is gone or unreadable (written by another version, cut short): what it held is
			// evaluated again, so the update becomes a full one.
			s.log.Warn("serve: the update evaluates every language again", "err", err)
			p.full, p.langs = true, p.view.langs()
			break
		}
		sc = restored
	}
	cfg := s.cfg.Eval
	cfg.DataDir, cfg.OutDir = s.cfg.DataDir, filepath.Join(s.cfg.StateDir, "runs")
	cfg.Datasets, cfg.Langs = []string{p.view.name}, map[string][]string{p.view.name: p.langs}
	cfg.Model, cfg.ModelName, cfg.RunID = p.model.path, p.model.name, runID
	cfg.Brokers, cfg.Topics = s.broker.Addrs, s.topics
	cfg.Kafka, cfg.KafkaRetry = s.cfg.Broker.Security, s.cfg.Broker.Retry
	cfg.DatasetVersions, cfg.Scorer, cfg.Digests = map[string]string{p.view.name: p.version}, sc, p.model.digests
	cfg.Terminal = nil
	if cfg.Progress == 0 {
		cfg.Progress = time.Hour // one line per update is the service's log, not a progress line every 2s
	}

	// The update runs on a context of its own, so that a stop gives it Grace to finish rather than cutting it.
	jctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	defer cancel()
	stopGrace := context.AfterFunc(ctx, func() {
		s.log.Info("serve stopping: the update in flight has a grace period to finish", "run_id", runID, "grace", s.cfg.Grace)
		time.AfterFunc(s.cfg.Grace, cancel)
	})
	defer stopGrace()

	opened, err := s.model(p.model)
	if err != nil {
		s.updateFailed(p.key, err)
		return nil
	}
	cfg.Opened = opened
	job, err := evaluate.Open(jctx, cfg, s.log)
	if err != nil {
		s.updateFailed(p.key, err)
		return nil
	}
	defer job.Close()
	s.mu.Lock()
	s.job = job
	s.status.InProgress = &Progress{RunID: runID, Model: p.model.name, Dataset: p.view.name, Langs: p.langs, Full: p.full, Started: start}
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		for _, c := range job.Counts() {
			s.totals[c.Stage] = s.totals[c.Stage].Add(c.Snapshot)
		}
		s.job, s.status.InProgress = nil, nil
		s.mu.Unlock()
	}()
	res, err := job.Evaluate(jctx)
	evaluated := time.Now()
	if err != nil {
		os.RemoveAll(filepath.Join(cfg.OutDir, runID))
		if jctx.Err() != nil {
			s.log.Info("serve: update dropped at stop; it is done again after a restart", "run_id", runID)
			return nil
		}
		s.updateFailed(p.key, err)
		return nil
	}
	// A file that changed while it was read is not the version planned: drop the update, and the next
	// scan plans the new version once it settles.
	for _, in := range res.Inputs {
		if in.SHA256 != p.view.files[in.Lang] {
			os.RemoveAll(filepath.Join(cfg.OutDir, runID))
			s.log.Warn("serve: a dataset file changed while it was read; the update is dropped", "file", in.Path)
			return nil
		}
	}
	u := Update{Seq: seq, RunID: runID, Model: p.model.name, ModelVersion: p.model.version, ModelPath: p.model.path,
		Dataset: p.view.name, DatasetVersion: p.version, Files: p.view.files, Added: p.langs, Full: p.full,
		Snapshot: filepath.Join("snapshots", runID+".gob"), Started: start}
	for _, m := range res.Metrics {
		if m.QueryID != "" || m.Name != "map" {
			continue
		}
		switch m.Setting {
		case domain.Mono, domain.Cross:
			u.Settings++
		case domain.Multi:
			u.Pools++
		}
	}
	if err := s.writeCurrent(u); err != nil {
		return err
	}
	u.Finished = time.Now().UTC()
	if err := s.ledger.append(u); err != nil {
		return fmt.Errorf("serve: %w", err)
	}
	s.scorers[key] = keptScorer{u.Snapshot, sc}
	// The snapshot is what a restart resumes from, not a result, so it is written after the update is
	// recorded, beside whatever comes next. Should the process die first, the next update after the
	// restart finds it missing and evaluates every language again (update's restore).
	var superseded string
	if p.prev != nil {
		superseded = filepath.Join(s.cfg.StateDir, p.prev.Snapshot)
	}
	s.saving.Go(func() {
		if err := saveScorer(filepath.Join(s.cfg.StateDir, u.Snapshot), sc); err != nil {
			s.log.Error("serve: the scorer's snapshot was not written; after a restart the next update of this model and dataset evaluates every language",
				"model", u.Model, "dataset", u.Dataset, "err", err)
			return
		}
		if superseded != "" {
			os.Remove(superseded) // the ledger names the new one
		}
	})
	s.stats.record(u)
	s.mu.Lock()
	s.status.Done = append(s.status.Done, u)
	s.mu.Unlock()
	s.log.Info("update", "run_id", runID, "model", u.Model, "dataset", u.Dataset, "added", u.Added, "full", u.Full,
		"settings", u.Settings, "pools", u.Pools, "dataset_version", u.DatasetVersion, "elapsed", u.Finished.Sub(start).Round(time.Millisecond),
		"evaluate", evaluated.Sub(start).Round(time.Millisecond), "record", u.Finished.Sub(evaluated).Round(time.Millisecond))
	return nil
}

func saveScorer(path string, sc interface{ Save(w io.Writer) error }) error {
	f, err := sinks.CreateFile(path)
	if err != nil {
		return fmt.Errorf("serve: %w", err)
	}
	if err := sc.Save(f); err != nil {
		f.Abort()
		return fmt.Errorf("serve: %w", err)
	}
	if _, err := f.Commit(); err != nil {
		return fmt.Errorf("serve: %w", err)
	}
	return nil
}

// views are the current view's queries, by table: the columns that make a row's key.
var views = []struct{ table, key string }{
	{"metrics", "model, dataset, setting, query_lang, cand_lang, query_id, metric"},
	{"rankings", "model, dataset, setting, query_lang, cand_lang, query_id, rank"},
}

// writeCurrent writes the current view of u's model and dataset: for each table a DuckDB query (SQL that
// any engine with read_parquet runs) over the tables of the updates since the last full one, u included,
// keeping the newest row of each key. Nothing is copied, so the view costs an update nothing.
func (s *Service) writeCurrent(u Update) error {
	ups := append(s.ledger.current(u.Model, u.Dataset), u)
	if u.Full {
		ups = []Update{u}
	}
	dir := filepath.Join(s.cfg.StateDir, "current", u.Model, u.Dataset)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("serve: %w", err)
	}
	for _, v := range views {
		var files, runs []string
		for i := len(ups) - 1; i >= 0; i-- {
			files = append(files, "'runs/"+ups[i].RunID+"/"+v.table+".parquet'")
			runs = append(runs, ups[i].RunID)
		}
		sql := fmt.Sprintf(`-- The current %s of model %s on dataset %s, as xling serve keeps it: the newest row of each
-- key over the updates since the last full one (%s). Run it from the state directory.
SELECT * EXCLUDE (newest) FROM (
  SELECT *, row_number() OVER (PARTITION BY %s ORDER BY time DESC, run_id DESC) AS newest
  FROM read_parquet([%s])
) WHERE newest = 1
`, v.table, u.Model, u.Dataset, strings.Join(runs, ", "), v.key, strings.Join(files, ", "))
		f, err := sinks.CreateFile(filepath.Join(dir, v.table+".sql"))
		if err != nil {
			return fmt.Errorf("serve: current view: %w", err)
		}
		if _, err := f.Write([]byte(sql)); err != nil {
			f.Abort()
			return fmt.Errorf("serve: current view: %w", err)
		}
		if _, err := f.Commit(); err != nil {
			return fmt.Errorf("serve: current view: %w", err)
		}
	}
	return nil
}
