package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"

	"xling/batching"
	"xling/experiment"
	"xling/pipeline"
	"xling/train"
	"xling/training"
)

func cmdTrain(ctx context.Context, args []string, log *slog.Logger) error {
	fs := flag.NewFlagSet("train", flag.ContinueOnError)
	data := fs.String("data", envOr("XLING_DATA", "../shared/data"), "dataset directory (env XLING_DATA)")
	qa := fs.String("qa", "mlqa-r", "QA pairs to train on: mlqa-r (evaluate on XQuAD-R), xquad-r (the reverse protocol), or empty")
	bitextFlag := fs.String("bitext", "", "comma-separated bitext corpora: tatoeba, ntrex, flores200, stsb")
	holdout := fs.String("holdout-langs", "el,th", "languages removed from every training source")
	strategy := fs.String("strategy", "hybrid", "batches: mono, cross, hybrid (alpha 0.5) or hybrid:ALPHA")
	batch := fs.Int("batch", 256, "pairs per batch")
	buffer := fs.Int("buffer", 4096, "groups held for shuffling")
	epochs := fs.Int("epochs", 1, "passes over the training sources")
	maxBatches := fs.Int("max-batches", 0, "stop after this many batches (0: after the epochs)")
	steps := fs.Int("steps", 0, "stop after this many training steps (0: when the batches run out)")
	seed := fs.Uint64("seed", 1, "seed of the initial weights, the sampler and the discriminator")
	lr := fs.Float64("lr", experiment.DefaultRecipe().QALR, "Adam learning rate (default: the recipe's QA phase)")
	trainProj := fs.Bool("train-projection", false, "train the projection after the embedding bag (default: the identity, frozen, as experiment.DefaultRecipe chose on validation)")
	temperature := fs.Float64("temperature", 0.05, "InfoNCE temperature")
	lambda := fs.Float64("lambda", 0, "adversarial: gradient-reversal weight of the language discriminator (0: none)")
	init := fs.String("init", "", "checkpoint to start from (default: random weights)")
	out := fs.String("out", "out/model.onnx", "checkpoint to write (ONNX)")
	withContext := fs.Bool("with-context", false, "QA passages as sentence + paragraph")
	batchesParquet := fs.String("batches-parquet", "", "also write every batch to this Parquet table")
	broker := brokerFlags(fs, os.Getenv)
	if err := fs.Parse(args); err != nil {
		return err
	}
	bc, err := broker()
	if err != nil {
		return err
	}
	strat, err := batching.ParseStrategy(*strategy)
	if err != nil {
		return err
	}
	tcfg := train.DefaultConfig()
	tcfg.Seed, tcfg.LR, tcfg.Temperature, tcfg.Lambda, tcfg.Steps = *seed, *lr, *temperature, *lambda, *steps
	// The recipe chosen on validation (docs/tuning.md): no role prefixes, a frozen identity projection.
	tcfg.QueryPrefix, tcfg.PassagePrefix, tcfg.FreezeProjection = "", "", !*trainProj
	cfg := training.Config{
		DataDir: *data, QA: *qa, Bitext: split(*bitextFlag), Holdout: split(*holdout), WithContext: *withContext,
		Sampling: batching.Config{Strategy: strat, BatchSize: *batch, Buffer: *buffer, Seed: *seed, Epochs: *epochs, MaxBatches: *maxBatches},
		Strategy: strat.String(), Train: tcfg, Init: *init, InitSeed: *seed, Out: *out, Brokers: bc.Addrs, Kafka: bc.Security, KafkaRetry: bc.Retry,
		Topics: pipeline.DefaultTopics(), RunID: newRunID(), BatchesParquet: *batchesParquet,
	}
	if err := os.MkdirAll(filepath.Dir(*out), 0o755); err != nil {
		return err
	}
	cfg.Terminal = terminal()
	res, err := training.Run(ctx, cfg, log)
	if err != nil {
		return err
	}
	fmt.Printf("trained %d steps (%d batches: %d mono, %d cross) in %s; last loss %.4f, in-batch accuracy %.3f; wrote %s\n",
		res.Train.Steps, res.Sampling.Batches, res.Sampling.Mono, res.Sampling.Cross, res.Elapsed.Round(1e8), res.Train.Last.Loss, res.Train.Last.Accuracy, *out)
	return nil
}
