// Package train is the stage that trains xling's encoder on the batches topic: it hands each assembled
// batch, in order, to the trainer (package xling/train) and, once the batches have ended, leaves the
// trained weights in the model and its checkpoint.
package train

import (
	"context"
	"errors"
	"log/slog"

	"xling/batching"
	"xling/encoder/hashbag"
	"xling/pipeline"
	"xling/schemas"
	"xling/train"
)

// Stage is the train stage and, once it has finished, what training did.
type Stage struct {
	Stage  *pipeline.Stage[schemas.PairRow]
	Result train.Result
}

// New returns a train stage for model m. The trainer runs beside the stage's consumer and takes batches
// as they are consumed; a batch split over several messages is put back together, and a batch that a
// restarted assembler sent again is trained on once.
func New(topics pipeline.Topics, cfg train.Config, m *hashbag.Model, log *slog.Logger) *Stage {
	s := &Stage{}
	batches := make(chan batching.Batch)
	var (
		started bool
		done    = make(chan error, 1)
		cur     *batching.Batch
		last    = int64(-1)
		over    bool
	)
	start := func(ctx context.Context) {
		if started {
			return
		}
		started = true
		go func() {
			res, err := train.Run(ctx, cfg, m, batching.FromChannel(batches), log)
			s.Result = res
			done <- err
		}()
	}
	// hand gives the trainer one batch; once it has taken all the steps it wants, the rest are read and
	// dropped so that the stage still reaches the end of the run.
	hand := func(ctx context.Context, b batching.Batch) error {
		if over {
			return nil
		}
		select {
		case batches <- b:
			return nil
		case err := <-done:
			over = true
			done <- err
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	s.Stage = &pipeline.Stage[schemas.PairRow]{
		Name: "train", Input: topics.Batches(),
		Process: func(ctx context.Context, _ string, rows []schemas.PairRow, o *pipeline.Output) error {
			start(ctx)
			used := 0
			for _, r := range rows {
				if r.BatchID <= last {
					continue
				}
				if cur != nil && int64(cur.ID) != r.BatchID {
					if err := hand(ctx, *cur); err != nil {
						return err
					}
					last, cur = int64(cur.ID), nil
				}
				if cur == nil {
					cur = &batching.Batch{ID: uint64(r.BatchID), Kind: batching.Kind(r.Kind)}
				}
				if r.Position < int64(len(cur.Pairs)) {
					continue // the batch being collected, sent again by an assembler that restarted
				}
				cur.Pairs = append(cur.Pairs, batching.Pair{Source: r.Source, Group: r.Group, QLang: r.QLang, PLang: r.PLang, Query: r.Query, Passage: r.Passage})
				used++
			}
			o.Land(used)
			return nil
		},
		Finish: func(ctx context.Context, _ *pipeline.Output) error {
			start(ctx)
			if cur != nil {
				if err := hand(ctx, *cur); err != nil {
					return err
				}
			}
			close(batches)
			err := <-done
			if errors.Is(err, context.Canceled) && ctx.Err() == nil {
				err = nil
			}
			return err
		},
		// The weights live in memory until the checkpoint is written: a restart trains from the start.
		Settled: func() bool { return false },
	}
	return s
}
