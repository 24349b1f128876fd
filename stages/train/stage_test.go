package train

import (
	"fmt"
	"io"
	"log/slog"
	"testing"

	"xling/encoder/hashbag"
	"xling/pipeline"
	"xling/pipeline/pipelinetest"
	"xling/schemas"
	"xling/tokenizer/ngram"
	"xling/train"
)

// batch returns the pairs of one batch of n pairs.
func batch(id int64, n int) []schemas.PairRow {
	rows := make([]schemas.PairRow, n)
	for i := range rows {
		g := fmt.Sprintf("g%d.%d", id, i)
		rows[i] = schemas.PairRow{BatchID: id, Position: int64(i), Kind: "cross", Source: "qa", Group: g, QLang: "en", PLang: "de",
			Query: "question " + g, Passage: "antwort " + g}
	}
	return rows
}

// Every text becomes more than one id ("query: question g0.0" is several words), and the tokenizer keeps
// one: each text is truncated, so Result.Truncated is twice the pairs trained on.
var tokenizerCfg = ngram.Config{Buckets: 64, MinN: 1, MaxN: 2, MaxTokens: 1, Seed: 7}

func TestStageTrainsEachBatchOnce(t *testing.T) {
	tests := []struct {
		name     string
		messages [][]schemas.PairRow // one message each
		steps    int                 // configured
		want     int                 // steps taken
		pairs    int                 // pairs trained on
	}{
		{"one message per batch", [][]schemas.PairRow{batch(0, 2), batch(1, 3), batch(2, 2)}, 10, 3, 7},
		{"a batch split over two messages is one batch", [][]schemas.PairRow{batch(0, 3)[:1], batch(0, 3)[1:], batch(1, 2)}, 10, 2, 5},
		{"a repeated batch id is skipped", [][]schemas.PairRow{batch(0, 2), batch(1, 2), batch(0, 2), batch(2, 2)}, 10, 3, 6},
		{"an assembler restarted from the start resends batches", [][]schemas.PairRow{batch(0, 2), batch(1, 2), batch(0, 2), batch(1, 2), batch(2, 2)}, 10, 3, 6},
		{"stops at the configured steps and reads the rest", [][]schemas.PairRow{batch(0, 2), batch(1, 2), batch(2, 2), batch(3, 2)}, 2, 2, 4},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx, m, w := pipelinetest.Setup(t, 1)
			if err := m.CreateTopics(ctx, 1, w.Topics.Batches().Name); err != nil {
				t.Fatal(err)
			}
			src := pipeline.NewSource("assemble", w)
			var rows int64
			for _, msg := range tc.messages {
				out := src.Output("")
				if err := pipeline.Emit(out, w.Topics.Batches(), "cross", msg...); err != nil {
					t.Fatal(err)
				}
				if err := src.Send(ctx, int64(len(msg)), out); err != nil {
					t.Fatal(err)
				}
				rows += int64(len(msg))
			}
			if err := src.EndRun(ctx, w.Topics.Batches().Name); err != nil {
				t.Fatal(err)
			}
			if n := len(m.Messages(w.Topics.Batches().Name)); n != len(tc.messages)+1 {
				t.Fatalf("%d messages on the batches topic, want %d and a run end", n, len(tc.messages))
			}

			cfg := train.DefaultConfig()
			cfg.Steps, cfg.Threads, cfg.LogEvery = tc.steps, 1, 0
			model := hashbag.NewRandom(tokenizerCfg, 4, 4, 1)
			before := append([]float32(nil), model.Proj...)
			st := New(w.Topics, cfg, model, slog.New(slog.NewTextHandler(io.Discard, nil)))
			if err := pipeline.Run(ctx, w, st.Stage); err != nil {
				t.Fatal(err)
			}
			if st.Result.Steps != tc.want {
				t.Errorf("steps = %d, want %d", st.Result.Steps, tc.want)
			}
			if st.Result.Truncated != 2*tc.pairs {
				t.Errorf("%d texts trained on, want %d (%d pairs)", st.Result.Truncated, 2*tc.pairs, tc.pairs)
			}
			changed := false
			for i := range before {
				changed = changed || before[i] != model.Proj[i]
			}
			if !changed {
				t.Error("the model's projection is unchanged after training")
			}
			if got := st.Stage.Counts.Snapshot(); got.In != rows || got.Out != rows || got.Dead != 0 {
				t.Errorf("counts = %+v, want In = Out = %d", got, rows)
			}
		})
	}
}
