package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"xling/experiment"
	"xling/sinks"
)

func cmdExperiment(ctx context.Context, args []string, log *slog.Logger) error {
	def := experiment.Default()
	fs := flag.NewFlagSet("experiment", flag.ContinueOnError)
	data := fs.String("data", envOr("XLING_DATA", "../shared/data"), "dataset directory (env XLING_DATA)")
	out := fs.String("out", "out/experiment", "directory for checkpoints, evaluations, results.json and report.md")
	seeds := fs.String("seeds", joinNumbers(def.Seeds), "comma-separated seeds")
	recipe := fs.String("recipe", "full", "training recipe: full (experiment.DefaultRecipe) or quick (QuickRecipe, the default model's shorter schedule)")
	holdout := fs.String("holdout-langs", strings.Join(def.Holdout, ","), "languages removed from every training source")
	arms := fs.String("arms", strings.Join(experiment.StrategyNames(def.Strategies), ","), "comma-separated strategies to train, a subset of the default")
	alphas := fs.String("alphas", joinNumbers(def.Alphas), "alphas of the hybrid sweep on the first seed (empty: no sweep)")
	reverse := fs.Bool("reverse", false, "reverse protocol: train on XQuAD-R QA pairs, evaluate on MLQA-R")
	epochs := fs.Int("qa-epochs", 0, "epochs of the QA phase (0: the recipe's steps)")
	alignSteps := fs.Int("align-steps", -1, "batches of the shared bitext alignment phase (-1: the recipe's)")
	alignLR := fs.Float64("align-lr", 0, "learning rate of the alignment phase (0: the recipe's)")
	qaLR := fs.Float64("qa-lr", 0, "learning rate of the QA phase (0: the recipe's)")
	lambda := fs.Float64("lambda", def.Lambda, "gradient-reversal weight of the adversarial strategies")
	schedule := fs.String("lambda-schedule", def.LambdaSchedule, "how lambda is applied over the QA phase: constant or dann")
	from := fs.String("from", "", "write report.md from a saved results.json instead of running the experiment")
	lib := fs.String("ort", envOr("ONNXRUNTIME_LIB", ".cache/onnxruntime-1.30.0/libonnxruntime.so.1"), "ONNX Runtime shared library (env ONNXRUNTIME_LIB)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	cfg := def
	switch *recipe {
	case "full":
	case "quick":
		cfg.Recipe = experiment.QuickRecipe()
	default:
		return fmt.Errorf("recipe %q: want full or quick", *recipe)
	}
	if *alignSteps >= 0 {
		cfg.AlignSteps = *alignSteps
	}
	if err := setLR("align-lr", *alignLR, &cfg.AlignLR); err != nil {
		return err
	}
	if err := setLR("qa-lr", *qaLR, &cfg.QALR); err != nil {
		return err
	}
	cfg.DataDir, cfg.OutDir, cfg.ORTLibrary, cfg.QAEpochs, cfg.Lambda = *data, *out, *lib, *epochs, *lambda
	cfg.LambdaSchedule = *schedule
	cfg.Holdout = split(*holdout)
	cfg.Seeds = nil
	for _, s := range split(*seeds) {
		n, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			return fmt.Errorf("seeds: %w", err)
		}
		cfg.Seeds = append(cfg.Seeds, n)
	}
	if len(cfg.Seeds) == 0 {
		return fmt.Errorf("seeds: none given")
	}
	picked, err := experiment.SelectStrategies(def.Strategies, split(*arms))
	if err != nil {
		return fmt.Errorf("arms: %w", err)
	}
	cfg.Strategies = picked
	cfg.Alphas = nil
	for _, s := range split(*alphas) {
		a, err := strconv.ParseFloat(s, 64)
		if err != nil || !(a >= 0 && a <= 1) {
			return fmt.Errorf("alphas: %q is not a number in [0, 1]", s)
		}
		cfg.Alphas = append(cfg.Alphas, a)
	}
	if *reverse {
		cfg.QA, cfg.Eval = "xquad-r", "mlqa-r"
	}
	outputs := map[string][]byte{}
	var res *experiment.Results
	if *from != "" {
		js, err := os.ReadFile(*from)
		if err != nil {
			return err
		}
		res = new(experiment.Results)
		if err := json.Unmarshal(js, res); err != nil {
			return fmt.Errorf("read %s: %w", *from, err)
		}
	} else {
		var err error
		if res, err = experiment.Execute(ctx, cfg, log); err != nil {
			return err
		}
		if outputs["results.json"], err = json.MarshalIndent(res, "", "  "); err != nil {
			return err
		}
	}
	md := report(res)
	outputs["report.md"] = md
	if err := os.MkdirAll(*out, 0o755); err != nil {
		return err
	}
	for name, body := range outputs {
		f, err := sinks.CreateFile(filepath.Join(*out, name))
		if err != nil {
			return err
		}
		if _, err := f.Write(body); err != nil {
			f.Abort()
			return err
		}
		if _, err := f.Commit(); err != nil {
			return err
		}
	}
	fmt.Printf("%s\n", md)
	for name := range outputs {
		fmt.Printf("wrote %s\n", filepath.Join(*out, name))
	}
	return writeHTML(*out, "xling experiment", res, nil)
}

func report(res *experiment.Results) []byte {
	var b strings.Builder
	experiment.WriteMarkdown(&b, res)
	return []byte(b.String())
}

// joinNumbers is the comma-separated form the flags parse, for their defaults.
func joinNumbers[T uint64 | float64](xs []T) string {
	s := make([]string, len(xs))
	for i, x := range xs {
		s[i] = fmt.Sprint(x)
	}
	return strings.Join(s, ",")
}

// setLR sets *dst to the flag's value v, unless v is 0 (the recipe's rate stays); a rate must be in (0, 1).
func setLR(flag string, v float64, dst *float64) error {
	if v == 0 {
		return nil
	}
	if !(v > 0 && v < 1) { // also NaN
		return fmt.Errorf("%s %v: want a learning rate in (0, 1)", flag, v)
	}
	*dst = v
	return nil
}
