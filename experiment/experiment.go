// Package experiment answers xling's question with measured numbers: on XQuAD-R, zero-shot, for
// low-resource languages, how does hybrid batch training compare with adversarial domain adaptation, in
// degradation from English?
//
// Protocol (mirroring arXiv 2408.10536 fairly for an encoder trained from scratch): per seed, one shared
// alignment phase on bitext translation-ranking batches gives one checkpoint; every strategy then trains
// from that checkpoint on the same MLQA-R QA groups (the sampler hands every strategy the same groups in the
// same order) and differs only in how the QA pairs are batched and, for the adversarial strategies, in the
// discriminator loss. Held-out languages are removed from every training source. Every checkpoint is
// evaluated on XQuAD-R through the pipeline, which training never sees.
package experiment

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"xling/batching"
	"xling/dataset"
	"xling/encoder/hashbag"
	"xling/evaluate"
	"xling/schemas"
	"xling/sinks"
	"xling/train"
)

// Strategy is one arm of the experiment.
type Strategy struct {
	Name     string  `json:"name"`
	Batching string  `json:"batching"` // batching.ParseStrategy form
	Lambda   float64 `json:"lambda"`   // gradient-reversal weight; 0: no discriminator; < 0: Config.Lambda
	// Balanced gives the discriminator a language-balanced batch of its own every step (the fair design);
	// otherwise it learns from the step's batch, of one language when the batch is mono (the paper's).
	Balanced bool `json:"balanced,omitempty"`
}

// StrategyNames are the strategies' names, in order.
func StrategyNames(strategies []Strategy) []string {
	names := make([]string, len(strategies))
	for i, s := range strategies {
		names[i] = s.Name
	}
	return names
}

// SelectStrategies keeps the strategies named, in their order in all, so that a run of a few arms (the
// longer recipe's check) reports them as the whole experiment does. A name not in all is an error.
func SelectStrategies(all []Strategy, names []string) ([]Strategy, error) {
	known := StrategyNames(all)
	for _, n := range names {
		if !slices.Contains(known, n) {
			return nil, fmt.Errorf("unknown strategy %q (want some of %s)", n, strings.Join(known, ", "))
		}
	}
	var picked []Strategy
	for _, s := range all {
		if slices.Contains(names, s.Name) {
			picked = append(picked, s)
		}
	}
	if len(picked) == 0 {
		return nil, fmt.Errorf("none given")
	}
	return picked, nil
}

// Config is the whole experiment.
type Config struct {
	DataDir    string     `json:"data_dir"`
	OutDir     string     `json:"out_dir"`
	ORTLibrary string     `json:"-"`
	Seeds      []uint64   `json:"seeds"`
	Strategies []Strategy `json:"strategies"`
	Alphas     []float64  `json:"alphas"` // hybrid sweep on the first seed
	Holdout    []string   `json:"holdout"`
	QA         string     `json:"qa"`                   // training QA dataset
	Eval       string     `json:"eval"`                 // evaluation dataset
	EvalLangs  []string   `json:"eval_langs,omitempty"` // default: every language of Eval
	Lambda     float64    `json:"lambda"`
	// LambdaSchedule is train.Config.LambdaSchedule of the adversarial strategies.
	LambdaSchedule string `json:"lambda_schedule,omitempty"`
	Rounds         int    `json:"rounds"`      // randomization-test rounds
	BootRounds     int    `json:"boot_rounds"` // bootstrap rounds of the intervals
	// ValShare of the QA dataset's questions (all their translations; ValidationQuestion with ValSeed)
	// never train: they are the validation set that chose the recipe.
	ValShare float64 `json:"val_share"`
	ValSeed  uint64  `json:"val_seed"`
	Recipe
}

// Default is the experiment `xling experiment` runs.
func Default() Config {
	return Config{
		Seeds: []uint64{1, 2, 3, 4, 5},
		Strategies: []Strategy{
			{Name: "mono", Batching: "mono"},
			{Name: "cross", Batching: "cross"},
			{Name: "hybrid", Batching: "hybrid:0.5"},
			{Name: "adversarial", Batching: "mono", Lambda: -1, Balanced: true},
			{Name: "hybrid+adversarial", Batching: "hybrid:0.5", Lambda: -1, Balanced: true},
			{Name: "adversarial-paper", Batching: "mono", Lambda: -1},
		},
		Alphas:  []float64{0, 0.25, 0.5, 0.75, 1},
		Holdout: []string{"el", "th"},
		QA:      "mlqa-r", Eval: "xquad-r",
		// Chosen on MLQA-R validation at the recipe's learning rates (docs/tuning.md).
		Lambda: 0.003, LambdaSchedule: train.ScheduleConstant,
		Rounds: 10000, BootRounds: 2000,
		ValShare: 0.2, ValSeed: 7,
		Recipe: DefaultRecipe(),
	}
}

