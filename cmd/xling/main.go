// Command xling evaluates (and trains) multilingual dense retrievers as a Kafka stream processor.
//
//	xling run       evaluate a model on XQuAD-R and MLQA-R through the pipeline
//	xling serve     evaluate continuously as languages and models arrive
//	xling stage     run one stage of an evaluation as a worker against a shared broker
//	xling broker    run the embedded Kafka-protocol broker as its own process
//	xling train     train xling's own encoder through the pipeline
//	xling download  fetch the datasets from their upstream sources, checksum-verified
//	xling report    an HTML report of one or more runs, or of an experiment
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], log); err != nil {
		fmt.Fprintln(os.Stderr, "xling:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, log *slog.Logger) error {
	// A command's -h/--help prints its flags and returns flag.ErrHelp: asking for help is not a failure.
	if err := dispatch(ctx, args, log); !errors.Is(err, flag.ErrHelp) {
		return err
	}
	return nil
}

func dispatch(ctx context.Context, args []string, log *slog.Logger) error {
	if len(args) == 0 {
		return usage()
	}
	switch args[0] {
	case "run":
		return cmdRun(ctx, args[1:], log)
	case "serve":
		return cmdServe(ctx, args[1:], log)
	case "stage":
		return cmdStage(ctx, args[1:], log)
	case "broker":
		return cmdBroker(ctx, args[1:], log)
	case "train":
		return cmdTrain(ctx, args[1:], log)
	case "experiment":
		return cmdExperiment(ctx, args[1:], log)
	case "download":
		return cmdDownload(ctx, args[1:], log)
	case "report":
		return cmdReport(ctx, args[1:], log)
	case "help", "-h", "--help":
		return usage()
	}
	return fmt.Errorf("unknown command %q\n%s", args[0], usageText)
}

const usageText = `usage: xling <command> [flags]

commands:
  run       evaluate a model on XQuAD-R and MLQA-R through the Kafka pipeline (embedded broker by default)
  serve     evaluate continuously as dataset files and models arrive in watched directories (--data, --models)
  stage     run one stage of an evaluation as a worker: xling stage NAME --brokers ADDR --run-id ID
  broker    run the embedded Kafka-protocol broker as its own process (in memory, one machine)
  train     train xling's own encoder (hybrid batch training; adversarial with -lambda)
  experiment  hybrid vs adversarial on XQuAD-R: train every strategy x seed, evaluate, report
  download  fetch the datasets from upstream into a directory, verifying SHA-256 checksums
  report    one self-contained HTML page from runs' Parquet outputs or an experiment's results.json

Run "xling <command> -h" for the flags of a command.`

func usage() error {
	fmt.Println(usageText)
	return nil
}
