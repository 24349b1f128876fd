package training

import (
	"context"
	"io"
	"log/slog"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/parquet-go/parquet-go"

	"xling/batching"
	"xling/internal/testenv"
	"xling/pipeline"
	"xling/sinks"
	"xling/train"
)

// A second training run against the same cluster, holding out other languages, trains on its own
// published groups only: the first run's groups (which hold its held-out languages) stay on the topics but
// carry the first run's id.
func TestRunsSharingAClusterTrainOnTheirOwnData(t *testing.T) {
	data := testenv.DataDir(t)
	b, err := pipeline.Embedded("127.0.0.1:0", 1)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	langs := map[string]map[string]bool{}
	for _, run := range []struct {
		id      string
		holdout []string
	}{{"first", []string{"el", "th"}}, {"second", []string{"de", "th"}}} {
		strat, err := batching.ParseStrategy("cross")
		if err != nil {
			t.Fatal(err)
		}
		tcfg := train.DefaultConfig()
		tcfg.Steps, tcfg.LogEvery, tcfg.Threads = 3, 0, 1
		dir := t.TempDir()
		cfg := Config{
			DataDir: data, QA: "mlqa-r", Holdout: run.holdout, Strategy: strat.String(), Dim: 8,
			Sampling: batching.Config{Strategy: strat, BatchSize: 32, Buffer: 256, Seed: 1, MaxBatches: 20},
			Train:    tcfg, Out: filepath.Join(dir, "m.onnx"), Brokers: b.Addrs, RunID: run.id,
			BatchesParquet: filepath.Join(dir, "batches.parquet"),
		}
		res, err := Run(ctx, cfg, log)
		if err != nil {
			t.Fatalf("run %s: %v", run.id, err)
		}
		if a, tr := res.Counts["assemble"], res.Counts["train"]; tr.In != a.Emitted {
			t.Errorf("run %s: train read %d pairs, assemble emitted %d", run.id, tr.In, a.Emitted)
		}
		rows, err := parquet.ReadFile[sinks.TrainingRow](cfg.BatchesParquet)
		if err != nil {
			t.Fatal(err)
		}
		if len(rows) != 20*32 {
			t.Errorf("run %s: %d pairs in the batches table, want 20 batches of 32", run.id, len(rows))
		}
		langs[run.id] = map[string]bool{}
		for _, r := range rows {
			langs[run.id][r.QueryLang], langs[run.id][r.PassageLang] = true, true
		}
	}
	if !langs["first"]["de"] {
		t.Fatalf("the first run should train on de: %v", langs["first"])
	}
	for l := range langs["second"] {
		if slices.Contains([]string{"de", "th"}, l) {
			t.Errorf("the second run trained on %s, which it holds out (the first run's groups leaked in)", l)
		}
	}
}