// Run is one evaluated checkpoint.
type Run struct {
	Strategy   string            `json:"strategy"`
	Batching   string            `json:"batching"`
	Lambda     float64           `json:"lambda"`
	Seed       uint64            `json:"seed"`
	Sweep      bool              `json:"sweep,omitempty"` // part of the alpha sweep only
	Checkpoint string            `json:"checkpoint"`
	TrainSteps int               `json:"train_steps"`
	TrainLoss  float64           `json:"train_loss"`
	TrainTime  float64           `json:"train_seconds"`
	Balanced   bool              `json:"balanced,omitempty"`   // the discriminator's design (Strategy.Balanced)
	DiscCurve  []train.DiscPoint `json:"disc_curve,omitempty"` // its held-out accuracy over training
	EvalTime   float64           `json:"eval_seconds"`
	Metrics    []schemas.Metric  `json:"metrics"` // means over queries (no per-query rows)
	perQuery   []schemas.Metric  // per-query rows, for significance tests
}

// Results is everything the report is made of.
type Results struct {
	Config    Config            `json:"config"`
	Command   []string          `json:"command"` // the command line that ran the experiment
	Started   time.Time         `json:"started"`
	Elapsed   float64           `json:"elapsed_seconds"`
	Untrained Run               `json:"untrained"`
	Runs      []Run             `json:"runs"`
	Data      []sinks.DataFile  `json:"data"`
	Tests     []Significance    `json:"significance"`
	Intervals []Interval        `json:"intervals,omitempty"`
	Align     map[uint64]string `json:"align_checkpoints"`
	// TrainLangs are the languages the QA phase trains on: the discriminator's classes.
	TrainLangs []string `json:"train_langs,omitempty"`
}

// Execute runs the experiment.
func Execute(ctx context.Context, cfg Config, log *slog.Logger) (*Results, error) {
	start := time.Now()
	res := &Results{Config: cfg, Command: os.Args, Started: start.UTC(), Align: map[uint64]string{}}
	ckpts := filepath.Join(cfg.OutDir, "checkpoints")
	if err := os.MkdirAll(ckpts, 0o755); err != nil {
		return nil, err
	}
	d, err := LoadData(ctx, cfg)
	if err != nil {
		return nil, err
	}
	// The untrained model, as the floor every trained model must clear.
	untrained := filepath.Join(ckpts, "untrained-s1.onnx")
	um, err := cfg.NewModel(cfg.Seeds[0])
	if err != nil {
		return nil, err
	}
	if err := WriteModel(untrained, um); err != nil {
		return nil, err
	}
	u, err := evaluateRun(ctx, cfg, Run{Strategy: "untrained", Seed: cfg.Seeds[0], Checkpoint: untrained}, log)
	if err != nil {
		return nil, err
	}
	res.Untrained = u
	res.TrainLangs = d.Langs

	for si, seed := range cfg.Seeds {
		align := filepath.Join(ckpts, fmt.Sprintf("align-s%d.onnx", seed))
		log.Info("experiment: alignment phase", "seed", seed)
		aligned, _, err := d.Align(ctx, cfg, seed, log)
		if err != nil {
			return nil, err
		}
		if err := WriteModel(align, aligned); err != nil {
			return nil, err
		}
		res.Align[seed] = align
		for _, s := range cfg.Strategies {
			lambda := s.Lambda
			if lambda < 0 {
				lambda = cfg.Lambda
			}
			r, err := strategyRun(ctx, cfg, d, aligned, Run{Strategy: s.Name, Batching: s.Batching, Lambda: lambda, Balanced: s.Balanced, Seed: seed}, log)
			if err != nil {
				return nil, err
			}
			res.Runs = append(res.Runs, r)
		}
		if si != 0 {
			continue
		}
		for _, a := range cfg.Alphas {
			b := fmt.Sprintf("hybrid:%g", a)
			if b == "hybrid:0.5" {
				continue // the hybrid arm above
			}
			r, err := strategyRun(ctx, cfg, d, aligned, Run{Strategy: b, Batching: b, Seed: seed, Sweep: true}, log)
			if err != nil {
				return nil, err
			}
			res.Runs = append(res.Runs, r)
		}
	}
	tests, err := significance(cfg, res)
	if err != nil {
		return nil, err
	}
	res.Tests = tests
	if len(cfg.Seeds) > 1 {
		if res.Intervals, err = intervals(cfg, res, cfg.BootRounds); err != nil {
			return nil, err
		}
	}
	m := sinks.NewManifest("experiment", os.Args, cfg, start)
	for _, f := range dataFiles(cfg) {
		if err := m.AddData(ctx, f); err != nil {
			return nil, err
		}
	}
	res.Data = m.Data
	res.Elapsed = time.Since(start).Seconds()
	return res, nil
}

