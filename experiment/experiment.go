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
	"time"

	"xling/batching"
	"xling/encoder/hashbag"
	"xling/evaluate"
	"xling/schemas"
	"xling/sinks"
	"xling/tokenizer/ngram"
	"xling/train"
	"xling/training"
)

// Strategy is one arm of the experiment.
type Strategy struct {
	Name     string  `json:"name"`
	Batching string  `json:"batching"` // batching.ParseStrategy form
	Lambda   float64 `json:"lambda"`   // gradient-reversal weight; 0: no discriminator
}

// Config is the whole experiment.
type Config struct {
	DataDir     string     `json:"data_dir"`
	OutDir      string     `json:"out_dir"`
	ORTLibrary  string     `json:"-"`
	Seeds       []uint64   `json:"seeds"`
	Strategies  []Strategy `json:"strategies"`
	Alphas      []float64  `json:"alphas"` // hybrid sweep on the first seed
	Holdout     []string   `json:"holdout"`
	Bitext      []string   `json:"bitext"`
	AlignSteps  int        `json:"align_steps"`          // shared alignment phase, in batches
	QA          string     `json:"qa"`                   // training QA dataset
	Eval        string     `json:"eval"`                 // evaluation dataset
	EvalLangs   []string   `json:"eval_langs,omitempty"` // default: every language of Eval
	QAEpochs    int        `json:"qa_epochs"`
	BatchSize   int        `json:"batch_size"`
	Buffer      int        `json:"buffer"`
	LR          float64    `json:"lr"`
	Temperature float64    `json:"temperature"`
	Lambda      float64    `json:"lambda"`
	Dim         int        `json:"dim"`
	Rounds      int        `json:"rounds"` // randomization-test rounds
}

// Default is the experiment `xling experiment` runs.
func Default() Config {
	return Config{
		Seeds: []uint64{1, 2, 3},
		Strategies: []Strategy{
			{Name: "mono", Batching: "mono"},
			{Name: "cross", Batching: "cross"},
			{Name: "hybrid", Batching: "hybrid:0.5"},
			{Name: "adversarial", Batching: "mono", Lambda: -1},
			{Name: "hybrid+adversarial", Batching: "hybrid:0.5", Lambda: -1},
		},
		Alphas:     []float64{0, 0.25, 0.5, 0.75, 1},
		Holdout:    []string{"el", "th"},
		Bitext:     []string{"tatoeba", "ntrex", "flores200", "stsb"},
		AlignSteps: 500, QA: "mlqa-r", Eval: "xquad-r", QAEpochs: 60, BatchSize: 64, Buffer: 4096,
		LR: 1e-3, Temperature: 0.05, Lambda: 0.1, Dim: hashbag.DefaultDim, Rounds: 10000,
	}
}

// Run is one evaluated checkpoint.
type Run struct {
	Strategy   string           `json:"strategy"`
	Batching   string           `json:"batching"`
	Lambda     float64          `json:"lambda"`
	Seed       uint64           `json:"seed"`
	Sweep      bool             `json:"sweep,omitempty"` // part of the alpha sweep only
	Checkpoint string           `json:"checkpoint"`
	TrainSteps int              `json:"train_steps"`
	TrainLoss  float64          `json:"train_loss"`
	TrainTime  float64          `json:"train_seconds"`
	EvalTime   float64          `json:"eval_seconds"`
	Metrics    []schemas.Metric `json:"metrics"` // means over queries (no per-query rows)
	perQuery   []schemas.Metric // per-query rows, for significance tests
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
	Align     map[uint64]string `json:"align_checkpoints"`
}

