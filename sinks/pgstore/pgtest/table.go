package pgtest

import (
	"context"
	"errors"
	"slices"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/parquet-go/parquet-go"

	"xling/sinks"
)

// HoldsTable fails t unless the cluster's embeddings table holds exactly the rows of the Parquet
// embeddings table at path: one row per key, none missing, none twice, every vector bit for bit. It
// returns how many rows that is.
func (c *Cluster) HoldsTable(t testing.TB, path string) int {
	t.Helper()
	want, err := parquet.ReadFile[sinks.EmbeddingRow](path)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, c.dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	rows, err := conn.Query(ctx, `SELECT model, dataset, item_id, lang, kind, vector FROM embeddings`)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string][]float32{}
	n := 0
	for rows.Next() {
		var r sinks.EmbeddingRow
		if err := rows.Scan(&r.Model, &r.Dataset, &r.ItemID, &r.Lang, &r.Kind, &r.Vector); err != nil {
			t.Fatal(err)
		}
		got[r.Key()] = r.Vector
		n++
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if len(want) == 0 || n != len(want) || len(got) != len(want) {
		t.Fatalf("PostgreSQL holds %d rows (%d keys), the Parquet table %s %d", n, len(got), path, len(want))
	}
	for _, w := range want {
		if v, ok := got[w.Key()]; !ok || !slices.Equal(v, w.Vector) {
			t.Fatalf("%s: stored %v (present %v), the Parquet table has %v", w.ItemID, v, ok, w.Vector)
		}
	}
	return len(want)
}

// Rows counts the rows of the cluster's embeddings table: 0 before the table exists.
func (c *Cluster) Rows(t testing.TB) int {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, c.dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var n int
	err = conn.QueryRow(ctx, `SELECT count(*) FROM embeddings`).Scan(&n)
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == "42P01" /* undefined_table */ {
		return 0
	}
	if err != nil {
		t.Fatal(err)
	}
	return n
}
