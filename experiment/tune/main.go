// Command tune trains xling's own encoder with one recipe in process, scores it on the MLQA-R validation
// questions (and, with -xquad, on XQuAD-R) and appends a JSON line with the recipe, the scores and the
// wall and CPU time to -log. -render writes those lines as docs/tuning-table.md; docs/tuning.md cites them.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"syscall"
	"time"

	"xling/encoder/hashbag"
	"xling/experiment"
	"xling/train"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "tune:", err)
		os.Exit(1)
	}
}

func cpuSeconds() float64 {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return float64(ru.Utime.Nano()+ru.Stime.Nano()) / 1e9
}

func run() error {
	r := experiment.DefaultRecipe()
	dataDir := flag.String("data", os.Getenv("XLING_DATA"), "data directory")
	name := flag.String("name", "", "configuration label")
	logPath := flag.String("log", "docs/tuning.jsonl", "results appended here")
	out := flag.String("out", "", "write the trained model here (ONNX)")
	saveAlign := flag.String("save-align", "", "write the model after the alignment phase here (ONNX)")
	initPath := flag.String("init", "", "start the QA phase from this aligned model (ONNX) instead of aligning")
	seed := flag.Uint64("seed", 0, "seed")
	valShare := flag.Float64("val-share", 0.2, "share of MLQA-R questions held out for validation")
	valSeed := flag.Uint64("val-seed", 7, "seed of the validation split")
	strategy := flag.String("strategy", "hybrid:0.5", "QA batching")
	lambda := flag.Float64("lambda", 0, "adversarial weight")
	schedule := flag.String("lambda-schedule", "", "how lambda is applied: constant (default) or dann")
	balanced := flag.Bool("balanced", false, "discriminator learns from its own language-balanced texts (else from the batch's)")
	xquad := flag.Bool("xquad", false, "also score XQuAD-R (final configurations only)")
	span := flag.String("span", r.Tokenizer.Span, "tokenizer span")
	buckets := flag.Int("buckets", r.Tokenizer.Buckets, "tokenizer buckets")
	maxN := flag.Int("max-n", r.Tokenizer.MaxN, "longest n-gram")
	minN := flag.Int("min-n", r.Tokenizer.MinN, "shortest n-gram")
	unique := flag.Bool("unique", r.Tokenizer.Unique, "each n-gram once per text")
	flag.BoolVar(&r.Tokenizer.Romanize, "romanize", r.Tokenizer.Romanize, "write Greek, Cyrillic, Arabic, Devanagari and Thai in Latin letters")
	bitextList := flag.String("bitext", strings.Join(r.Bitext, ","), "bitext corpora")
	flag.IntVar(&r.Dim, "dim", r.Dim, "embedding width")
	flag.BoolVar(&r.Prefixes, "prefixes", r.Prefixes, "role prefixes")
	flag.BoolVar(&r.Projection, "projection", r.Projection, "train a projection after the bag (else identity, frozen)")
	flag.IntVar(&r.AlignSteps, "align-steps", r.AlignSteps, "alignment steps")
	flag.IntVar(&r.AlignBatch, "align-batch", r.AlignBatch, "alignment batch")
	flag.Float64Var(&r.AlignLR, "align-lr", r.AlignLR, "alignment lr")
	flag.IntVar(&r.QASteps, "qa-steps", r.QASteps, "QA steps")
	flag.IntVar(&r.QABatch, "qa-batch", r.QABatch, "QA batch")
	flag.Float64Var(&r.QALR, "qa-lr", r.QALR, "QA lr")
	flag.Float64Var(&r.Temperature, "temperature", r.Temperature, "InfoNCE temperature")
	flag.Float64Var(&r.WeightDecay, "wd", r.WeightDecay, "weight decay")
	flag.BoolVar(&r.Symmetric, "symmetric", r.Symmetric, "symmetric InfoNCE")
	renderTo := flag.String("render", "", "write the log as a Markdown table to this file and exit")
	flag.Parse()
	if *renderTo != "" {
		f, err := os.Create(*renderTo)
		if err != nil {
			return err
		}
		if err := render(*logPath, f); err != nil {
			f.Close()
			return err
		}
		return f.Close()
	}
	r.Tokenizer.Span, r.Tokenizer.Buckets, r.Tokenizer.MaxN, r.Tokenizer.MinN, r.Tokenizer.Unique = *span, *buckets, *maxN, *minN, *unique
	r.Bitext = nil
	if *bitextList != "" {
		r.Bitext = strings.Split(*bitextList, ",")
	}
	ctx := context.Background()
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	start, cpu0 := time.Now(), cpuSeconds()

	var m *hashbag.Model
	if *initPath != "" {
		f, err := os.Open(*initPath)
		if err != nil {
			return err
		}
		m, err = hashbag.ReadONNX(f)
		f.Close()
		if err != nil {
			return err
		}
		r.Tokenizer, r.Dim, r.AlignSteps = m.Tokenizer, m.Dim, 0
	}
	cfg := experiment.Default()
	cfg.DataDir, cfg.ValShare, cfg.ValSeed, cfg.Recipe, cfg.LambdaSchedule = *dataDir, *valShare, *valSeed, r, *schedule
	d, err := experiment.LoadData(ctx, cfg)
	if err != nil {
		return err
	}
	rec := map[string]any{"init": *initPath, "name": *name, "recipe": r, "seed": *seed, "strategy": *strategy, "lambda": *lambda,
		"lambda_schedule": *schedule, "balanced": *balanced, "val_share": *valShare, "val_seed": *valSeed, "started": start.UTC()}
	if m == nil {
		t0 := time.Now()
		var res train.Result
		if m, res, err = d.Align(ctx, cfg, *seed, log); err != nil {
			return err
		}
		rec["align_seconds"], rec["align_last_acc"] = time.Since(t0).Seconds(), res.Last.Accuracy
		v, err := experiment.Validate(ctx, m, d.Val, d.Val)
		if err != nil {
			return err
		}
		rec["val_after_align"] = v
		log.Info("after alignment", "val", v)
		if *saveAlign != "" {
			if err := experiment.WriteModel(*saveAlign, m); err != nil {
				return err
			}
		}
	}
	if r.QASteps > 0 {
		t0 := time.Now()
		res, err := d.TrainQA(ctx, cfg, *seed, m, *strategy, *lambda, *balanced, log)
		if err != nil {
			return err
		}
		if len(res.DiscCurve) > 0 {
			rec["disc_curve"], rec["disc_classes"], rec["disc_chance"] = res.DiscCurve, d.Langs, 1/float64(len(d.Langs))
		}
		rec["qa_seconds"], rec["qa_last_acc"] = time.Since(t0).Seconds(), res.Last.Accuracy
	}
	rec["train_wall_seconds"], rec["train_cpu_seconds"] = time.Since(start).Seconds(), cpuSeconds()-cpu0
	v, err := experiment.Validate(ctx, m, d.Val, d.Val)
	if err != nil {
		return err
	}
	rec["val"] = v
	log.Info("validation", "val", v)
	if *xquad {
		xq, err := experiment.ReadItems(*dataDir, "xquad-r", nil)
		if err != nil {
			return err
		}
		x, err := experiment.Validate(ctx, m, xq, xq)
		if err != nil {
			return err
		}
		rec["xquad_r"] = x
		log.Info("xquad-r", "scores", x)
	}
	if *out != "" {
		m.Name = *name
		if err := experiment.WriteModel(*out, m); err != nil {
			return err
		}
	}
	f, err := os.OpenFile(*logPath, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	defer f.Close()
	return json.NewEncoder(f).Encode(rec)
}
