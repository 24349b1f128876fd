// Command tune trains xling's own encoder with one recipe in process, scores it on the MLQA-R validation
// questions (and, with -xquad, on XQuAD-R) and appends a JSON line with the recipe, the scores and the
// wall and CPU time to -log. docs/tuning.md is written from those lines.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"strings"
	"syscall"
	"time"

	"xling/batching"
	"xling/dataset"
	"xling/encoder/hashbag"
	"xling/experiment"
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

func readItems(dataDir, name string, holdout []string) ([]dataset.Item, error) {
	files, err := dataset.Files(dataDir, name, nil)
	if err != nil {
		return nil, err
	}
	var items []dataset.Item
	for _, f := range files {
		if slices.Contains(holdout, f.Lang) {
			continue
		}
		res, err := f.Read(dataset.Options{})
		if err != nil {
			return nil, err
		}
		items = append(items, res.Items...)
	}
	return items, nil
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
	balanced := flag.Bool("balanced", false, "discriminator learns from its own language-balanced texts (else from the batch's)")
	discBatch := flag.Int("disc-batch", 252, "balanced discriminator texts per step")
	xquad := flag.Bool("xquad", false, "also score XQuAD-R (final configurations only)")
	span := flag.String("span", r.Tokenizer.Span, "tokenizer span")
	buckets := flag.Int("buckets", r.Tokenizer.Buckets, "tokenizer buckets")
	maxN := flag.Int("max-n", r.Tokenizer.MaxN, "longest n-gram")
	minN := flag.Int("min-n", r.Tokenizer.MinN, "shortest n-gram")
	unique := flag.Bool("unique", r.Tokenizer.Unique, "each n-gram once per text")
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
	holdout := []string{"el", "th"}
	start, cpu0 := time.Now(), cpuSeconds()

	mlqa, err := readItems(*dataDir, "mlqa-r", holdout)
	if err != nil {
		return err
	}
	trainItems, val := experiment.SplitItems(mlqa, *valShare, *valSeed)
	qa, _, err := batching.QAGroups(trainItems, batching.QAOptions{Holdout: holdout})
	if err != nil {
		return err
	}
	// The discriminator's classes are the languages the QA phase trains on, and nothing else.
	var langs []string
	for _, g := range qa {
		for _, t := range g.Texts {
			if !slices.Contains(langs, t.Lang) {
				langs = append(langs, t.Lang)
			}
		}
	}
	slices.Sort(langs)
	heldOut := experiment.BalancedHeldOut(val, langs)
	m, err := r.NewModel(*seed)
	if err != nil {
		return err
	}
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
	rec := map[string]any{"init": *initPath, "name": *name, "recipe": r, "seed": *seed, "strategy": *strategy, "lambda": *lambda,
		"val_share": *valShare, "val_seed": *valSeed, "qa_train_groups": len(qa), "started": start.UTC()}
	if r.AlignSteps > 0 {
		bt, err := experiment.BitextGroups(ctx, *dataDir, r.Bitext, holdout)
		if err != nil {
			return err
		}
		bt = experiment.Shuffled(bt, *seed)
		rec["bitext_groups"] = len(bt)
		t0 := time.Now()
		res, err := experiment.TrainPhase(ctx, r, m, experiment.Phase{Source: batching.SliceSource("bitext", bt), Strategy: "cross",
			Steps: r.AlignSteps, Batch: r.AlignBatch, LR: r.AlignLR}, *seed, log)
		if err != nil {
			return err
		}
		rec["align_seconds"], rec["align_last_acc"] = time.Since(t0).Seconds(), res.Last.Accuracy
		v, err := experiment.Validate(ctx, m, val, val)
		if err != nil {
			return err
		}
		rec["val_after_align"] = v
		log.Info("after alignment", "val", v)
		if *saveAlign != "" {
			if err := writeONNX(*saveAlign, m); err != nil {
				return err
			}
		}
	}
	if r.QASteps > 0 {
		t0 := time.Now()
		res, err := experiment.TrainPhase(ctx, r, m, experiment.Phase{Source: batching.SliceSource("mlqa-r", qa), Strategy: *strategy,
			Steps: r.QASteps, Batch: r.QABatch, LR: r.QALR, Lambda: *lambda, Langs: langs,
			Balanced: *balanced, Groups: qa, DiscBatch: *discBatch, HeldOut: heldOut}, *seed+1, log)
		if err != nil {
			return err
		}
		if len(res.DiscCurve) > 0 {
			rec["disc_curve"], rec["disc_classes"], rec["disc_chance"] = res.DiscCurve, langs, 1/float64(len(langs))
		}
		rec["qa_seconds"], rec["qa_last_acc"] = time.Since(t0).Seconds(), res.Last.Accuracy
	}
	rec["train_wall_seconds"], rec["train_cpu_seconds"] = time.Since(start).Seconds(), cpuSeconds()-cpu0
	m.QueryPrefix, m.PassagePrefix = "", ""
	if r.Prefixes {
		m.QueryPrefix, m.PassagePrefix = "query: ", "passage: "
	}
	v, err := experiment.Validate(ctx, m, val, val)
	if err != nil {
		return err
	}
	rec["val"] = v
	log.Info("validation", "val", v)
	if *xquad {
		xq, err := readItems(*dataDir, "xquad-r", nil)
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
		if err := writeONNX(*out, m); err != nil {
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

func writeONNX(path string, m *hashbag.Model) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := m.WriteONNX(f); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
