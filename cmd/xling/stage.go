package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"strings"

	"xling/evaluate"
)

// cmdStage runs one stage of an evaluation as a worker: a member of the stage's consumer group on a
// cluster that the run's other stages share. Several workers of one stage split its partitions.
func cmdStage(ctx context.Context, args []string, log *slog.Logger) error {
	if len(args) == 0 || strings.HasPrefix(args[0], "-") {
		usage := fmt.Sprintf("usage: xling stage NAME --brokers ADDR --run-id ID [flags]; NAME is one of %s (with --score-shards N: score-shard-0..N-1 and score-merge)", strings.Join(append(evaluate.StageNames(), evaluate.Store), ", "))
		if len(args) > 0 && (args[0] == "-h" || args[0] == "-help" || args[0] == "--help") {
			fmt.Fprintln(os.Stderr, usage)
			return flag.ErrHelp
		}
		return errors.New(usage)
	}
	name := args[0]
	fs := flag.NewFlagSet("stage "+name, flag.ContinueOnError)
	config := evalFlags(fs)
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	if !isStage(name) {
		return fmt.Errorf("unknown stage %q (want one of %s)", name, strings.Join(append(evaluate.StageNames(), evaluate.Store), ", "))
	}
	if fs.Lookup("brokers").Value.String() == "" || fs.Lookup("run-id").Value.String() == "" {
		return fmt.Errorf("stage %s: --brokers and --run-id are required: a worker joins a run on a shared cluster (start one with `xling broker`)", name)
	}
	cfg, ep, err := config(ctx, log)
	if err != nil {
		return err
	}
	defer ep.close()
	job, err := evaluate.Open(ctx, cfg, log, name)
	if err != nil {
		return err
	}
	defer job.Close()
	if err := ep.serve(ctx, job, cfg, log, job.Run); err != nil {
		return err
	}
	for _, c := range job.Counts() {
		log.Info("stage done", "stage", c.Stage, "run", cfg.RunID, "in", c.In, "out", c.Out, "dead", c.Dead, "dead_messages", c.DeadMessages, "emitted", c.Emitted)
	}
	return nil
}

func isStage(name string) bool {
	// A score shard's name carries its index; evaluate.Open checks it against --score-shards.
	if name == evaluate.ScoreMerge || strings.HasPrefix(name, "score-shard-") {
		return true
	}
	for _, n := range append(evaluate.StageNames(), evaluate.Store) {
		if n == name {
			return true
		}
	}
	return false
}
