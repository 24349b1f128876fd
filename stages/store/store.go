// Package store is the stage that feeds an embedding store: it upserts every embedding into PostgreSQL
// (sinks/pgstore), keyed by (model, dataset, item id, language, kind), so a replay leaves the same rows.
package store

import (
	"context"

	"xling/pipeline"
	"xling/schemas"
	"xling/sinks"
)

// Writer is where embeddings go: pgstore.Writer, or a stand-in in tests.
type Writer interface {
	Write(ctx context.Context, rows []sinks.EmbeddingRow) error
}

// Stage returns the store stage. A message's rows are stored before Process returns, so its offset may be
// committed as soon as it is handled: the stage is always settled.
func Stage(topics pipeline.Topics, w Writer, conv func(schemas.Record) sinks.EmbeddingRow) *pipeline.Stage[schemas.Record] {
	return &pipeline.Stage[schemas.Record]{
		Name: "store", Input: topics.Embeddings(),
		Process: func(ctx context.Context, _ string, rows []schemas.Record, o *pipeline.Output) error {
			out := make([]sinks.EmbeddingRow, 0, len(rows))
			for i, r := range rows {
				row := conv(r)
				if err := sinks.Validate(row); err != nil {
					o.Reject(i, r, err)
					continue
				}
				out = append(out, row)
			}
			if err := w.Write(ctx, out); err != nil {
				return err // not committed: a restart stores them again
			}
			o.Land(len(out))
			return nil
		},
		Settled: func() bool { return true },
	}
}
