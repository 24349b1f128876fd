package pgstore_test

import (
	"context"
	"log"
	"os"
	"time"

	"xling/sinks"
	"xling/sinks/pgstore"
)

// A store stage's worker: open once, write each batch of rows before committing its offsets, close.
func Example() {
	ctx := context.Background()
	w, err := pgstore.Open(ctx, pgstore.Config{DSN: os.Getenv("XLING_PG_DSN"), RetryFor: 2 * time.Minute})
	if err != nil {
		log.Fatal(err)
	}
	defer w.Close()
	rows := []sinks.EmbeddingRow{
		{RunID: "r1", Model: "hashbag", Dataset: "xquad", ItemID: "sw/q/kili-1", Lang: "sw", Kind: "query", Vector: []float32{0.6, 0.8}},
		{RunID: "r1", Model: "hashbag", Dataset: "xquad", ItemID: "sw/c/0.0.1", Lang: "sw", Kind: "candidate", Vector: []float32{0.8, 0.6}},
	}
	if err := w.Write(ctx, rows); err != nil {
		ok, lastErr := w.Healthy() // what /healthz reports
		log.Fatal(err, ok, lastErr)
	}
}
