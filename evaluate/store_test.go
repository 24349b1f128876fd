package evaluate

import (
	"context"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/parquet-go/parquet-go"

	"xling/dataset"
	"xling/internal/testenv"
	"xling/sinks"
	"xling/sinks/pgstore/pgtest"
)

// With a store configured, the store stage leaves PostgreSQL holding exactly the embeddings of the run's
// Parquet table: the same keys, the same vectors bit for bit.
func TestStoreHoldsTheRunsEmbeddings(t *testing.T) {
	pg := pgtest.Start(t)
	cfg := Config{
		DataDir: testenv.DataDir(t), OutDir: t.TempDir(), Datasets: []string{dataset.XQuADR}, Langs: map[string][]string{dataset.XQuADR: {"en", "th"}},
		Model: smallModel(t), ModelName: "small", RunID: "store", TopK: 3, StoreDSN: pg.DSN(),
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
	want, err := parquet.ReadFile[sinks.EmbeddingRow](filepath.Join(res.Dir, "embeddings.parquet"))
	if err != nil {
		t.Fatal(err)
	}
	conn, err := pgx.Connect(ctx, pg.DSN())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	rows, err := conn.Query(ctx, `SELECT model, dataset, item_id, lang, kind, vector FROM embeddings`)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string][]float32{}
	for rows.Next() {
		var r sinks.EmbeddingRow
		if err := rows.Scan(&r.Model, &r.Dataset, &r.ItemID, &r.Lang, &r.Kind, &r.Vector); err != nil {
			t.Fatal(err)
		}
		got[r.Key()] = r.Vector
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if len(got) != len(want) || len(want) == 0 {
		t.Fatalf("PostgreSQL holds %d embeddings, the Parquet table %d", len(got), len(want))
	}
	for _, w := range want {
		if v, ok := got[w.Key()]; !ok || !slices.Equal(v, w.Vector) {
			t.Fatalf("%s: stored %v (present %v), Parquet %v", w.ItemID, v, ok, w.Vector)
		}
	}
	for _, c := range res.Counts {
		if c.Stage == Store && c.Emitted != int64(len(want)) {
			t.Errorf("store emitted %d rows, want %d", c.Emitted, len(want))
		}
	}
}