// Execute runs the experiment.
func Execute(ctx context.Context, cfg Config, log *slog.Logger) (*Results, error) {
	start := time.Now()
	res := &Results{Config: cfg, Command: os.Args, Started: start.UTC(), Align: map[uint64]string{}}
	ckpts := filepath.Join(cfg.OutDir, "checkpoints")
	if err := os.MkdirAll(ckpts, 0o755); err != nil {
		return nil, err
	}
	// The untrained model of the pipeline issue, as the floor every trained model must clear.
	untrained := filepath.Join(ckpts, "untrained-s1.onnx")
	if err := writeRandom(untrained, cfg.Dim, cfg.Seeds[0]); err != nil {
		return nil, err
	}
	u, err := evaluateRun(ctx, cfg, Run{Strategy: "untrained", Seed: cfg.Seeds[0], Checkpoint: untrained}, log)
	if err != nil {
		return nil, err
	}
	res.Untrained = u

	for si, seed := range cfg.Seeds {
		align := filepath.Join(ckpts, fmt.Sprintf("align-s%d.onnx", seed))
		log.Info("experiment: alignment phase", "seed", seed)
		if _, err := trainPhase(ctx, cfg, seed, "", align, "cross", 0, true); err != nil {
			return nil, err
		}
		res.Align[seed] = align
		for _, s := range cfg.Strategies {
			lambda := s.Lambda
			if lambda < 0 {
				lambda = cfg.Lambda
			}
			r, err := strategyRun(ctx, cfg, seed, align, Run{Strategy: s.Name, Batching: s.Batching, Lambda: lambda, Seed: seed}, log)
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
			r, err := strategyRun(ctx, cfg, seed, align, Run{Strategy: b, Batching: b, Seed: seed, Sweep: true}, log)
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

func strategyRun(ctx context.Context, cfg Config, seed uint64, align string, r Run, log *slog.Logger) (Run, error) {
	r.Checkpoint = filepath.Join(cfg.OutDir, "checkpoints", fmt.Sprintf("%s-s%d.onnx", safe(r.Strategy), seed))
	log.Info("experiment: training", "strategy", r.Strategy, "seed", seed)
	t0 := time.Now()
	tr, err := trainPhase(ctx, cfg, seed, align, r.Checkpoint, r.Batching, r.Lambda, false)
	if err != nil {
		return r, fmt.Errorf("experiment %s seed %d: %w", r.Strategy, seed, err)
	}
	r.TrainSteps, r.TrainLoss, r.TrainTime = tr.Train.Steps, tr.Train.Last.Loss, time.Since(t0).Seconds()
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

// trainPhase trains the alignment phase (bitext, from random weights) or a QA phase (from align).
func trainPhase(ctx context.Context, cfg Config, seed uint64, init, out, strategy string, lambda float64, alignment bool) (*training.Result, error) {
	strat, err := batching.ParseStrategy(strategy)
	if err != nil {
		return nil, err
	}
	tcfg := train.DefaultConfig()
	tcfg.Seed, tcfg.LR, tcfg.Temperature, tcfg.Lambda, tcfg.Steps = seed, cfg.LR, cfg.Temperature, lambda, 0
	tcfg.CheckpointEvery, tcfg.LogEvery = 1<<30, 200 // one checkpoint, at the end
	tc := training.Config{
		DataDir: cfg.DataDir, Holdout: cfg.Holdout, Strategy: strat.String(), Train: tcfg,
		Init: init, InitSeed: seed, Dim: cfg.Dim, Out: out, RunID: filepath.Base(out),
		Sampling: batching.Config{Strategy: strat, BatchSize: cfg.BatchSize, Buffer: cfg.Buffer, Seed: seed},
	}
	if alignment {
		tc.Bitext = cfg.Bitext
		tc.Sampling.MaxBatches = cfg.AlignSteps
	} else {
		tc.QA = cfg.QA
		tc.Sampling.Epochs = cfg.QAEpochs
	}
	return training.Run(ctx, tc, slog.New(slog.DiscardHandler))
}

func evaluateRun(ctx context.Context, cfg Config, r Run, log *slog.Logger) (Run, error) {
	t0 := time.Now()
	ecfg := evaluate.Config{DataDir: cfg.DataDir, OutDir: filepath.Join(cfg.OutDir, "eval"), Datasets: []string{cfg.Eval},
		Langs: map[string][]string{cfg.Eval: cfg.EvalLangs},
		Model: r.Checkpoint, RunID: fmt.Sprintf("%s-s%d", safe(r.Strategy), r.Seed), TopK: 1, ORTLibrary: cfg.ORTLibrary, Progress: time.Hour}
	er, err := evaluate.Run(ctx, ecfg, slog.New(slog.DiscardHandler))
	if err != nil {
		return r, fmt.Errorf("experiment: evaluate %s: %w", r.Checkpoint, err)
	}
	for _, m := range er.Metrics {
		if m.QueryID == "" {
			r.Metrics = append(r.Metrics, m)
		} else if m.Name == "map" {
			r.perQuery = append(r.perQuery, m)
		}
	}
	r.EvalTime = time.Since(t0).Seconds()
	log.Info("experiment: evaluated", "strategy", r.Strategy, "seed", r.Seed, "eval_s", r.EvalTime)
	return r, nil
}

func writeRandom(path string, dim int, seed uint64) error {
	f, err := sinks.CreateFile(path)
	if err != nil {
		return err
	}
	if err := hashbag.NewRandom(ngram.DefaultConfig(), dim, dim, seed).WriteONNX(f); err != nil {
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

// TrainModel trains one checkpoint with the experiment's protocol — the shared bitext alignment phase,
// then the QA phase with the given batching strategy — and writes it to out. `xling run` uses it for its
// default model (hybrid, seed 1).
func TrainModel(ctx context.Context, cfg Config, seed uint64, batching string, lambda float64, out string) error {
	align := out + ".align.onnx"
	defer os.Remove(align)
	if _, err := trainPhase(ctx, cfg, seed, "", align, "cross", 0, true); err != nil {
		return err
	}
	_, err := trainPhase(ctx, cfg, seed, align, out, batching, lambda, false)
	return err
}
