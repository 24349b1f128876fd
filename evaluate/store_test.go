package evaluate

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"xling/dataset"
	"xling/internal/testenv"
	"xling/pipeline"
	"xling/sinks/pgstore/pgtest"
)

// With a store configured, the store stage leaves PostgreSQL holding exactly the embeddings of the run's
// Parquet table: the same keys, the same vectors bit for bit.
func TestStoreHoldsTheRunsEmbeddings(t *testing.T) {
	pg := pgtest.Start(t)
	cfg := Config{
		DataDir: testenv.DataDir(t), OutDir: t.TempDir(), Datasets: []string{dataset.XQuADR}, Langs: map[string][]string{dataset.XQuADR: {"en", "th"}},
		Model: smallModel(t), ModelName: "small", RunID: "store", TopK: 3, StoreDSN: pipeline.Secret(pg.DSN()),
		ORTLibrary: testenv.ORTLibrary(t), Progress: time.Hour,
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	res, err := Run(ctx, cfg, quiet())
	if err != nil {
		t.Fatal(err)
	}
	if p := Reconcile(res.Counts); len(p) > 0 {
		t.Errorf("books do not balance: %v", p)
	}
	want := pg.HoldsTable(t, filepath.Join(res.Dir, "embeddings.parquet"))
	for _, c := range res.Counts {
		if c.Stage == Store && c.Emitted != int64(want) {
			t.Errorf("store emitted %d rows, want %d", c.Emitted, want)
		}
	}
}