func strategyRun(ctx context.Context, cfg Config, d *Data, aligned *hashbag.Model, r Run, log *slog.Logger) (Run, error) {
	r.Checkpoint = filepath.Join(cfg.OutDir, "checkpoints", fmt.Sprintf("%s-s%d.onnx", safe(r.Strategy), r.Seed))
	log.Info("experiment: training", "strategy", r.Strategy, "seed", r.Seed)
	t0 := time.Now()
	m := aligned.Clone()
	tr, err := d.TrainQA(ctx, cfg, r.Seed, m, r.Batching, r.Lambda, r.Balanced, log)
	if err != nil {
		return r, fmt.Errorf("experiment %s seed %d: %w", r.Strategy, r.Seed, err)
	}
	r.TrainSteps, r.TrainLoss, r.TrainTime, r.DiscCurve = tr.Steps, tr.Last.Loss, time.Since(t0).Seconds(), tr.DiscCurve
	m.Name = filepath.Base(r.Checkpoint)
	if err := WriteModel(r.Checkpoint, m); err != nil {
		return r, err
	}
	return evaluateRun(ctx, cfg, r, log)
}

func safe(s string) string {
	out := []rune(s)
	for i, c := range out {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '.') {
			out[i] = '_'
		}
	}
	return string(out)
}

// Data is what every phase of an experiment reads: the bitext groups, the QA groups of the training
// questions, the validation items (queries and candidates, see SplitItems) and the languages the QA
// phase trains on.
type Data struct {
	bitext []batching.Group
	qa     []batching.Group
	Val    []dataset.Item
	Langs  []string
}

// ReadItems reads every language of a dataset but the held-out ones.
func ReadItems(dataDir, name string, holdout []string) ([]dataset.Item, error) {
	files, err := dataset.Files(dataDir, name, nil, nil)
	if err != nil {
		return nil, fmt.Errorf("experiment: %w", err)
	}
	var items []dataset.Item
	for _, f := range files {
		if slices.Contains(holdout, f.Lang) {
			continue
		}
		res, err := f.Read(dataset.Options{})
		if err != nil {
			return nil, fmt.Errorf("experiment: %w", err)
		}
		items = append(items, res.Items...)
	}
	return items, nil
}

// LoadData reads the training and validation data of cfg (bitext only when there is an alignment phase).
func LoadData(ctx context.Context, cfg Config) (*Data, error) {
	items, err := ReadItems(cfg.DataDir, cfg.QA, cfg.Holdout)
	if err != nil {
		return nil, err
	}
	d := &Data{}
	var trainItems []dataset.Item
	trainItems, d.Val = SplitItems(items, cfg.ValShare, cfg.ValSeed)
	if d.qa, _, err = batching.QAGroups(trainItems, batching.QAOptions{Holdout: cfg.Holdout}); err != nil {
		return nil, fmt.Errorf("experiment: QA groups of %s: %w", cfg.QA, err)
	}
	for _, g := range d.qa {
		for _, t := range g.Texts {
			if !slices.Contains(d.Langs, t.Lang) {
				d.Langs = append(d.Langs, t.Lang)
			}
		}
	}
	slices.Sort(d.Langs)
	if cfg.AlignSteps > 0 {
		if d.bitext, err = BitextGroups(ctx, cfg.DataDir, cfg.Bitext, cfg.Holdout); err != nil {
			return nil, fmt.Errorf("experiment: %w", err)
		}
	}
	return d, nil
}

// Align trains a random model (seed) on bitext translation ranking, with X-Y batches.
func (d *Data) Align(ctx context.Context, cfg Config, seed uint64, log *slog.Logger) (*hashbag.Model, train.Result, error) {
	m, err := cfg.NewModel(seed)
	if err != nil {
		return nil, train.Result{}, err
	}
	if cfg.AlignSteps == 0 {
		return m, train.Result{}, nil
	}
	res, err := TrainPhase(ctx, cfg.Recipe, m, Phase{Source: batching.SliceSource("bitext", Shuffled(d.bitext, seed)), Strategy: "cross",
		Steps: cfg.AlignSteps, Batch: cfg.AlignBatch, LR: cfg.AlignLR}, seed, log)
	if err != nil {
		return nil, res, fmt.Errorf("experiment: alignment seed %d: %w", seed, err)
	}
	return m, res, nil
}

// TrainQA trains m on the QA groups with a strategy's batches (and discriminator: lambda > 0; balanced
// gives it language-balanced texts of its own, and its accuracy on the validation questions is recorded).
// m then records the QA dataset as one it was trained on.
func (d *Data) TrainQA(ctx context.Context, cfg Config, seed uint64, m *hashbag.Model, strategy string, lambda float64, balanced bool, log *slog.Logger) (train.Result, error) {
	if !slices.Contains(m.TrainedOn, cfg.QA) {
		m.TrainedOn = append(m.TrainedOn, cfg.QA)
	}
	return TrainPhase(ctx, cfg.Recipe, m, Phase{Source: batching.SliceSource(cfg.QA, d.qa), Strategy: strategy,
		Steps: cfg.QASteps, Epochs: cfg.QAEpochs, Batch: cfg.QABatch, LR: cfg.QALR, Lambda: lambda, LambdaSchedule: cfg.LambdaSchedule,
		Langs: d.Langs, Balanced: balanced, Groups: d.qa, DiscBatch: cfg.QABatch, HeldOut: BalancedHeldOut(d.Val, d.Langs)}, seed+1, log)
}

func evaluateRun(ctx context.Context, cfg Config, r Run, log *slog.Logger) (Run, error) {
	t0 := time.Now()
	ecfg := evaluate.Config{DataDir: cfg.DataDir, OutDir: filepath.Join(cfg.OutDir, "eval"), Datasets: []string{cfg.Eval},
		Langs: map[string][]string{cfg.Eval: cfg.EvalLangs},
		Model: r.Checkpoint, RunID: fmt.Sprintf("%s-s%d", safe(r.Strategy), r.Seed), TopK: 1, ORTLibrary: cfg.ORTLibrary, Progress: time.Hour, QueryRows: true}
	er, err := evaluate.Run(ctx, ecfg, slog.New(slog.DiscardHandler))
	if err != nil {
		return r, fmt.Errorf("experiment: evaluate %s: %w", r.Checkpoint, err)
	}
	for _, m := range er.Metrics {
		if m.QueryID == "" {
			r.Metrics = append(r.Metrics, m)
		} else if m.Name == "map" || m.Name == "f1@10" {
			r.perQuery = append(r.perQuery, m)
		}
	}
	r.EvalTime = time.Since(t0).Seconds()
	log.Info("experiment: evaluated", "strategy", r.Strategy, "seed", r.Seed, "eval_s", r.EvalTime)
	return r, nil
}

// WriteModel writes m as ONNX to path, atomically.
func WriteModel(path string, m *hashbag.Model) error {
	f, err := sinks.CreateFile(path)
	if err != nil {
		return err
	}
	if err := m.WriteONNX(f); err != nil {
		f.Abort()
		return err
	}
	_, err = f.Commit()
	return err
}

func dataFiles(cfg Config) []string {
	var files []string
	for _, ds := range []string{cfg.QA, cfg.Eval} {
		matches, _ := filepath.Glob(filepath.Join(cfg.DataDir, ds, "*.json"))
		files = append(files, matches...)
	}
	for _, b := range cfg.Bitext {
		dir := b
		if b == "flores200" {
			dir = "flores200-devtest"
		} else if b == "stsb" {
			dir = "stsb-multi-mt"
		}
		matches, _ := filepath.Glob(filepath.Join(cfg.DataDir, "bitext", dir, "*"))
		files = append(files, matches...)
	}
	return files
}

// TrainModel trains one checkpoint with the experiment's recipe — the bitext alignment phase, then the QA
// phase with the given batching strategy on the training questions — and writes it to out, logging
// progress to slog.Default(). `xling run` uses it for its default model (hybrid, seed 1).
func TrainModel(ctx context.Context, cfg Config, seed uint64, batching string, lambda float64, out string) error {
	log := slog.Default()
	d, err := LoadData(ctx, cfg)
	if err != nil {
		return err
	}
	m, _, err := d.Align(ctx, cfg, seed, log)
	if err != nil {
		return err
	}
	if _, err := d.TrainQA(ctx, cfg, seed, m, batching, lambda, lambda > 0, log); err != nil {
		return err
	}
	m.Name = filepath.Base(out)
	return WriteModel(out, m)
}
